#!/usr/bin/python3
"""Robustness (CONTRACT.md 2.1): garbage on both ingest sockets and on the
control socket never stops the daemon; rejections are counted; valid
events still get applied afterwards; memory stays bounded."""
import random
import struct
import time
import unittest

import msgpack
import zmq

from harness import DaemonTestCase, fb, frames_of, now_ms, wait_until


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def nested_maps(depth):
    # {"a": {"a": ... nil}} without recursion limits on our side
    return b"\x81\xa1a" * depth + b"\xc0"


def nested_arrays(depth):
    return b"\x91" * depth + b"\xc0"


def garbage_payloads(rng):
    """Two-frame messages whose payload is junk; every one must be rejected
    (with some reason) and none may hurt the daemon."""
    valid = pack({"id": "g", "ts": now_ms(), "score": 4})
    out = []
    for i in range(60):
        out.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))))
    for cut in range(1, len(valid)):
        out.append(valid[:cut])                         # every truncation
    out += [
        nested_maps(20000),                             # deep nesting, < 64 KiB
        nested_arrays(60000),
        b"\x81\xa2id" + nested_maps(5000),
        b"\xdd\xff\xff\xff\xff",                        # array32, 4G elements declared
        b"\xdf\xff\xff\xff\xff",                        # map32, 4G pairs declared
        b"\xdf\x7f\xff\xff\xff" + b"\xa1a\xc0" * 10,
        b"\xdc\xff\xff" + b"\xc0" * 10,                 # array16 short of elements
        b"\xdb\xff\xff\xff\xff" + b"x" * 100,           # str32, 4 GiB declared
        b"\xc6\xff\xff\xff\xff",                        # bin32
        b"\xc9\xff\xff\xff\xff\x01",                    # ext32
        b"\xd9\x05ab",                                  # str8 short
        b"\x82\x01\x02\x03\x04",                        # map with int keys
        b"\x81\xc0\xc0",                                # map with nil key
        b"\x81\x91\x01\x01",                            # map with array key
        pack({"id": "g1", "ts": now_ms(), "score": 4, "rater": nested_arrays(1)}),
        pack({"id": "g2", "ts": now_ms(), "score": {"x": [1] * 1000}}),
        pack({"id": "g3", "ts": now_ms(), "score": 4}) * 2,
        b"\xc1" * 1000,
        b"\x00" * 1000,
        b"",
    ]
    return out


def garbage_messages(rng):
    """Frame sequences: garbage payloads, odd frame counts, odd topics."""
    msgs = [[b"feedback", p] for p in garbage_payloads(rng)]
    good = pack({"id": "fr", "ts": now_ms(), "score": 4})
    msgs += [
        [b"feedback"],                                 # 1 frame
        [good],
        [b""],
        [b"feedback", good, b"x"],                     # 3 frames
        [b"feedback", good, b"x", b"y", b"z"],         # 5 frames
        [b"feedback"] + [good] * 9,                    # 10 frames
        [b"\xff\xfe", good],                           # binary topic
        [b"feedback" * 1000, good],                    # long topic
        [b"", good],
    ]
    return msgs


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class GarbageTest(DaemonTestCase):
    def assert_healthy(self, d, tag):
        self.assertTrue(d.alive(), "%s: daemon died:\n%s" % (tag, d.log_tail()))
        t0 = time.monotonic()
        d.status()
        self.assertLess(time.monotonic() - t0, 2.0, "%s: status slow" % tag)

    def test_garbage_on_reliable_socket(self):
        d = self.daemon()
        rng = random.Random(1234)
        msgs = garbage_messages(rng)
        rss0 = rss_kib(d.pid)
        acks = d.send_reliable_frames(msgs, timeout=20)
        self.assertEqual(len(acks), len(msgs))
        for a in acks:
            self.assertEqual(a["status"], "rejected", a)
            self.assertIn(a["error"], ("malformed", "not_a_map", "missing_field", "wrong_type", "out_of_range",
                                       "too_long", "unknown_topic", "bad_version", "too_old", "in_future",
                                       "too_large"))
        self.assert_healthy(d, "after garbage")
        st = d.status()
        self.assertEqual(st["events"]["rejected"], len(msgs))
        self.assertEqual(st["events"]["applied"], 0)
        # the unreadable ones, at least: truncations, nesting, huge headers
        self.assertGreaterEqual(st["rejected"]["malformed"], 40)
        # valid events still go through
        self.assertEqual(d.ack(fb("ok1", 5))["status"], "ok")
        self.assertEqual(d.count(), 1)
        self.assertLess(rss_kib(d.pid) - rss0, 100 * 1024, "RSS grew by more than 100 MiB")

    def test_mixed_burst_on_reliable_socket(self):
        """One DEALER burst where good events, garbage, bad framing and
        duplicates (of the same burst and of committed events) interleave,
        so the daemon's look-ahead reads them in shared rounds: every
        message gets exactly its own ack, and only the good ones count."""
        d = self.daemon()
        self.assertEqual(d.ack(fb("mx-old", 3))["status"], "ok")
        rng = random.Random(99)
        junk = garbage_messages(rng)
        msgs, want = [], {}
        for i in range(300):
            pick = i % 5
            if pick in (0, 2):
                ev_id = "mx-%d" % i
                msgs.append(frames_of(fb(ev_id, 1 + i % 5, agent="a%d" % (i % 7))))
                want[ev_id] = "ok"
            elif pick == 1:
                msgs.append(junk[i % len(junk)])
            elif pick == 3 and i > 10:
                msgs.append(frames_of(fb("mx-%d" % (i - 3), 2)))  # earlier in this burst
            else:
                msgs.append(frames_of(fb("mx-old", 2)))
        acks = d.send_reliable_frames(msgs, timeout=20)
        self.assertEqual(len(acks), len(msgs))
        by_status = {}
        for a in acks:
            by_status[a["status"]] = by_status.get(a["status"], 0) + 1
            if a["status"] == "ok":
                self.assertEqual(want.pop(a["id"], None), "ok", "unexpected or repeated ok %r" % a)
        self.assertEqual(want, {}, "good events without an ok ack")
        n_good = sum(1 for i in range(300) if i % 5 in (0, 2))
        n_junk = sum(1 for i in range(300) if i % 5 == 1)
        self.assertEqual(by_status.get("ok"), n_good)
        self.assertEqual(by_status.get("rejected"), n_junk)
        self.assertEqual(by_status.get("duplicate"), len(msgs) - n_good - n_junk)
        st = d.status()
        self.assertEqual(st["events"]["applied"], n_good + 1)
        self.assertEqual(st["events"]["rejected"], n_junk)
        self.assertEqual(d.count(), n_good + 1)

    def test_garbage_on_sub_socket(self):
        d = self.daemon()
        rng = random.Random(99)
        msgs = garbage_messages(rng)
        pub = d.publisher()
        try:
            for m in msgs:
                pub.send_multipart(m)
            pub.send_multipart(frames_of(fb("after-garbage", 5, team="g")))
        finally:
            pub.close(5000)
        d.wait_count(1, "team:g", timeout=10)
        st = wait_until(lambda: (lambda s: s if s["events"]["rejected"] == len(msgs) else None)(d.status()),
                        msg="all garbage counted as rejected")
        self.assertEqual(st["events"]["received"], len(msgs) + 1)
        self.assertEqual(st["events"]["applied"], 1)
        self.assert_healthy(d, "after sub garbage")

    def test_oversized_messages(self):
        """Frames above max_message are dropped by ZeroMQ (with the peer);
        other clients and later connections are not affected."""
        d = self.daemon("[ingest]\nmax_message = 4096\n")
        huge = pack({"id": "huge", "ts": now_ms(), "score": 4, "pad": "x" * 200_000})
        # reliable path: no ack for it (the connection is dropped)
        acks = d.send_reliable_frames([[b"feedback", huge]], n_acks=1, timeout=1.0, allow_missing=True)
        for a in acks:  # if raterd ever answers, it is a rejection
            self.assertEqual((a["status"], a["error"]), ("rejected", "too_large"))
        # sub path
        pub = d.publisher()
        try:
            for _ in range(5):
                pub.send_multipart([b"feedback", huge])
        finally:
            pub.close(2000)
        self.assert_healthy(d, "after oversized")
        # just above the limit in total, each frame below: an observable too_large
        mid = pack({"id": "mid", "ts": now_ms(), "score": 4, "pad": "x" * 3900})
        self.assertLess(len(mid), 4096)
        ack = d.ack([b"feedback." + b"x" * 300, mid])
        self.assertEqual((ack["status"], ack["error"]), ("rejected", "too_large"))
        self.assertGreaterEqual(d.status()["rejected"]["too_large"], 1)
        # valid events on fresh connections still work on both paths
        self.assertEqual(d.ack(fb("v1", 5))["status"], "ok")
        d.publish([fb("v2", 5)])
        d.wait_count(2)

    def test_flood_does_not_stall(self):
        """20 000 junk messages on the SUB socket: reliable clients and
        operators are still served within seconds."""
        d = self.daemon()
        pub = d.publisher()
        try:
            for i in range(20000):
                pub.send_multipart([b"feedback", b"\xc1" if i % 2 else pack([i])])
            t0 = time.monotonic()
            self.assertEqual(d.ack(fb("during-flood", 5), timeout=10)["status"], "ok")
            self.assertLess(time.monotonic() - t0, 5.0)
        finally:
            pub.close(5000)
        st = wait_until(lambda: (lambda s: s if s["events"]["rejected"] == 20000 else None)(d.status()),
                        timeout=20, msg="flood counted")
        self.assertEqual(st["rejected"]["malformed"], 10000)
        self.assertEqual(st["rejected"]["not_a_map"], 10000)
        self.assert_healthy(d, "after flood")

    def test_control_socket_garbage(self):
        d = self.daemon()
        for raw in (b"", b"not json", b"[1,2]", b"\"str\"", b"{", b"\xff\xfe", b"{\"cmd\": 5}", b"null",
                    b"{" * 10000, b"{\"cmd\":\"get\",\"scope\":" + b"\"" + b"a" * 5000 + b"\"}"):
            r = d.control(None, raw=raw)
            self.assertIs(r["ok"], False, (raw[:40], r))
            self.assertTrue(r["error"])
        # multi-frame request and REQ with delimiter
        s = d.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(d.control_ep)
        try:
            s.send_multipart([b"{\"cmd\":\"status\"}", b"{\"cmd\":\"status\"}"])
            self.assertTrue(s.poll(5000))
            r = __import__("json").loads(s.recv())
            self.assertIs(r["ok"], False)
        finally:
            s.close(0)
        s = d.ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(d.control_ep)
        try:
            s.send(b"{\"cmd\":\"status\"}")
            self.assertTrue(s.poll(5000))
            r = __import__("json").loads(s.recv())
            self.assertIs(r["ok"], True)
        finally:
            s.close(0)
        # a request above 64 KiB drops the peer but not the daemon
        s = d.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(d.control_ep)
        try:
            s.send(b"{\"cmd\":\"status\",\"pad\":\"" + b"x" * 200_000 + b"\"}")
            s.poll(500)
        finally:
            s.close(0)
        self.assert_healthy(d, "after control garbage")
        self.assertTrue(d.control({"cmd": "status"})["ok"])

    def test_many_distinct_scopes(self):
        """5 000 distinct agents in one go: accepted, queryable, top works."""
        d = self.daemon()
        t = now_ms()
        evs = [fb("a%05d" % i, 1 + i % 5, ts=t, agent="agent-%05d" % i, team="t%d" % (i % 7)) for i in range(5000)]
        acks = d.send_reliable(evs, timeout=30)
        self.assertEqual({a["status"] for a in acks}, {"ok"})
        self.assertEqual(d.count(), 5000)
        r = d.top("satisfaction", "agent", "1h", order="worst", n=3)
        self.assertEqual([x["value"] for x in r["rows"]], [0, 0, 0])
        r = d.top("satisfaction", "agent", "1h", order="best", n=3)
        self.assertEqual([x["value"] for x in r["rows"]], [100, 100, 100])
        self.assertEqual(len(d.top("satisfaction", "team", "1h", n=100)["rows"]), 7)


if __name__ == "__main__":
    unittest.main()
