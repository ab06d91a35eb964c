"""raterd under systemd's notify protocol (CONTRACT.md section 6), with a real
datagram socket standing in for systemd: READY=1 only once storage and
sockets are ready (the control socket answers), STATUS=, WATCHDOG=1 at least
twice per WATCHDOG_USEC, STOPPING=1 on SIGTERM, then exit 0."""
import os
import signal
import socket
import time
import unittest

from harness import DaemonTestCase, fb, now_ms


class NotifySocket:
    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)

    def messages(self, timeout):
        """Every datagram within timeout, each as a list of (time, line)."""
        out = []
        deadline = time.monotonic() + timeout
        for _ in range(10000):
            if time.monotonic() >= deadline:
                break
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            out.extend((time.monotonic(), line) for line in data.decode().split("\n") if line)
        return out

    def wait_for(self, want, timeout=10):
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages(0.25)
            seen.extend(line for _, line in got)
            for t, line in got:
                if line.startswith(want):
                    return t, seen
        raise AssertionError("no %r within %ss; got %r" % (want, timeout, seen))

    def close(self):
        self.sock.close()
        os.unlink(self.path)


class NotifyTest(DaemonTestCase):
    def test_ready_watchdog_stopping(self):
        path = "/tmp/rit-notify-%d-%d" % (os.getpid(), now_ms())
        ns = NotifySocket(path)
        self.addCleanup(ns.close)
        d = self.daemon(start=False, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "600000"})
        d.start()                          # returns once status answers
        _, seen = ns.wait_for("READY=1", timeout=5)
        # STATUS= comes with READY=1 and names where the state lives.
        self.assertTrue(any(l.startswith("STATUS=") and d.state_dir in l for l in seen), seen)
        # The watchdog wants a ping at least every 600 ms: raterd pings at
        # half of that or more often.
        pings = [t for t, line in ns.messages(2.0) if line == "WATCHDOG=1"]
        self.assertGreaterEqual(len(pings), 5, "WATCHDOG=1 pings in 2 s: %d" % len(pings))
        self.assertLess(max(b - a for a, b in zip(pings, pings[1:])), 0.6)
        # Still serving while notifying.
        self.assertEqual(d.ack(fb("n1", 5))["status"], "ok")
        d.expected_exit = True
        d.proc.send_signal(signal.SIGTERM)
        ns.wait_for("STOPPING=1", timeout=5)
        self.assertEqual(d.proc.wait(10), 0)

    def test_no_ready_before_storage(self):
        # A state dir that cannot be created: no READY=1, a clear error, exit
        # non-zero.
        path = "/tmp/rit-notify-%d-%d-b" % (os.getpid(), now_ms())
        ns = NotifySocket(path)
        self.addCleanup(ns.close)
        d = self.daemon(start=False, env={"NOTIFY_SOCKET": path}, state_dir="/proc/raterd-cannot-be-here")
        with self.assertRaises(Exception):
            d.start()
        self.assertNotIn("READY=1", [l for _, l in ns.messages(1.0)])
        self.assertNotEqual(d.proc.wait(5), 0)
        d.expected_exit = True


if __name__ == "__main__":
    unittest.main()
