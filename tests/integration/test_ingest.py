#!/usr/bin/python3
"""Ingest over the wire (CONTRACT.md 2.1, 2.2): acks, every rejection
reason that can be triggered over ZeroMQ, duplicates, REQ clients, status
counters, the fire-and-forget SUB path (bound and connected) and endpoint
lists."""
import unittest

import msgpack
import zmq

from harness import (DaemonTestCase, HOUR_MS, MINUTE_MS, REJECT_REASONS, event, fb, frames_of, free_port,
                     free_ports, now_ms, wait_until)


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def base(**kw):
    p = {"id": "x", "ts": now_ms(), "score": 4}
    p.update(kw)
    return p


def without(key, **kw):
    p = base(**kw)
    del p[key]
    return p


# (name, frames-or-event, expected error, expected ack id or ... for "don't check")
def rejection_cases():
    t = now_ms()
    # Each frame below max_message (65536), together above it: ZeroMQ
    # delivers the message, raterd must refuse it as too_large.
    big_topic = b"feedback." + b"r" * 991
    big_payload = pack(base(id="big", pad="f" * (65000 - len(pack(base(id="big", pad=""))))))
    assert len(big_payload) < 65536 < len(big_topic) + len(big_payload)
    return [
        # malformed: unreadable msgpack, wrong frame counts
        ("never-used byte", [b"feedback", b"\xc1"], "malformed", None),
        ("truncated map", [b"feedback", pack(base(id="tr"))[:-3]], "malformed", None),
        ("empty payload", [b"feedback", b""], "malformed", None),
        ("trailing bytes", [b"feedback", pack(base(id="tb")) + b"\x01"], "malformed", None),
        ("one frame", [b"feedback"], "malformed", None),
        ("three frames", [b"feedback", pack(base(id="3f")), b"extra"], "malformed", None),
        # not_a_map
        ("array payload", [b"feedback", pack([1, 2, 3])], "not_a_map", None),
        ("string payload", [b"feedback", pack("hello")], "not_a_map", None),
        ("int payload", [b"feedback", pack(5)], "not_a_map", None),
        ("nil payload", [b"feedback", pack(None)], "not_a_map", None),
        # missing_field
        ("no id", ("feedback", without("id")), "missing_field", None),
        ("no ts", ("feedback", without("ts", id="m-ts")), "missing_field", "m-ts"),
        ("no score", ("feedback", without("score", id="m-score")), "missing_field", "m-score"),
        ("ticket without ticket", ("ticket", {"id": "m-t", "ts": t, "status": "opened"}), "missing_field", "m-t"),
        ("ticket without status", ("ticket", {"id": "m-ts2", "ts": t, "ticket": "T1"}), "missing_field", "m-ts2"),
        ("complaint without complaint", ("complaint", {"id": "m-c", "ts": t, "status": "opened"}),
         "missing_field", "m-c"),
        ("resolved complaint without outcome",
         ("complaint", {"id": "m-o", "ts": t, "complaint": "C1", "status": "resolved"}), "missing_field", "m-o"),
        # wrong_type
        ("score is a string", ("feedback", base(id="w-score", score="5")), "wrong_type", "w-score"),
        ("score is a float", ("feedback", base(id="w-scoref", score=4.0)), "wrong_type", "w-scoref"),
        ("ts is a string", ("feedback", base(id="w-ts", ts="now")), "wrong_type", "w-ts"),
        ("ts is a float", ("feedback", base(id="w-tsf", ts=float(t))), "wrong_type", "w-tsf"),
        ("id is an int", ("feedback", base(id=123)), "wrong_type", None),
        ("team is an int", ("feedback", base(id="w-team", team=5)), "wrong_type", "w-team"),
        ("rater is a list", ("feedback", base(id="w-rater", rater=[5])), "wrong_type", "w-rater"),
        ("rater dim is a string", ("feedback", base(id="w-rdim", rater={"empathy": "5"})), "wrong_type", "w-rdim"),
        ("nps is a string", ("feedback", base(id="w-nps", nps="9")), "wrong_type", "w-nps"),
        ("scale is a string", ("feedback", base(id="w-scale", scale="10")), "wrong_type", "w-scale"),
        ("v is a string", ("feedback", base(id="w-v", v="1")), "wrong_type", "w-v"),
        ("ticket status is an int", ("ticket", {"id": "w-tst", "ts": t, "ticket": "T", "status": 1}),
         "wrong_type", "w-tst"),
        # out_of_range
        ("score 0", ("feedback", base(id="r-0", score=0)), "out_of_range", "r-0"),
        ("score above scale", ("feedback", base(id="r-6", score=6)), "out_of_range", "r-6"),
        ("score above custom scale", ("feedback", base(id="r-11", score=11, scale=10)), "out_of_range", "r-11"),
        ("negative score", ("feedback", base(id="r-neg", score=-1)), "out_of_range", "r-neg"),
        ("scale 1", ("feedback", base(id="r-s1", score=1, scale=1)), "out_of_range", "r-s1"),
        ("scale 101", ("feedback", base(id="r-s101", score=1, scale=101)), "out_of_range", "r-s101"),
        ("nps 11", ("feedback", base(id="r-nps", nps=11)), "out_of_range", "r-nps"),
        ("rater dim above scale", ("feedback", base(id="r-dim", rater={"tangibles": 6})), "out_of_range", "r-dim"),
        ("rater dim 0", ("feedback", base(id="r-dim0", rater={"assurance": 0})), "out_of_range", "r-dim0"),
        ("ticket status unknown", ("ticket", {"id": "r-tst", "ts": t, "ticket": "T", "status": "closed"}),
         "out_of_range", "r-tst"),
        ("ticket priority unknown",
         ("ticket", {"id": "r-prio", "ts": t, "ticket": "T", "status": "opened", "priority": "asap"}),
         "out_of_range", "r-prio"),
        ("complaint severity unknown",
         ("complaint", {"id": "r-sev", "ts": t, "complaint": "C", "status": "opened", "severity": "extreme"}),
         "out_of_range", "r-sev"),
        ("complaint outcome unknown",
         ("complaint", {"id": "r-out", "ts": t, "complaint": "C", "status": "resolved", "outcome": "meh"}),
         "out_of_range", "r-out"),
        # too_long
        ("id 129 bytes", ("feedback", base(id="i" * 129)), "too_long", None),
        ("team 65 bytes", ("feedback", base(id="l-team", team="t" * 65)), "too_long", "l-team"),
        ("agent 65 bytes", ("feedback", base(id="l-agent", agent="a" * 65)), "too_long", "l-agent"),
        ("channel 33 bytes", ("feedback", base(id="l-chan", channel="c" * 33)), "too_long", "l-chan"),
        ("customer 129 bytes", ("feedback", base(id="l-cust", customer="c" * 129)), "too_long", "l-cust"),
        ("ticket 129 bytes", ("ticket", {"id": "l-tk", "ts": t, "ticket": "k" * 129, "status": "opened"}),
         "too_long", "l-tk"),
        ("category 65 bytes", ("complaint", {"id": "l-cat", "ts": t, "complaint": "C", "status": "opened",
                                             "category": "c" * 65}), "too_long", "l-cat"),
        # unknown_topic
        ("topic survey", ("survey", base(id="u-1")), "unknown_topic", ...),
        ("topic feedbackx", ("feedbackx", base(id="u-2")), "unknown_topic", ...),
        ("topic Feedback", ("Feedback", base(id="u-3")), "unknown_topic", ...),
        ("empty topic", ("", base(id="u-4")), "unknown_topic", ...),
        ("topic alert.x", ("alert.x", base(id="u-5")), "unknown_topic", ...),
        # bad_version
        ("v 2", ("feedback", base(id="v-2", v=2)), "bad_version", ...),
        ("v 0", ("feedback", base(id="v-0", v=0)), "bad_version", ...),
        # too_old / in_future (default allowed_lateness 24h, +5 min)
        ("25h old", ("feedback", base(id="t-old", ts=t - 25 * HOUR_MS)), "too_old", "t-old"),
        ("negative ts", ("feedback", base(id="t-neg", ts=-1000)), "too_old", "t-neg"),
        ("6 min ahead", ("feedback", base(id="t-fut", ts=t + 6 * MINUTE_MS)), "in_future", "t-fut"),
        ("year 3000", ("feedback", base(id="t-far", ts=32503680000000)), "in_future", "t-far"),
        # too_large: both frames fit max_message, the message does not
        ("topic+payload above max_message", [big_topic, big_payload],
         "too_large", ...),
    ]


class RejectionTest(DaemonTestCase):
    def test_every_reason_over_the_wire(self):
        d = self.daemon()
        cases = rejection_cases()
        seen = {}
        for name, ev, want, want_id in cases:
            with self.subTest(case=name):
                ack = d.ack(ev)
                self.assertEqual(ack.get("status"), "rejected", "%s: ack %r" % (name, ack))
                self.assertEqual(ack.get("error"), want, "%s: ack %r" % (name, ack))
                self.assertEqual(set(ack), {"id", "status", "error"}, "%s: ack keys %r" % (name, ack))
                if want_id is not ...:
                    self.assertEqual(ack.get("id"), want_id, "%s: ack %r" % (name, ack))
            seen[want] = seen.get(want, 0) + 1
        # Every reason of the contract was exercised.
        self.assertEqual(set(seen), set(REJECT_REASONS))
        # Nothing of it was applied; counters by reason match exactly.
        st = d.status()
        self.assertEqual(st["events"]["applied"], 0)
        self.assertEqual(st["events"]["rejected"], len(cases))
        self.assertEqual(st["events"]["received"], len(cases))
        for reason in REJECT_REASONS:
            self.assertEqual(st["rejected"][reason], seen[reason], "rejected.%s" % reason)
        self.assertEqual(d.count(), 0)


class AcceptedTest(DaemonTestCase):
    def test_boundaries_accepted(self):
        """Values at the edges of the contract are accepted."""
        d = self.daemon()
        t = now_ms()
        cases = [
            fb("i" * 128, 5),                                     # id of 128 bytes
            fb("b-team", 5, team="t" * 64, agent="a" * 64, channel="c" * 32, customer="u" * 128),
            fb("b-routing", 5, topic="feedback.eu-west"),         # routing suffix
            fb("b-dot", 5, topic="feedback."),                    # empty suffix
            fb("b-v1", 5, v=1),                                   # explicit version
            fb("b-unknown", 5, whatever={"nested": [1, 2]}, colour="blue"),  # unknown keys ignored
            fb("b-scale100", 100, scale=100),
            fb("b-scale2", 1, scale=2),
            fb("b-nps0", 1, nps=0),
            fb("b-late", 3, ts=t - 23 * HOUR_MS),                 # within allowed_lateness
            fb("b-ahead", 3, ts=t + 4 * MINUTE_MS),               # within +5 min
            fb("b-rater", 3, rater={"reliability": 1, "assurance": 5, "tangibles": 2, "empathy": 3,
                                    "responsiveness": 4, "unknown_dim": "ignored?"}),
            event("ticket", "b-ticket", ticket="T-1", status="opened", priority="urgent"),
            event("ticket", "b-ticket2", ticket="T-1", status="responded", topic="ticket.eu"),
            event("complaint", "b-c1", complaint="C-1", status="opened", severity="critical", category="billing",
                  customer="cust"),
            event("complaint", "b-c2", complaint="C-1", status="resolved", outcome="very_satisfied"),
            event("complaint", "b-c3", complaint="C-2", status="opened", outcome="not-checked-on-open"),
        ]
        for ev in cases:
            with self.subTest(id=ev[1]["id"][:20]):
                ack = d.ack(ev)
                self.assertEqual(ack, {"id": ev[1]["id"], "status": "ok"})
        st = d.status()
        self.assertEqual(st["events"]["applied"], len(cases))
        self.assertEqual(st["events"]["rejected"], 0)

    def test_same_id_in_other_kind_is_not_a_duplicate(self):
        d = self.daemon()
        self.assertEqual(d.ack(fb("shared", 4))["status"], "ok")
        self.assertEqual(d.ack(event("ticket", "shared", ticket="T", status="opened"))["status"], "ok")
        self.assertEqual(d.ack(event("complaint", "shared", complaint="C", status="opened"))["status"], "ok")
        self.assertEqual(d.ack(fb("shared", 1))["status"], "duplicate")


class DuplicateTest(DaemonTestCase):
    def test_resend_is_duplicate_and_changes_nothing(self):
        d = self.daemon()
        evs = [fb("d1", 5, team="a"), fb("d2", 1, team="a")]
        acks = d.send_reliable(evs)
        self.assertEqual(sorted((a["id"], a["status"]) for a in acks), [("d1", "ok"), ("d2", "ok")])
        before = d.indices("team:a")
        self.assertEqual(before["feedback_count"], 2)
        self.assertAlmostEqual(before["satisfaction"], 50.0)
        # Same ids, different content: still duplicates, nothing changes.
        acks = d.send_reliable([fb("d1", 1, team="a"), fb("d2", 1, team="b")])
        self.assertEqual(sorted((a["id"], a["status"]) for a in acks), [("d1", "duplicate"), ("d2", "duplicate")])
        self.assertEqual(d.indices("team:a"), before)
        self.assertEqual(d.count("team:b"), 0)
        st = d.status()["events"]
        self.assertEqual((st["applied"], st["duplicate"], st["rejected"]), (2, 2, 0))

    def test_duplicate_within_one_batch(self):
        d = self.daemon()
        acks = d.send_reliable([fb("same", 5), fb("same", 5), fb("same", 1)])
        self.assertEqual(sorted(a["status"] for a in acks), ["duplicate", "duplicate", "ok"])
        self.assertEqual(d.count(), 1)
        self.assertAlmostEqual(d.indices("all")["satisfaction"], 100.0)

    def test_rejected_event_does_not_reserve_its_id(self):
        d = self.daemon()
        self.assertEqual(d.ack(fb("later", 9))["error"], "out_of_range")
        self.assertEqual(d.ack(fb("later", 4))["status"], "ok")
        self.assertEqual(d.count(), 1)


class PipelineDedupTest(DaemonTestCase):
    def test_duplicates_of_the_batch_in_flight(self):
        """batch_max = 1: every event is its own batch, so a resend sent
        right behind its original arrives while the original is still being
        committed by the writer thread (or just after). Each must still be a
        duplicate, changing nothing, acked only once durable."""
        d = self.daemon("[ingest]\nbatch_max = 1\n")
        n = 300
        evs = []
        for i in range(n):
            score = 1 + i % 5
            evs += [fb("p%d" % i, score, team="p"), fb("p%d" % i, score, team="p"),
                    fb("p%d" % i, 5 if score < 5 else 1, team="q")]
        acks = d.send_reliable(evs, timeout=60.0)
        by_status = {}
        for a in acks:
            by_status.setdefault(a["status"], set()).add(a["id"])
        self.assertEqual(len([a for a in acks if a["status"] == "ok"]), n)
        self.assertEqual(len([a for a in acks if a["status"] == "duplicate"]), 2 * n)
        self.assertEqual(by_status["ok"], {"p%d" % i for i in range(n)})
        st = d.status()["events"]
        self.assertEqual((st["applied"], st["duplicate"], st["rejected"], st["failed"]), (n, 2 * n, 0, 0))
        self.assertEqual(d.count("team:p"), n)
        self.assertEqual(d.count("team:q"), 0)
        # Scores 1..5 evenly: satisfaction is the mean of 0, 25, 50, 75, 100.
        self.assertAlmostEqual(d.indices("team:p")["satisfaction"], 50.0)
        # One event a batch: the writer really committed them one by one.
        self.assertGreaterEqual(d.status()["batches"], n)


class StorageFullTest(DaemonTestCase):
    def test_full_store_fails_batches_loudly_and_keeps_running(self):
        """A 4 MiB store fills up: the batches that do not fit are not acked
        (the client would resend), are counted as failed and logged as
        `storage full`; every event acked `ok` is applied and counted once,
        and the daemon keeps answering and exits 0 on SIGTERM."""
        d = self.daemon("[daemon]\nmax_storage = 4194304\n[ingest]\nbatch_max = 500\n")
        n = 40000
        evs = [fb("full%06d-%s" % (i, "x" * 100), 1 + i % 5, team="t%d" % (i % 300), agent="a%d" % i)
               for i in range(n)]
        s = d._socket(zmq.DEALER, d.reliable_ep)
        self.addCleanup(s.close, 0)
        s.setsockopt(zmq.SNDHWM, 0)
        s.setsockopt(zmq.RCVHWM, 0)
        for e in evs:
            s.send_multipart(frames_of(e))
        # Every event settles (applied or failed) before the acks are read:
        # the ones that will ever come are queued by then.
        st = wait_until(lambda: (lambda s: s if s["events"]["applied"] + s["events"]["failed"] == n else None)(
            d.status()), timeout=300.0, interval=0.2, msg="every event applied or failed")
        acks = []
        while s.poll(500):
            acks.append(d._decode_ack(s.recv_multipart()))
        ok = [a for a in acks if a["status"] == "ok"]
        self.assertTrue(0 < len(ok) < n, "some but not all fit: %d ok of %d" % (len(ok), n))
        self.assertEqual({a["status"] for a in acks}, {"ok"})
        self.assertEqual(st["events"]["applied"], len(ok))
        self.assertEqual(st["events"]["failed"], n - len(ok))
        self.assertEqual(d.count(), len(ok))
        self.assertIn("storage full", d.log())


class ReqClientTest(DaemonTestCase):
    def test_req_socket(self):
        d = self.daemon()
        acks = d.send_reliable([fb("r1", 5, team="req"), fb("r1", 5, team="req"), fb("r2", 7)],
                               socket_type=zmq.REQ)
        self.assertEqual(acks, [{"id": "r1", "status": "ok"}, {"id": "r1", "status": "duplicate"},
                                {"id": "r2", "status": "rejected", "error": "out_of_range"}])
        self.assertEqual(d.count("team:req"), 1)


class StatusCountersTest(DaemonTestCase):
    def test_counters_match(self):
        d = self.daemon()
        reliable = [fb("s1", 5), fb("s2", 4), fb("s1", 5),
                    [b"feedback", b"\xc1"], ("feedback", [1]), ("feedback", {"ts": now_ms(), "score": 3}),
                    fb("s3", 0), ("nope", {"id": "s4"}), fb("s5", 3, ts=now_ms() - 48 * HOUR_MS)]
        d.send_reliable(reliable)
        published = [fb("p1", 3), fb("p1", 3), [b"feedback", b"\xc1"], fb("p2", 3, v=7),
                     fb("p3", 3, ts=now_ms() + HOUR_MS)]
        d.publish(published)
        d.wait_received(len(reliable) + len(published))
        st = wait_until(lambda: (lambda s: s if s["events"]["applied"] + s["events"]["duplicate"] +
                                 s["events"]["rejected"] == len(reliable) + len(published) else None)(d.status()),
                        msg="all counted")
        ev = st["events"]
        self.assertEqual(ev["received"], 14)
        self.assertEqual(ev["applied"], 3)      # s1, s2, p1
        self.assertEqual(ev["duplicate"], 2)    # s1, p1
        self.assertEqual(ev["rejected"], 9)
        want = dict.fromkeys(REJECT_REASONS, 0)
        want.update(malformed=2, not_a_map=1, missing_field=1, out_of_range=1, unknown_topic=1, too_old=1,
                    bad_version=1, in_future=1)
        self.assertEqual(st["rejected"], want)
        for k in ("version", "uptime_s", "events", "rejected", "storage", "alerts_firing", "batches", "writer"):
            self.assertIn(k, st)
        self.assertGreater(st["storage"]["bytes"], 0)
        self.assertEqual(d.count(), 3)
        # Time in LMDB's commit is part of the writer's time on batches.
        self.assertGreaterEqual(st["batches"], 1)
        self.assertGreaterEqual(st["writer"]["busy_ms"], st["writer"]["commit_ms"])
        self.assertGreaterEqual(st["writer"]["commit_ms"], 0)

    def test_writer_time_counts_commits(self):
        """A batch big enough to take measurable time shows up in the
        writer's totals, and every ack came after a commit: batches >= 1."""
        d = self.daemon()
        before = d.status()
        acks = d.send_reliable([fb("w%d" % i, 1 + i % 5, team="t%d" % (i % 50), agent="a%d" % i)
                                for i in range(20000)], timeout=60.0)
        self.assertEqual({a["status"] for a in acks}, {"ok"})
        st = d.status()
        self.assertGreater(st["batches"], before["batches"])
        self.assertGreater(st["writer"]["busy_ms"], before["writer"]["busy_ms"])
        self.assertGreaterEqual(st["writer"]["busy_ms"], st["writer"]["commit_ms"])
        rc, out, err = d.raterctl("status")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"writer busy +\d+ ms, \d+ ms of it in LMDB commits")
        self.assertRegex(out, r"commits +%d" % st["batches"])


class SubPathTest(DaemonTestCase):
    def test_published_events_are_applied(self):
        d = self.daemon()
        d.publish([fb("p1", 5, team="pub", agent="x"), fb("p2", 1, team="pub", agent="y"),
                   fb("p3", 3, team="pub", topic="feedback.eu-west"),
                   event("ticket", "p4", ticket="T", status="opened", team="pub")])
        d.wait_count(3, "team:pub")
        ind = d.indices("team:pub")
        self.assertAlmostEqual(ind["satisfaction"], (100 + 0 + 50) / 3)
        self.assertEqual(d.count("agent:x"), 1)
        st = wait_until(lambda: (lambda s: s if s["events"]["applied"] == 4 else None)(d.status()))
        self.assertEqual(st["events"]["rejected"], 0)

    def test_reliable_and_published_share_dedup(self):
        d = self.daemon()
        self.assertEqual(d.ack(fb("both", 5))["status"], "ok")
        d.publish([fb("both", 1), fb("only-pub", 1)])
        wait_until(lambda: d.status()["events"]["duplicate"] == 1, msg="published duplicate counted")
        d.wait_count(2)
        self.assertEqual(d.ack(fb("only-pub", 1))["status"], "duplicate")

    def test_ingest_connect(self):
        """[ingest] connect: raterd's SUB connects to a PUB the publisher binds."""
        port = free_port()
        ep = "tcp://127.0.0.1:%d" % port
        d = self.daemon("[ingest]\nbind =\nconnect = %s\n" % ep, start=False)
        pub = d.publisher(ep, bind=True)
        try:
            d.start()
            d.wait_subscription(pub)
            for ev in [fb("c1", 5, team="conn"), fb("c2", 4, team="conn")]:
                pub.send_multipart(frames_of(ev))
            d.wait_count(2, "team:conn")
            self.assertAlmostEqual(d.indices("team:conn")["satisfaction"], 87.5)
            # The bind was switched off: nothing listens on the old port.
            self.assertEqual(d.status()["events"]["received"], 2)
        finally:
            pub.close(0)

    def test_endpoint_lists(self):
        """Comma-separated endpoint lists for bind and reliable_bind."""
        pa, pb, r1, r2, al = free_ports(5)
        d = self.daemon("[ingest]\nbind = tcp://127.0.0.1:%d , tcp://127.0.0.1:%d\n"
                        "reliable_bind = tcp://127.0.0.1:%d,tcp://127.0.0.1:%d\n" % (pa, pb, r1, r2),
                        ports=(pa, r1, al))
        d.publish([fb("l1", 5)], endpoint="tcp://127.0.0.1:%d" % pa)
        d.publish([fb("l2", 5)], endpoint="tcp://127.0.0.1:%d" % pb)
        d.wait_count(2)
        self.assertEqual(d.ack(fb("l3", 5))["status"], "ok")
        d.reliable_ep = "tcp://127.0.0.1:%d" % r2
        self.assertEqual(d.ack(fb("l4", 5))["status"], "ok")
        self.assertEqual(d.count(), 4)


if __name__ == "__main__":
    unittest.main()
