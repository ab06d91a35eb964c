"""raterd under systemd's notify protocol (CONTRACT.md section 6), with a real
datagram socket standing in for systemd: READY=1 only once storage and
sockets are ready (the control socket answers), STATUS=, WATCHDOG=1 at least
twice per WATCHDOG_USEC, STOPPING=1 on SIGTERM, then exit 0."""
import os
import signal
import socket
import threading
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


class SlowDiskTest(DaemonTestCase):
    def test_slow_commits_do_not_stop_the_loop(self):
        """A disk whose every fdatasync takes 1 s (a preloaded shim,
        tests/integration/slowsync.c; the writes stay real): while a flood of
        acknowledged events waits on those commits, the watchdog is still fed
        every half period, status answers at once, and every event is acked
        `ok` once durable and counted once."""
        lib = os.environ.get("SLOWSYNC_LIB", "")
        self.assertTrue(os.path.exists(lib), "SLOWSYNC_LIB not built: %r" % lib)
        path = "/tmp/rit-notify-%d-%d-s" % (os.getpid(), now_ms())
        ns = NotifySocket(path)
        self.addCleanup(ns.close)
        asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS", ""), "verify_asan_link_order=0") if o)
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "600000", "LD_PRELOAD": lib, "SLOWSYNC_MS": "1000",
               "ASAN_OPTIONS": asan}
        d = self.daemon("[ingest]\nbatch_max = 50\n", start=False, env=env)
        d.start()
        ns.wait_for("READY=1", timeout=10)
        n = 300
        acks = []
        sender = threading.Thread(target=lambda: acks.extend(
            d.send_reliable([fb("slow%d" % i, 1 + i % 5, team="slow") for i in range(n)], timeout=120.0)))
        sender.start()
        time.sleep(0.5)  # the first commits are under way
        latencies = []
        for _ in range(5):
            t0 = time.monotonic()
            st = d.status()
            latencies.append(time.monotonic() - t0)
            time.sleep(0.1)
        self.assertLess(st["events"]["applied"], n, "the flood must still be committing: %r" % st["events"])
        pings = [t for t, line in ns.messages(2.5) if line == "WATCHDOG=1"]
        sender.join(120)
        self.assertFalse(sender.is_alive())
        self.assertLess(max(latencies), 0.3, "status latencies while commits take 1 s: %r" % latencies)
        self.assertGreaterEqual(len(pings), 5, "WATCHDOG=1 pings in 2.5 s of slow commits: %d" % len(pings))
        self.assertLess(max(b - a for a, b in zip(pings, pings[1:])), 0.6, pings)
        self.assertEqual([a["status"] for a in acks], ["ok"] * n)
        self.assertEqual(d.status()["events"]["applied"], n)
        self.assertEqual(d.count("team:slow"), n)


if __name__ == "__main__":
    unittest.main()
