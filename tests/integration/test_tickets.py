"""Ticket, complaint and composite indices end to end (CONTRACT.md section 3),
against the real raterd: every formula checked against values computed by
hand below, out-of-order and duplicate ticket events, SLA breaches counted
with no further event, restart with open tickets, windows across the minute
and hour boundaries, and the storage counters of status (retention pruning itself is
tested with a moving clock in tests/unit/test-retention.c)."""
import time
import unittest

from harness import DaemonTestCase, event, fb, now_ms, wait_until, HOUR_MS, MINUTE_MS


def tk(id, ticket, status, ts, **kw):
    return event("ticket", id, ts=ts, ticket=ticket, status=status, **kw)


def cp(id, complaint, status, ts, **kw):
    return event("complaint", id, ts=ts, complaint=complaint, status=status, **kw)


def ok(test, acks):
    test.assertEqual([a["status"] for a in acks], ["ok"] * len(acks), acks)


class FormulaTest(DaemonTestCase):
    """One dataset, every ticket/complaint/composite index by hand.

    Tickets (team t1, all within the last hour; b = now - 50 min):
      T1 normal: opened b, responded b+60s, resolved b+120s
         frt 60, resolution 120, SLA met, FCR ok
      T2 high:   opened b, responded b+600, responded b+700, resolved b+900
         frt 600, resolution 900, SLA met (1h), FCR miss (2 replies)
      T3 urgent: opened b, responded b+1200 (after its 15m deadline)
         frt 1200, SLA breach, open
      T4 normal: opened b, resolved b+300, reopened b+400, resolved b+500
         resolution 300 (first), FCR ok then miss (reopened), closed
      T5 normal: responded b+30 sent BEFORE opened b (out of order)
         frt 30, SLA met, open
      T6 urgent: opened b, never answered: breach counted by the sweep,
         open and overdue
    => opened 6, resolved 4, reopened 1, reopen_rate 25
       frt {30, 60, 600, 1200}: mean 472.5, p50 60, p90 1200, p99 1200
       resolution {120, 300, 900}: mean 440, p50 300, p90 900
       sla: due 5 (T1 T2 T3 T5 T6), met 3 -> 60, breaches 2
       fcr: 2 of 4 resolutions -> 50; backlog 3 (T3 T5 T6), overdue 1 (T6)
    Complaints (team t1):
      C1 opened b+10 resolved satisfied (+2); C2 (customer cu1) opened b+20
      resolved very_satisfied (+5); C3 (cu1 again) opened b+30, open;
      C4 opened b+40 resolved dissatisfied (-3)
    => opened 4, resolved 3, points 4, handling ((4/3)+5)*10 = 63.33,
       repeat 1/4 -> 25, complaint_rate 4/6*100 = 66.67, complaints_open 1
    Feedback: scores 5 and 4 of 5 with reliability 5 and 3 -> rater_index 75
    service_index = 0.5*75 + 0.3*60 + 0.2*63.33 = 68.17 -> grade failing
    """

    def setUp(self):
        self.d = self.daemon()
        b = now_ms() - 50 * MINUTE_MS
        s = 1000
        t = dict(team="t1", agent="a1", channel="email")
        self.b = b
        ok(self, self.d.send_reliable([tk("t5-r", "T5", "responded", b + 30 * s, **t)]))
        ok(self, self.d.send_reliable([
            tk("t1-o", "T1", "opened", b, **t), tk("t1-r", "T1", "responded", b + 60 * s, **t),
            tk("t1-x", "T1", "resolved", b + 120 * s, **t),
            tk("t2-o", "T2", "opened", b, priority="high", **t),
            tk("t2-r1", "T2", "responded", b + 600 * s, **t), tk("t2-r2", "T2", "responded", b + 700 * s, **t),
            tk("t2-x", "T2", "resolved", b + 900 * s, **t),
            tk("t3-o", "T3", "opened", b, priority="urgent", **t),
            tk("t3-r", "T3", "responded", b + 1200 * s, **t),
            tk("t4-o", "T4", "opened", b, **t), tk("t4-x1", "T4", "resolved", b + 300 * s, **t),
            tk("t4-re", "T4", "reopened", b + 400 * s, **t), tk("t4-x2", "T4", "resolved", b + 500 * s, **t),
            tk("t5-o", "T5", "opened", b, **t),
            tk("t6-o", "T6", "opened", b, priority="urgent", **t),
            cp("c1-o", "C1", "opened", b + 10 * s, **t),
            cp("c1-x", "C1", "resolved", b + 100 * s, outcome="satisfied", **t),
            cp("c2-o", "C2", "opened", b + 20 * s, customer="cu1", **t),
            cp("c2-x", "C2", "resolved", b + 110 * s, outcome="very_satisfied", **t),
            cp("c3-o", "C3", "opened", b + 30 * s, customer="cu1", **t),
            cp("c4-o", "C4", "opened", b + 40 * s, **t),
            cp("c4-x", "C4", "resolved", b + 120 * s, outcome="dissatisfied", **t),
            fb("f1", 5, team="t1", rater={"reliability": 5}),
            fb("f2", 4, team="t1", rater={"reliability": 3}),
        ]))
        # T6's deadline passed 35 minutes ago: the sweep counts it without
        # any further event.
        wait_until(lambda: self.d.indices("team:t1", "1h", ["sla_breaches"])["sla_breaches"] == 2,
                   timeout=5, msg="T6 breach counted by the sweep")

    def test_every_index(self):
        want = {
            "tickets_opened": 6, "tickets_resolved": 4, "tickets_reopened": 1, "reopen_rate": 25,
            "frt_mean": 472.5, "resolution_mean": 440,
            "sla_compliance": 60, "sla_breaches": 2, "fcr": 50, "backlog": 3, "overdue": 1,
            "complaints_opened": 4, "complaints_resolved": 3, "complaint_points": 4,
            "complaint_handling": (4 / 3 + 5) * 10, "repeat_complaint_rate": 25,
            "complaint_rate": 4 / 6 * 100, "complaints_open": 1,
            "rater_index": 75, "service_index": 0.5 * 75 + 0.3 * 60 + 0.2 * (4 / 3 + 5) * 10,
        }
        # The feedback carries only its team: agent:a1 and channel:email have
        # no satisfaction part, so service_index renormalises over SLA and
        # complaints: (0.3 * 60 + 0.2 * 63.33) / 0.5 = 61.33.
        no_fb = dict(want, rater_index=None, service_index=(0.3 * 60 + 0.2 * (4 / 3 + 5) * 10) / 0.5)
        for scope, w in (("all", want), ("team:t1", want), ("agent:a1", no_fb), ("channel:email", no_fb)):
            got = self.d.indices(scope, "1h")
            self.assertIndices(got, w, scope)
            self.assertEqual(got["grade"], "failing", scope)
            # Quantiles within 1 % of the exact ones.
            for name, exact in (("frt_p50", 60), ("frt_p90", 1200), ("frt_p99", 1200),
                                ("resolution_p50", 300), ("resolution_p90", 900)):
                self.assertLessEqual(abs(got[name] - exact), exact * 0.01, "%s %s=%r" % (scope, name, got[name]))
            # Counts are integers in JSON.
            for name in ("tickets_opened", "sla_breaches", "backlog", "complaints_open"):
                self.assertIsInstance(got[name], int, name)

    def test_other_scope_is_empty(self):
        got = self.d.indices("team:other", "1h")
        self.assertIndices(got, {"tickets_opened": 0, "frt_p50": None, "frt_mean": None, "sla_compliance": None,
                                 "fcr": None, "reopen_rate": None, "complaint_handling": None,
                                 "complaint_rate": None, "service_index": None, "backlog": 0,
                                 "complaints_opened": 0})
        # "+10 when the window has no complaint at all"
        self.assertEqual(got["complaint_points"], 10)
        self.assertIsNone(got["grade"])

    def test_duplicates_change_nothing(self):
        before = self.d.indices("team:t1", "1h")
        t = dict(team="t1", agent="a1", channel="email")
        acks = self.d.send_reliable([tk("t1-r", "T1", "responded", self.b + 60_000, **t),
                                     tk("t6-o", "T6", "opened", self.b, priority="urgent", **t),
                                     cp("c1-x", "C1", "resolved", self.b + 100_000, outcome="satisfied", **t)])
        self.assertEqual([a["status"] for a in acks], ["duplicate"] * 3)
        self.assertEqual(self.d.indices("team:t1", "1h"), before)

    def test_top_every_kind_of_index(self):
        t = dict(agent="a2", channel="chat")
        ok(self, self.d.send_reliable([tk("u1-o", "U1", "opened", self.b, team="t2", **t),
                                       tk("u1-r", "U1", "responded", self.b + 5000, team="t2", **t)]))
        rows = self.d.top("frt_p50", "team", "1h", order="worst")["rows"]
        self.assertEqual([r["scope"] for r in rows], ["team:t1", "team:t2"])   # 60 s is worse than 5 s
        self.assertLessEqual(abs(rows[1]["value"] - 5), 0.05)
        self.assertEqual(rows[0]["samples"], 4)
        rows = self.d.top("backlog", "team", "1h", order="worst")["rows"]
        self.assertEqual([(r["scope"], r["value"]) for r in rows], [("team:t1", 3), ("team:t2", 1)])
        rows = self.d.top("sla_compliance", "team", "1h", order="best")["rows"]
        self.assertEqual([(r["scope"], r["value"]) for r in rows], [("team:t2", 100), ("team:t1", 60)])
        rows = self.d.top("service_index", "agent", "1h")["rows"]
        self.assertEqual([r["scope"] for r in rows], ["agent:a1", "agent:a2"])

    def test_raterctl_shows_all_indices_for_several_windows(self):
        rc, stdout, stderr = self.d.raterctl("--json", "get", "--scope", "team:t1", "--window", "5m,1h")
        self.assertEqual(rc, 0, stderr)
        import json
        out = json.loads(stdout)
        self.assertEqual([o["window"] for o in out], ["5m", "1h"])
        self.assertEqual(out[1]["indices"]["tickets_opened"], 6)
        self.assertEqual(out[0]["indices"]["tickets_opened"], 0)
        rc, stdout, stderr = self.d.raterctl("get", "--scope", "team:t1", "--window", "5m,1h")
        self.assertEqual(rc, 0, stderr)
        self.assertIn("frt_p90", stdout)
        self.assertIn("failing", stdout)


class SlaSweepTest(DaemonTestCase):
    def test_breach_counted_when_deadline_passes_without_events(self):
        d = self.daemon("[sla]\nfirst_response.normal = 2s\n")
        ok(self, d.send_reliable([tk("o1", "S1", "opened", now_ms(), team="s")]))
        got = d.indices("team:s", "5m")
        self.assertEqual((got["sla_breaches"], got["overdue"], got["backlog"]), (0, 0, 1))
        t0 = time.monotonic()
        wait_until(lambda: d.indices("team:s", "5m")["sla_breaches"] == 1, timeout=5, msg="breach")
        self.assertLess(time.monotonic() - t0, 3.5)
        got = d.indices("team:s", "5m")
        self.assertEqual((got["overdue"], got["backlog"], got["sla_compliance"]), (1, 1, 0))
        # The late answer ends `overdue` but the breach stays.
        ok(self, d.send_reliable([tk("r1", "S1", "responded", now_ms(), team="s")]))
        got = d.indices("team:s", "5m")
        self.assertEqual((got["sla_breaches"], got["overdue"], got["backlog"], got["sla_compliance"]), (1, 0, 1, 0))
        self.assertIsNotNone(got["frt_p50"])

    def test_answer_in_time_is_compliant(self):
        d = self.daemon("[sla]\nfirst_response.normal = 2s\n")
        t = now_ms()
        ok(self, d.send_reliable([tk("o1", "S1", "opened", t, team="s"), tk("r1", "S1", "responded", t + 500, team="s")]))
        time.sleep(2.5)
        got = d.indices("team:s", "5m")
        self.assertEqual((got["sla_breaches"], got["overdue"], got["sla_compliance"]), (0, 0, 100))

    def test_unhandled_complaint_scored_when_it_passes_unhandled_after(self):
        d = self.daemon("[complaints]\nunhandled_after = 2s\n")
        ok(self, d.send_reliable([cp("c1", "K1", "opened", now_ms(), team="k")]))
        got = d.indices("team:k", "5m")
        self.assertEqual((got["complaint_points"], got["complaint_handling"]), (0, None))
        wait_until(lambda: d.indices("team:k", "5m")["complaint_points"] == -5, timeout=5, msg="unhandled")
        self.assertEqual(d.indices("team:k", "5m")["complaint_handling"], 0)
        # Resolved later: its outcome is scored too (a second scored entry).
        ok(self, d.send_reliable([cp("c2", "K1", "resolved", now_ms(), team="k", outcome="very_satisfied")]))
        got = d.indices("team:k", "5m")
        self.assertEqual((got["complaint_points"], got["complaints_open"]), (0, 0))
        self.assertEqual(got["complaint_handling"], 50)


class RestartTest(DaemonTestCase):
    def test_open_tickets_survive_kill9(self):
        d = self.daemon()
        t = now_ms() - 10 * MINUTE_MS
        ok(self, d.send_reliable([tk("o1", "R1", "opened", t, team="r"), tk("o2", "R2", "opened", t, team="r"),
                                  tk("p1", "R2", "responded", t + 20_000, team="r")]))
        d.kill9()
        d.start()
        self.assertEqual(d.indices("team:r", "1h")["backlog"], 2)
        ok(self, d.send_reliable([tk("p2", "R1", "responded", t + 40_000, team="r"),
                                  tk("x1", "R1", "resolved", t + 60_000, team="r")]))
        got = d.indices("team:r", "1h")
        self.assertEqual((got["backlog"], got["tickets_opened"], got["tickets_resolved"]), (1, 2, 1))
        self.assertClose(got["frt_mean"], 30)   # (20 + 40) / 2: R1's opened came before the restart
        self.assertClose(got["resolution_mean"], 60)
        self.assertEqual(got["fcr"], 100)


class WindowTest(DaemonTestCase):
    def test_minute_and_hour_boundaries(self):
        d = self.daemon("[daemon]\nallowed_lateness = 30d\n")
        now = now_ms()
        ages = {"30s": 30_000, "10m": 10 * MINUTE_MS, "90m": 90 * MINUTE_MS, "26h": 26 * HOUR_MS,
                "60h": 60 * HOUR_MS, "3d": 72 * HOUR_MS + 30 * MINUTE_MS, "40d": 40 * 24 * HOUR_MS}
        ok(self, d.send_reliable([fb("f-" + k, 5, ts=now - a, team="w") for k, a in ages.items()
                                  if k != "40d"]))
        counts = {w: d.indices("team:w", w, ["feedback_count"])["feedback_count"]
                  for w in ("5m", "15m", "1h", "2h", "24h", "48h", "7d", "35d")}
        self.assertEqual(counts, {"5m": 1, "15m": 2, "1h": 2, "2h": 3, "24h": 3, "48h": 4, "7d": 6, "35d": 6})
        # Beyond 48 h the window is read from hour buckets and starts on an hour.
        g = d.get("team:w", "7d")
        self.assertEqual(g["from"] % HOUR_MS, 0)
        self.assertGreater(g["from"], g["to"] - 7 * 24 * HOUR_MS - 1)
        self.assertLessEqual(g["from"], g["to"] - 7 * 24 * HOUR_MS + HOUR_MS)
        g = d.get("team:w", "1h")
        self.assertEqual(g["from"] % MINUTE_MS, 0)
        # The window is echoed as it was asked for.
        self.assertEqual(d.get("team:w", "24h")["window"], "24h")
        # Tickets in hour buckets too: frt quantiles over a 7d window.
        t = now - 60 * HOUR_MS
        ok(self, d.send_reliable([tk("o", "W1", "opened", t, team="w"), tk("r", "W1", "responded", t + 90_000, team="w")]))
        got = d.indices("team:w", "7d", ["frt_p50", "tickets_opened"])
        self.assertLessEqual(abs(got["frt_p50"] - 90), 0.9)
        self.assertEqual(got["tickets_opened"], 1)
        self.assertEqual(d.indices("team:w", "48h", ["tickets_opened"])["tickets_opened"], 0)
        # A window longer than the retention is refused.
        r = d.control({"cmd": "get", "scope": "team:w", "window": "36d"})
        self.assertFalse(r["ok"])


if __name__ == "__main__":
    unittest.main()
