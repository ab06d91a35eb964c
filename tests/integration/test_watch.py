"""tests/integration/test_watch.py: the real rater-watch against a Python
alert publisher speaking CONTRACT.md section 4 (topic
`alert.<severity>.<rule>`, then a msgpack map).

The publisher is an XPUB bound on 127.0.0.1: it is a PUB that also hands us
the subscriptions, so every test waits until rater-watch's prefixes have
arrived (nothing published afterwards is lost to the slow joiner, also in
--exec mode where nothing is printed) and checks which prefixes it asked for.

Environment: RATER_WATCH (binary, default build/clients/rater-watch);
RATER_WATCH_WRAPPER, e.g. "valgrind --leak-check=full --error-exitcode=1",
runs it under a wrapper (time limits are then multiplied by RATER_WATCH_SLOW,
default 1, or 3 when a wrapper is set).
"""
import json
import math
import os
import queue
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import msgpack
import zmq

from harness import _child_env, _pdeathsig, free_port, now_ms, require_binary, wait_until

RATER_WATCH = os.environ.get("RATER_WATCH", "build/clients/rater-watch")
WRAPPER = shlex.split(os.environ.get("RATER_WATCH_WRAPPER", ""))
SLOW = float(os.environ.get("RATER_WATCH_SLOW", "3" if WRAPPER else "1"))

LINE_TIMEOUT = 5.0 * SLOW
STOP_TIMEOUT = 10.0 * SLOW
SEVERITY_PREFIXES = {"alert.info.", "alert.warning.", "alert.critical."}

_ids = iter(range(1, 1 << 30))


def alert(rule="csat-drop", severity="warning", state="firing", scope="team:billing", **over):
    """A threshold alert with every field of CONTRACT.md section 4."""
    now = now_ms()
    a = {
        "v": 1, "id": "n-%d" % next(_ids), "kind": "threshold", "rule": rule,
        "scope": scope, "index": "csat", "window": "1h", "value": 72.5,
        "threshold": 80.0, "clear": 85.0, "op": "below", "state": state,
        "severity": severity, "samples": 31, "since": now - 60_000, "ts": now,
    }
    a.update(over)
    return a


def breach(ticket="T-1", severity="critical", **over):
    """An sla_breach alert ([sla] breach_alert): rule sla-breach, a ticket."""
    return alert(rule="sla-breach", severity=severity, kind="sla_breach", index="frt_p90",
                 value=5400.0, threshold=3600.0, clear=3600.0, op="above", ticket=ticket, **over)


class AlertPub:
    """raterd's alert PUB socket, played by an XPUB bound on loopback."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 0)
        # Every subscription is passed on, also one a closing subscriber
        # still holds, so a second rater-watch's prefixes are always seen.
        self.sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.sock.bind(self.endpoint)
        self.subscribed = set()

    def subscription_events(self, timeout):
        """(subscribe?, prefix) of what arrives within timeout seconds."""
        events = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return events
            frame = self.sock.recv()
            events.append((frame[:1] == b"\x01", frame[1:].decode()))

    def wait_subscribed(self, want, timeout=LINE_TIMEOUT):
        """Waits until exactly the prefixes want are subscribed."""
        want = set(want)
        deadline = time.monotonic() + timeout
        while not want <= self.subscribed and time.monotonic() < deadline:
            for sub, prefix in self.subscription_events(0.05):
                (self.subscribed.add if sub else self.subscribed.discard)(prefix)
        for sub, prefix in self.subscription_events(0.2):  # anything more?
            (self.subscribed.add if sub else self.subscribed.discard)(prefix)
        if self.subscribed != want:
            raise AssertionError("subscriptions %r, want %r" % (sorted(self.subscribed), sorted(want)))

    def send(self, a, topic=None):
        if topic is None:
            topic = "alert.%s.%s" % (a["severity"], a["rule"])
        self.send_frames([topic.encode(), msgpack.packb(a, use_bin_type=True)])

    def send_frames(self, frames):
        self.sock.send_multipart([f.encode() if isinstance(f, str) else f for f in frames])

    def close(self):
        self.ctx.destroy(linger=0)


class Watcher:
    """One rater-watch process; stdout lines are collected by a thread with
    their arrival time, stderr goes to a file."""

    def __init__(self, args, env=None, tmp=None):
        require_binary(RATER_WATCH, "rater-watch")
        self.err_path = os.path.join(tmp, "stderr-%d" % next(_ids))
        self.argv = WRAPPER + [RATER_WATCH] + list(args)
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, env=_child_env(env), preexec_fn=_pdeathsig)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put((time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))
        self.lines.put((time.monotonic(), None))  # end of output

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def timed_line(self, timeout=LINE_TIMEOUT):
        """(arrival time, line) of the next stdout line."""
        try:
            t, line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no output line within %.1fs (running: %s); stderr:\n%s"
                                 % (timeout, self.proc.poll() is None, self.stderr())) from None
        if line is None:
            raise AssertionError("rater-watch closed its output (exit %r); stderr:\n%s"
                                 % (self.proc.poll(), self.stderr()))
        return t, line

    def line(self, timeout=LINE_TIMEOUT):
        return self.timed_line(timeout)[1]

    def json_line(self, timeout=LINE_TIMEOUT):
        line = self.line(timeout)
        try:
            return json.loads(line)
        except ValueError:
            raise AssertionError("not a JSON line: %r" % line) from None

    def assert_no_line(self, seconds=0.3):
        """No line within seconds (the end of the output is no line)."""
        try:
            item = self.lines.get(timeout=seconds)
        except queue.Empty:
            return
        if item[1] is None:
            self.lines.put(item)
            return
        raise AssertionError("unexpected output line %r" % item[1])

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig; returns (exit code, seconds it took)."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("rater-watch did not exit within %.0fs of %s; stderr:\n%s"
                                 % (timeout, sig.name, self.stderr())) from None
        return rc, time.monotonic() - t0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.reader.join(5)
        self.proc.stdout.close()


class WatchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rwt-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pub = AlertPub()
        self.addCleanup(self.pub.close)

    def watch(self, *args, env=None, subscriptions=("alert.",), endpoint=True):
        """Starts rater-watch on the publisher and waits for its prefixes."""
        args = list(args) + (["-e", self.pub.endpoint] if endpoint else [])
        w = Watcher(args, env=env, tmp=self.tmp)
        self.addCleanup(w.close)
        self.pub.wait_subscribed(subscriptions)
        return w

    def stop_ok(self, w, sig=signal.SIGTERM):
        rc, took = w.stop(sig)
        self.assertEqual(rc, 0, "exit code after %s; stderr:\n%s" % (sig.name, w.stderr()))
        return took

    def path(self, name):
        return os.path.join(self.tmp, name)

    def read_lines(self, name):
        try:
            with open(self.path(name)) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    # ---------------------------------------------------------- output

    def test_readable_line(self):
        """Default output: one line per alert with time, state, severity,
        rule, scope, index(window)=value op threshold, ticket when present."""
        w = self.watch()
        a = alert(scope="team:billing")
        self.pub.send(a)
        line = w.line()
        for part in ("FIRING", "warning", "csat-drop", "team:billing", "csat(1h)=72.50", "below 80",
                     "(clear 85)", "samples=31"):
            self.assertIn(part, line)
        self.assertNotIn("ticket", line)
        self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")

        self.pub.send(alert(state="resolved", value=86.0, scope="team:x"))
        line = w.line()
        self.assertIn("RESOLVED", line)
        self.assertIn("team:x", line)
        self.assertIn("csat(1h)=86.00", line)

        self.pub.send(breach(ticket="T-42"))
        line = w.line()
        for part in ("FIRING", "critical", "sla-breach", "sla_breach", "ticket=T-42"):
            self.assertIn(part, line)

        # Control characters from the wire cannot split or forge lines.
        self.pub.send(alert(scope="team:a\nFIRING fake\r"))
        line = w.line()
        self.assertIn("team:a?FIRING fake?", line)
        w.assert_no_line()
        self.stop_ok(w)

    def test_json_lines_carry_every_field(self):
        """--json: one object per line, every payload field with its type,
        unknown and nested fields too; NaN becomes null."""
        w = self.watch("--json")
        sent = [alert(), breach(ticket="T-7"),
                alert(rule="nps-low", severity="info", state="resolved", value=-12.25, samples=2 ** 64 - 1,
                      extra={"nested": [1, 2.5, None, True, "x/y"]}, note=None)]
        for a in sent:
            self.pub.send(a)
        for a in sent:
            got = w.json_line()
            self.assertEqual(got, a)
            for k, v in a.items():
                self.assertIs(type(got[k]), type(v), "type of %s: %r" % (k, got[k]))
        self.pub.send(alert(value=math.nan))
        self.assertIsNone(w.json_line()["value"])
        self.stop_ok(w)

    # ---------------------------------------------------------- filters

    def test_severity_means_that_severity_and_higher(self):
        w = self.watch("--json", "--severity", "warning",
                       subscriptions={"alert.warning.", "alert.critical."})
        for sev in ("info", "warning", "critical", "info"):
            self.pub.send(alert(severity=sev, id="sev-" + sev))
        self.assertEqual([w.json_line()["severity"] for _ in range(2)], ["warning", "critical"])
        w.assert_no_line()
        self.stop_ok(w)

    def test_severity_critical_only(self):
        w = self.watch("--json", "-s", "critical", subscriptions={"alert.critical."})
        self.pub.send(alert(severity="warning"))
        self.pub.send(alert(severity="critical"))
        self.assertEqual(w.json_line()["severity"], "critical")
        w.assert_no_line()
        self.stop_ok(w)

    def test_rule_is_exact(self):
        """--rule csat subscribes alert.<sev>.csat, which ZeroMQ also matches
        for csat-drop: rater-watch must drop those itself."""
        w = self.watch("--json", "--rule", "csat",
                       subscriptions={p + "csat" for p in SEVERITY_PREFIXES})
        self.pub.send(alert(rule="csat-drop"))
        self.pub.send(alert(rule="csat_x", severity="critical"))
        self.pub.send(alert(rule="nps"))
        self.pub.send(alert(rule="csat", id="want"))
        self.assertEqual(w.json_line()["id"], "want")
        w.assert_no_line()
        self.stop_ok(w)

    def test_rule_and_severity_combine(self):
        w = self.watch("--json", "--rule", "csat", "--rule", "sla-breach", "--severity", "warning",
                       subscriptions={"alert.warning.csat", "alert.critical.csat",
                                      "alert.warning.sla-breach", "alert.critical.sla-breach"})
        self.pub.send(alert(rule="csat", severity="info"))
        self.pub.send(alert(rule="csat-drop", severity="critical"))
        self.pub.send(alert(rule="csat", severity="critical", id="a"))
        self.pub.send(breach(severity="warning", id="b"))
        self.assertEqual([w.json_line()["id"] for _ in range(2)], ["a", "b"])
        w.assert_no_line()
        self.stop_ok(w)

    # ---------------------------------------------------------- --exec

    def test_exec_environment(self):
        """Fields as RATER_<KEY>, the alert as RATER_JSON; an inherited
        RATER_TICKET never leaks into an alert without a ticket; nothing is
        printed with --exec alone."""
        out, js = shlex.quote(self.path("out")), shlex.quote(self.path("json"))
        cmd = ('printf "%%s|%%s|%%s|%%s|%%s|%%s|%%s\\n" "$RATER_ID" "$RATER_RULE" "$RATER_SCOPE" "$RATER_STATE" '
               '"${RATER_TICKET-unset}" "$RATER_VALUE" "$RATER_SEVERITY" >> %s; '
               'printf "%%s\\n" "$RATER_JSON" >> %s' % (out, js))
        w = self.watch("--exec", cmd, env={"RATER_TICKET": "stale", "RATER_OTHER": "kept"})
        a, b = alert(id="x1", scope="team:billing"), breach(id="x2", ticket="T-7", scope="agent:ann")
        self.pub.send(a)
        self.pub.send(b)
        lines = wait_until(lambda: len(self.read_lines("out")) >= 2 and self.read_lines("out"),
                           LINE_TIMEOUT, msg="two commands ran")
        self.assertEqual(sorted(lines), [
            "x1|csat-drop|team:billing|firing|unset|72.5|warning",
            "x2|sla-breach|agent:ann|firing|T-7|5400|critical",
        ])
        by_id = {j["id"]: j for j in map(json.loads, self.read_lines("json"))}
        self.assertEqual(by_id, {"x1": a, "x2": b})
        self.stop_ok(w)
        w.assert_no_line(0.1)  # --exec without --json prints nothing (then EOF)

    def test_exec_with_json_prints_and_runs(self):
        w = self.watch("--json", "--exec", 'echo "$RATER_TOPIC" >> %s' % shlex.quote(self.path("out")))
        self.pub.send(alert(id="j1"))
        self.assertEqual(w.json_line()["id"], "j1")
        wait_until(lambda: self.read_lines("out") == ["alert.warning.csat-drop"], LINE_TIMEOUT,
                   msg="RATER_TOPIC written")
        self.stop_ok(w)

    def test_slow_command_does_not_delay_next_alerts(self):
        started = shlex.quote(self.path("started"))
        w = self.watch("--json", "--exec", 'echo "$RATER_ID" >> %s; sleep 3' % started)
        self.pub.send(alert(id="slow-0"))
        self.assertEqual(w.json_line()["id"], "slow-0")
        wait_until(lambda: "slow-0" in self.read_lines("started"), LINE_TIMEOUT, msg="first command started")
        for i in range(1, 4):
            t0 = time.monotonic()
            self.pub.send(alert(id="slow-%d" % i))
            t, got = w.timed_line()
            self.assertEqual(json.loads(got)["id"], "slow-%d" % i)
            self.assertLess(t - t0, 1.0 * SLOW, "alert %d printed %.2fs after it was sent" % (i, t - t0))
            wait_until(lambda: "slow-%d" % i in self.read_lines("started"), 1.0 * SLOW,
                       msg="command of alert %d started while the others sleep" % i)
        took = self.stop_ok(w)  # running commands get 2 s, then SIGTERM
        self.assertLess(took, 2.0 + 3.0 * SLOW)

    def test_command_queue_is_bounded(self):
        """16 commands run, 1024 alerts wait, the rest are dropped and
        counted; printing never stops; SIGTERM ends the running commands."""
        pids = shlex.quote(self.path("pids"))
        w = self.watch("--json", "--exec", "echo $$ >> %s; exec sleep 60" % pids)
        n = 16 + 1024 + 20
        for i in range(n):
            self.pub.send(alert(id="q-%d" % i))
        for i in range(n):
            self.assertEqual(w.json_line()["id"], "q-%d" % i)
        wait_until(lambda: len(self.read_lines("pids")) == 16, LINE_TIMEOUT, msg="16 commands running")
        self.assertIn("dropped", w.stderr())
        rc, took = w.stop()
        err = w.stderr()
        self.assertEqual(rc, 0, err)
        self.assertIn("1024 queued commands not run", err)
        self.assertIn("terminating 16 running commands", err)
        self.assertIn("20 alerts dropped", err)
        self.assertEqual(len(self.read_lines("pids")), 16, "no queued command ran at exit")

        def gone(pid):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except FileNotFoundError:
                return True
        wait_until(lambda: all(gone(int(p)) for p in self.read_lines("pids")), 5.0,
                   msg="the commands were terminated")

    def test_failing_command_is_a_warning(self):
        w = self.watch("--json", "--exec", "exit 3")
        self.pub.send(alert(id="f1"))
        self.assertEqual(w.json_line()["id"], "f1")
        wait_until(lambda: "exited with status 3" in w.stderr(), LINE_TIMEOUT, msg="warning")
        self.pub.send(alert(id="f2"))
        self.assertEqual(w.json_line()["id"], "f2")
        self.stop_ok(w)

    # ---------------------------------------------------------- robustness

    def test_malformed_messages_are_skipped(self):
        w = self.watch("--json")
        deep = b"\x91" * 100 + b"\xc0"
        bad = [
            [b"alert.warning.x"],                                    # one frame
            [b"alert.warning.x", b"not msgpack at all"],            # trailing bytes
            [b"alert.warning.x", b"\xc1"],                          # never-used byte
            [b"alert.warning.x", b""],                              # empty payload
            [b"alert.warning.x", msgpack.packb([1, 2, 3])],         # not a map
            [b"alert.warning.x", msgpack.packb(42)],                # not a map
            [b"alert.warning.x", msgpack.packb(alert())[:-3]],      # truncated
            [b"alert.warning.x", b"\xdd\xff\xff\xff\xff"],          # 2^32-1 elements claimed
            [b"alert.warning.x", b"\x81\xa1k" + deep],              # nested 100 deep
            [b"alert.warning.x", msgpack.packb({1: "x"})],          # key not a string
            [b"alert.warning.x", b"\x81\xa1k\xa2\xff\xfe"],         # string not UTF-8
            [b"alert.warning.x", msgpack.packb(alert()), b"third"],  # three frames
            [b"alert.nodot", msgpack.packb(alert())],               # topic without rule
            [b"alert.warning.", msgpack.packb(alert())],            # empty rule
        ]
        for frames in bad:
            self.pub.send_frames(frames)
        self.pub.send(alert(id="good"))
        self.assertEqual(w.json_line()["id"], "good")
        self.assertIsNone(w.proc.poll())
        warnings = [l for l in w.stderr().splitlines() if "warning" in l]
        self.assertGreaterEqual(len(warnings), 1)
        self.assertLessEqual(len(warnings), 2, "rate-limited:\n%s" % "\n".join(warnings))
        self.stop_ok(w)
        self.assertIn("%d malformed messages ignored" % len(bad), w.stderr())

    def test_oversized_payload_is_skipped(self):
        """A payload over 64 KiB is skipped with a warning; the connection
        stays (libzmq's own size limit would drop it for good)."""
        w = self.watch("--json")
        self.pub.send(alert(id="big", scope="x" * (2 << 20)))
        self.pub.send(alert(id="after"))
        self.assertEqual(w.json_line()["id"], "after")
        self.assertIn("larger than 64 KiB", w.stderr())
        self.stop_ok(w)

    # ---------------------------------------------------------- process

    def test_sigterm_and_sigint_exit_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            w = self.watch()
            self.pub.send(alert())
            w.line()
            self.assertLess(self.stop_ok(w, sig), 2.0 * SLOW)
            self.pub.subscribed.clear()

    def test_endpoint_from_environment(self):
        w = self.watch("--json", env={"RATERD_ALERTS": self.pub.endpoint}, endpoint=False)
        self.pub.send(alert(id="env"))
        self.assertEqual(w.json_line()["id"], "env")
        self.stop_ok(w)

    def test_exit_codes(self):
        require_binary(RATER_WATCH, "rater-watch")

        def run(*args):
            p = subprocess.run(WRAPPER + [RATER_WATCH] + list(args), capture_output=True, text=True,
                               timeout=STOP_TIMEOUT, env=_child_env(), preexec_fn=_pdeathsig)
            return p.returncode, p.stdout, p.stderr

        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("or higher", out)
        self.assertIn("RATERD_ALERTS", out)
        for args, why in ((["--severity", "fatal"], "invalid severity"),
                          (["--rule", "csat*"], "invalid rule name"),
                          (["--rule", ""], "invalid rule name"),
                          (["--exec", ""], "empty --exec"),
                          (["--no-such-option"], "unrecognized option"),
                          (["extra"], "unexpected argument")):
            rc, _, err = run(*args)
            self.assertEqual(rc, 2, "%r: %s" % (args, err))
            self.assertIn(why, err)
        for endpoint in ("bogus", "tcp://127.0.0.1:notaport"):
            rc, _, err = run("-e", endpoint)
            self.assertEqual(rc, 1, err)
            self.assertIn("cannot connect", err)


if __name__ == "__main__":
    unittest.main()
