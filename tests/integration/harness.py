"""tests/integration/harness.py: run the real raterd for integration tests.

Only Debian's /usr/bin/python3 with python3-zmq and python3-msgpack.

    from harness import Daemon, fb, now_ms

    d = Daemon()                        # fresh temp dir, free ports, started
    acks = d.send_reliable([fb("e1", 5, team="a")])
    d.get("team:a", "1h")["indices"]["satisfaction"]
    d.stop()                            # SIGTERM, asserts exit code 0

Every Daemon is killed at interpreter exit (atexit, SIGTERM/SIGINT of the
test process) and its process gets PR_SET_PDEATHSIG, so a crashed or killed
test never leaves a raterd behind. Every wait is bounded in time and count.
Only 127.0.0.1 and ipc:// endpoints are used.

Alerts: d.subscribe() is a SUB on the daemon's alert PUB socket that
returns once connected; d.write_config(extra) rewrites the configuration
file (then SIGHUP with d.sighup() or `raterctl reload`).

Environment: RATERD, RATERCTL, RATER_PUB (binary paths), RATERD_WRAPPER (a
command line raterd runs under, such as valgrind), RATER_IT_KEEP=1
keeps the temp dirs, RATER_IT_VERBOSE=1 prints every daemon log at close.
"""
import atexit
import ctypes
import json
import shlex
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import msgpack
import zmq

RATERD = os.environ.get("RATERD", "build/daemon/raterd")
# A command line the daemon runs under, e.g. "valgrind -q --error-exitcode=99"
# (scripts/test.sh --valgrind): its errors turn a clean exit into a failure.
RATERD_WRAPPER = os.environ.get("RATERD_WRAPPER", "")
RATERCTL = os.environ.get("RATERCTL", "build/clients/raterctl")
RATER_PUB = os.environ.get("RATER_PUB", "build/clients/rater-pub")

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

MINUTE_MS = 60_000
HOUR_MS = 3_600_000

SATISFACTION_INDICES = (
    "feedback_count", "satisfaction", "csat", "nps",
    "rater.reliability", "rater.assurance", "rater.tangibles",
    "rater.empathy", "rater.responsiveness", "rater_index",
)

REJECT_REASONS = (
    "malformed", "not_a_map", "missing_field", "wrong_type", "out_of_range",
    "too_long", "unknown_topic", "bad_version", "too_old", "in_future",
    "too_large",
)


_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(text):
    """'500ms', '30s', '15m', '1h', '24h', '7d' -> milliseconds."""
    import re
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text)
    if not m:
        raise ValueError("not a duration: %r" % text)
    return int(m.group(1)) * _UNITS[m.group(2)]


def now_ms():
    return int(time.time() * 1000)


def free_port(exclude=()):
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in exclude:
            return port
    raise RuntimeError("no free port found")


def free_ports(n):
    """n distinct free ports."""
    ports = []
    for _ in range(n):
        ports.append(free_port(exclude=ports))
    return ports


def wait_until(predicate, timeout=5.0, interval=0.05, msg=None):
    """Polls predicate until it returns a true value, which is returned.
    Bounded in time and in iterations; raises AssertionError on timeout,
    with the last value (or exception) in the message."""
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / interval) + 2):
        try:
            last = predicate()
        except (TimeoutError, ConnectionError) as e:  # daemon busy/restarting
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError("%s: condition not met within %.1fs (last: %r)"
                         % (msg or "wait_until", timeout, last))


# ---------------------------------------------------------------- events

def event(kind, id, ts=None, topic=None, **fields):
    """(topic, payload dict) of an event; None fields are left out."""
    p = {"id": id, "ts": now_ms() if ts is None else ts}
    for k, v in fields.items():
        if v is not None:
            p[k] = v
    return (topic or kind, p)


def fb(id, score, scale=None, ts=None, team=None, agent=None, channel=None,
       nps=None, rater=None, topic=None, **extra):
    """A feedback event."""
    return event("feedback", id, ts=ts, topic=topic, score=score, scale=scale,
                 team=team, agent=agent, channel=channel, nps=nps,
                 rater=rater, **extra)


def frames_of(ev):
    """Wire frames of an event: (topic, dict) / (topic, bytes) / list of
    frames (sent as is)."""
    if isinstance(ev, list):
        return [f.encode() if isinstance(f, str) else f for f in ev]
    topic, payload = ev
    if isinstance(topic, str):
        topic = topic.encode()
    if not isinstance(payload, (bytes, bytearray)):
        payload = msgpack.packb(payload, use_bin_type=True)
    return [topic, bytes(payload)]


def id_of(ev):
    if isinstance(ev, tuple) and isinstance(ev[1], dict):
        return ev[1].get("id")
    return None


# -------------------------------------------------------------- cleanup

_live = []


def _cleanup_all():
    for d in list(_live):
        try:
            d.close()
        except Exception as e:  # keep cleaning the others
            print("harness: cleanup of %s failed: %r" % (d.tmp, e), file=sys.stderr)


atexit.register(_cleanup_all)


def _on_signal(signo, frame):
    _cleanup_all()
    sys.exit(128 + signo)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    try:
        signal.signal(_sig, _on_signal)
    except (ValueError, OSError):
        pass

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _pdeathsig():
    # PR_SET_PDEATHSIG = 1: the daemon gets SIGKILL when the test dies.
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def _child_env(extra=None):
    env = dict(os.environ)
    # Logs to stderr, no sd_notify to a parent's socket.
    for k in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
              "LISTEN_FDS", "LISTEN_PID", "INVOCATION_ID"):
        env.pop(k, None)
    if extra:
        env.update(extra)
    return env


def run(argv, timeout=20.0, env=None, input=None):
    """Runs a command; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run(argv, input=input, capture_output=True, text=True,
                       timeout=timeout, env=_child_env(env), preexec_fn=_pdeathsig)
    return p.returncode, p.stdout, p.stderr


def require_binary(path, what):
    """Fails (or skips with RATER_IT_SKIP_MISSING=1) when a binary is absent."""
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return
    msg = "%s binary not found at %r" % (what, path)
    if os.environ.get("RATER_IT_SKIP_MISSING") == "1":
        raise unittest.SkipTest(msg)
    raise AssertionError(msg)


class DaemonError(Exception):
    pass


# --------------------------------------------------------------- daemon

class Daemon:
    """One raterd in its own temp dir.

    extra_config is appended to the generated config (sections may repeat);
    config_text replaces the generated config entirely (then the endpoints
    must be passed in control= / ports= to be usable by the helpers)."""

    def __init__(self, extra_config="", *, config_text=None, start=True,
                 control=None, ports=None, state_dir=None, args=(), env=None):
        self.env = env  # extra environment for the daemon (e.g. NOTIFY_SOCKET)
        self.tmp = tempfile.mkdtemp(prefix="rit-", dir="/tmp")
        self.state_dir = state_dir or os.path.join(self.tmp, "state")
        self.control_ep = control or "ipc://%s/run/control" % self.tmp
        if ports is None:
            ports = free_ports(3)
        self.ingest_port, self.reliable_port, self.alerts_port = ports
        self.ingest_ep = "tcp://127.0.0.1:%d" % self.ingest_port
        self.reliable_ep = "tcp://127.0.0.1:%d" % self.reliable_port
        self.alerts_ep = "tcp://127.0.0.1:%d" % self.alerts_port
        self.config_path = os.path.join(self.tmp, "raterd.conf")
        self.log_path = os.path.join(self.tmp, "raterd.log")
        self.args = list(args)
        self.write_config(extra_config, config_text=config_text)
        self.ctx = zmq.Context()
        self.proc = None
        self.exits = []  # exit codes of earlier runs
        self.expected_exit = False
        _live.append(self)
        if start:
            self.start()

    def write_config(self, extra_config="", *, config_text=None):
        """(Re)writes the configuration file: the generated endpoints with
        extra_config appended, or config_text verbatim. A running daemon
        reads it again on SIGHUP (sighup()) or `raterctl reload`."""
        if config_text is None:
            config_text = (
                "[daemon]\n"
                "control = %s\n"
                "[ingest]\n"
                "bind = %s\n"
                "reliable_bind = %s\n"
                "[alerts]\n"
                "bind = %s\n" % (self.control_ep, self.ingest_ep, self.reliable_ep, self.alerts_ep)
            ) + extra_config
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(config_text)
        os.replace(tmp, self.config_path)

    # -- process ----------------------------------------------------------
    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")
        log.write(b"---- start ----\n")
        log.flush()
        self.expected_exit = False
        try:
            self.proc = subprocess.Popen(
                shlex.split(RATERD_WRAPPER)
                + [RATERD, "--config", self.config_path, "--state-dir", self.state_dir] + self.args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=_child_env(self.env),
                preexec_fn=_pdeathsig)
        finally:
            log.close()
        self.wait_ready()
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.05) + 2):
            rc = self.proc.poll()
            if rc is not None:
                raise DaemonError("raterd exited with %d during startup:\n%s" % (rc, self.log_tail()))
            try:
                r = self.control({"cmd": "status"}, timeout=0.5)
                if r.get("ok"):
                    return
            except TimeoutError:
                pass
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        raise DaemonError("raterd did not answer status within %.0fs:\n%s" % (timeout, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; asserts a prompt exit with code 0; returns the seconds
        it took."""
        assert self.alive(), "raterd is not running (exit %r)" % (self.proc and self.proc.poll())
        self.expected_exit = True
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("raterd did not exit within %.0fs of SIGTERM:\n%s" % (timeout, self.log_tail()))
        took = time.monotonic() - t0
        self.exits.append(rc)
        if rc != 0:
            raise AssertionError("raterd exited with %d after SIGTERM (want 0):\n%s" % (rc, self.log_tail()))
        return took

    def kill9(self):
        assert self.alive(), "raterd is not running"
        self.expected_exit = True
        self.proc.kill()
        rc = self.proc.wait(10)
        self.exits.append(rc)
        return rc

    def sighup(self):
        assert self.alive(), "raterd is not running"
        self.proc.send_signal(signal.SIGHUP)

    def restart(self):
        if self.alive():
            self.stop()
        return self.start()

    def close(self):
        """Kills the daemon if still running, closes sockets, removes the
        temp dir (kept on RATER_IT_KEEP=1). Idempotent."""
        if self in _live:
            _live.remove(self)
        died = False
        bad_exit = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    # SIGTERM must end raterd with 0 (CONTRACT section 6);
                    # under RATERD_WRAPPER=valgrind a memory error fails it too.
                    bad_exit = self.proc.wait(STOP_TIMEOUT) or None
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
                    bad_exit = "no exit within %.0fs" % STOP_TIMEOUT
            elif not self.expected_exit:
                died = True
        if died or bad_exit is not None or os.environ.get("RATER_IT_VERBOSE") == "1":
            print("\n---- raterd log (%s)%s ----\n%s" % (
                self.tmp, " (daemon died unexpectedly)" if died else "", self.log_tail(200)), file=sys.stderr)
        try:
            self.ctx.destroy(linger=0)
        except Exception:
            pass
        if os.environ.get("RATER_IT_KEEP") == "1":
            print("harness: kept %s" % self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

        if bad_exit is not None:
            raise AssertionError("raterd ended with %r after SIGTERM at close" % (bad_exit,))
        if died:
            raise AssertionError("raterd died unexpectedly with %r" % (self.proc.returncode,))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log().splitlines()[-n:])

    # -- sockets ------------------------------------------------------------
    def _socket(self, kind, endpoint=None, connect=True):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if endpoint and connect:
            s.connect(endpoint)
        return s

    def control(self, req, timeout=5.0, endpoint=None, raw=None):
        """One request on the control socket; returns the decoded answer
        ({"ok": ..., ...}); raises TimeoutError when nothing comes back."""
        s = self._socket(zmq.DEALER, endpoint or self.control_ep)
        try:
            s.send(raw if raw is not None else json.dumps(req).encode())
            if not s.poll(int(timeout * 1000)):
                raise TimeoutError("no answer from control socket in %.1fs" % timeout)
            frames = s.recv_multipart()
        finally:
            s.close(0)
        assert len(frames) == 1, "control answer has %d frames" % len(frames)
        return json.loads(frames[0].decode())

    def result(self, req, timeout=5.0):
        """A control request that must succeed; returns its result."""
        r = self.control(req, timeout=timeout)
        if not r.get("ok"):
            raise AssertionError("control %r failed: %r" % (req, r))
        return r["result"]

    def status(self):
        return self.result({"cmd": "status"})

    def get(self, scope, window="1h", indices=None):
        req = {"cmd": "get", "scope": scope, "window": window}
        if indices is not None:
            req["indices"] = list(indices)
        return self.result(req)

    def indices(self, scope, window="1h", indices=None):
        return self.get(scope, window, indices)["indices"]

    def count(self, scope="all", window="1h"):
        return self.indices(scope, window, ["feedback_count"])["feedback_count"]

    def top(self, index, by, window="1h", order=None, n=None, min_samples=None):
        req = {"cmd": "top", "index": index, "by": by, "window": window}
        if order is not None:
            req["order"] = order
        if n is not None:
            req["n"] = n
        if min_samples is not None:
            req["min_samples"] = min_samples
        return self.result(req)

    def send_reliable(self, events, timeout=10.0, socket_type=zmq.DEALER):
        """Sends each event (see frames_of) to the ROUTER and returns the acks
        (decoded maps) in arrival order; asserts one ack per event. REQ
        sockets go one event at a time."""
        msgs = [frames_of(e) for e in events]
        return self.send_reliable_frames(msgs, n_acks=len(msgs), timeout=timeout, socket_type=socket_type)

    def send_reliable_frames(self, msgs, n_acks=None, timeout=10.0, socket_type=zmq.DEALER,
                             allow_missing=False):
        n_acks = len(msgs) if n_acks is None else n_acks
        s = self._socket(socket_type)
        s.setsockopt(zmq.SNDHWM, 0)
        s.setsockopt(zmq.RCVHWM, 0)
        s.connect(self.reliable_ep)
        acks = []
        deadline = time.monotonic() + timeout
        try:
            if socket_type == zmq.REQ:
                for m in msgs:
                    s.send_multipart(m)
                    left = deadline - time.monotonic()
                    if left <= 0 or not s.poll(int(left * 1000)):
                        break
                    acks.append(self._decode_ack(s.recv_multipart()))
            else:
                for m in msgs:
                    s.send_multipart(m)
                for _ in range(n_acks):
                    left = deadline - time.monotonic()
                    if left <= 0 or not s.poll(int(left * 1000)):
                        break
                    acks.append(self._decode_ack(s.recv_multipart()))
        finally:
            s.close(0)
        if len(acks) < n_acks and not allow_missing:
            raise AssertionError("got %d of %d acks within %.0fs (daemon alive: %s)"
                                 % (len(acks), n_acks, timeout, self.alive()))
        return acks

    @staticmethod
    def _decode_ack(frames):
        assert len(frames) == 1, "ack has %d frames: %r" % (len(frames), frames)
        ack = msgpack.unpackb(frames[0], raw=False)
        assert isinstance(ack, dict), "ack is not a map: %r" % (ack,)
        return ack

    def ack(self, ev, timeout=10.0):
        """The single ack of one event."""
        return self.send_reliable([ev], timeout=timeout)[0]

    def publisher(self, endpoint=None, bind=False, timeout=5.0):
        """An XPUB connected to the daemon's SUB bind (or bound at endpoint
        for [ingest] connect), returned once the daemon's subscription
        arrived, so nothing published on it is lost to the slow joiner."""
        s = self._socket(zmq.XPUB)
        s.setsockopt(zmq.SNDHWM, 0)
        s.setsockopt(zmq.LINGER, 5000)
        if bind:
            s.bind(endpoint)
        else:
            s.connect(endpoint or self.ingest_ep)
            self.wait_subscription(s, timeout)
        return s

    @staticmethod
    def wait_subscription(s, timeout=5.0):
        if not s.poll(int(timeout * 1000)):
            s.close(0)
            raise AssertionError("no subscription from raterd's SUB within %.0fs" % timeout)
        sub = s.recv()
        assert sub[:1] == b"\x01", "unexpected subscription frame %r" % sub

    def publish(self, events, endpoint=None):
        """Fire-and-forget: publishes each event (see frames_of) on a fresh
        XPUB. Returns once the messages are handed to ZeroMQ and the
        socket is closed with linger (i.e. flushed)."""
        s = self.publisher(endpoint)
        try:
            for e in events:
                s.send_multipart(frames_of(e))
        finally:
            s.close(5000)

    def subscribe(self, topics=(b"alert.",), timeout=5.0):
        """An AlertSubscriber on the daemon's alert PUB socket, returned
        once connected (so the next notice is not lost to the slow
        joiner)."""
        return AlertSubscriber(self.ctx, self.alerts_ep, topics, timeout)

    def wait_count(self, want, scope="all", window="1h", timeout=5.0):
        """Waits until feedback_count of scope equals want."""
        return wait_until(lambda: self.count(scope, window) == want, timeout,
                          msg="feedback_count(%s, %s) == %d" % (scope, window, want))

    def wait_received(self, want, timeout=5.0):
        return wait_until(lambda: self.status()["events"]["received"] >= want, timeout,
                          msg="status events.received >= %d" % want)

    # -- clients ------------------------------------------------------------
    def raterctl(self, *args, timeout=20.0, env=None, control=True):
        """Runs the real raterctl with RATERD_CONTROL set; returns
        (exit code, stdout, stderr)."""
        require_binary(RATERCTL, "raterctl")
        e = {"RATERD_CONTROL": self.control_ep} if control else {}
        if env:
            e.update(env)
        return run([RATERCTL] + [str(a) for a in args], timeout=timeout, env=e)

    def rater_pub(self, *args, timeout=30.0, input=None, env=None):
        require_binary(RATER_PUB, "rater-pub")
        return run([RATER_PUB] + [str(a) for a in args], timeout=timeout, env=env, input=input)


class AlertSubscriber:
    """A SUB on raterd's alert PUB socket (CONTRACT.md section 4). recv()
    returns (topic, payload dict). A socket monitor tells when the
    connection (or a reconnection after a restart) is up."""

    GRACE = 0.2  # after the handshake, for the subscription to reach the PUB

    def __init__(self, ctx, endpoint, topics=(b"alert.",), timeout=5.0):
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        for t in topics:
            self.sock.setsockopt(zmq.SUBSCRIBE, t.encode() if isinstance(t, str) else t)
        self.mon = self.sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.sock.connect(endpoint)
        self.wait_connected(timeout)

    def wait_connected(self, timeout=5.0):
        """Waits for the next successful handshake with the daemon."""
        from zmq.utils.monitor import recv_monitor_message
        if not self.mon.poll(int(timeout * 1000)):
            raise AssertionError("alert subscriber: no connection within %.0fs" % timeout)
        recv_monitor_message(self.mon)
        time.sleep(self.GRACE)

    def recv(self, timeout=5.0):
        """The next notice as (topic, dict); AssertionError on timeout."""
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError("no alert within %.1fs" % timeout)
        frames = self.sock.recv_multipart()
        assert len(frames) == 2, "alert has %d frames: %r" % (len(frames), frames)
        payload = msgpack.unpackb(frames[1], raw=False)
        assert isinstance(payload, dict), "alert payload is not a map: %r" % (payload,)
        return frames[0].decode(), payload

    def recv_all(self, quiet=0.5, timeout=10.0):
        """Every notice until none came for `quiet` seconds (bounded)."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.sock.poll(int(quiet * 1000)):
            out.append(self.recv(0))
        return out

    def close(self):
        try:
            self.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self.mon.close(0)
        self.sock.close(0)


class DaemonTestCase(unittest.TestCase):
    """Base class: self.daemon(...) starts a Daemon closed at test end."""

    def daemon(self, extra_config="", **kw):
        d = Daemon(extra_config, **kw)
        self.addCleanup(d.close)
        return d

    def assertClose(self, got, want, msg=None, eps=1e-6):
        self.assertIsNotNone(got, msg or "value is null, want %r" % want)
        self.assertTrue(abs(got - want) <= eps, "%s: got %r, want %r" % (msg or "value", got, want))

    def assertIndices(self, got, want, where=""):
        """want: {name: number or None}; every listed name must match."""
        for k, v in want.items():
            self.assertIn(k, got, "%s: index %s missing" % (where, k))
            if v is None:
                self.assertIsNone(got[k], "%s %s: want null, got %r" % (where, k, got[k]))
            else:
                self.assertClose(got[k], v, "%s %s" % (where, k))
