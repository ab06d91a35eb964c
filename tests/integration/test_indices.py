#!/usr/bin/python3
"""Satisfaction indices (CONTRACT.md 3) with values computed by hand:
scopes all/team/agent/channel, mixed scales, nulls, windows, [weights]
overrides, and the control protocol's get/top (PROTOCOL.md)."""
import unittest

from harness import (DaemonTestCase, HOUR_MS, MINUTE_MS, SATISFACTION_INDICES, duration_ms, fb, now_ms)

# Default weights: reliability .32, responsiveness .22, assurance .19,
# empathy .16, tangibles .11.
W = {"reliability": .32, "responsiveness": .22, "assurance": .19, "empathy": .16, "tangibles": .11}


def dataset(ts):
    """Six feedback events on mixed scales. Per event, by hand:
         norm(score)   csat  nps answer  rater (normalised)
    E1   100 (5/5)     yes   10 promoter rel 100, resp 75 (4/5)
    E2   50 (3/5)      no    7 passive   rel 25 (2/5), ass 50, emp 75, tan 100
    E3   800/9 (9/10)  yes   3 detractor -
    E4   0 (1/10)      no    -           rel 100 (10/10), resp 0 (1/10)
    E5   50 (4/7)      no    9 promoter  -
    E6   250/3 (6/7)   yes   -           emp 100 (7/7)
    """
    return [
        fb("E1", 5, ts=ts, team="alpha", agent="ann", channel="chat", nps=10,
           rater={"reliability": 5, "responsiveness": 4}),
        fb("E2", 3, ts=ts, team="alpha", agent="bob", channel="email", nps=7,
           rater={"reliability": 2, "assurance": 3, "empathy": 4, "tangibles": 5}),
        fb("E3", 9, scale=10, ts=ts, team="beta", agent="ann", channel="chat", nps=3),
        fb("E4", 1, scale=10, ts=ts, team="beta", agent="cid", channel="phone",
           rater={"reliability": 10, "responsiveness": 1}),
        fb("E5", 4, scale=7, ts=ts, team="alpha", agent="ann", nps=9),
        fb("E6", 6, scale=7, ts=ts, rater={"empathy": 7}),
    ]


EXPECTED = {
    "all": {
        "feedback_count": 6,
        "satisfaction": (100 + 50 + 800 / 9 + 0 + 50 + 250 / 3) / 6,
        "csat": 100 * 3 / 6,
        "nps": 100 * (2 - 1) / 4,
        "rater.reliability": (100 + 25 + 100) / 3,
        "rater.assurance": 50,
        "rater.tangibles": 100,
        "rater.empathy": (75 + 100) / 2,
        "rater.responsiveness": (75 + 0) / 2,
        # all five dims have samples: weights sum to 1
        "rater_index": .32 * 75 + .19 * 50 + .11 * 100 + .16 * 87.5 + .22 * 37.5,
    },
    "team:alpha": {
        "feedback_count": 3,
        "satisfaction": (100 + 50 + 50) / 3,
        "csat": 100 / 3,
        "nps": 100 * 2 / 3,
        "rater.reliability": 62.5,
        "rater.assurance": 50,
        "rater.tangibles": 100,
        "rater.empathy": 75,
        "rater.responsiveness": 75,
        "rater_index": .32 * 62.5 + .19 * 50 + .11 * 100 + .16 * 75 + .22 * 75,
    },
    "team:beta": {
        "feedback_count": 2,
        "satisfaction": (800 / 9 + 0) / 2,
        "csat": 50,
        "nps": -100,
        "rater.reliability": 100,
        "rater.assurance": None,
        "rater.tangibles": None,
        "rater.empathy": None,
        "rater.responsiveness": 0,
        "rater_index": (.32 * 100 + .22 * 0) / (.32 + .22),
    },
    "agent:ann": {
        "feedback_count": 3,
        "satisfaction": (100 + 800 / 9 + 50) / 3,
        "csat": 100 * 2 / 3,
        "nps": 100 * (2 - 1) / 3,
        "rater.reliability": 100,
        "rater.assurance": None,
        "rater.tangibles": None,
        "rater.empathy": None,
        "rater.responsiveness": 75,
        "rater_index": (.32 * 100 + .22 * 75) / (.32 + .22),
    },
    "agent:bob": {
        "feedback_count": 1,
        "satisfaction": 50,
        "csat": 0,
        "nps": 0,  # one passive: 0 % promoters - 0 % detractors
        "rater.reliability": 25,
        "rater.assurance": 50,
        "rater.tangibles": 100,
        "rater.empathy": 75,
        "rater.responsiveness": None,
        "rater_index": (.32 * 25 + .19 * 50 + .16 * 75 + .11 * 100) / (.32 + .19 + .16 + .11),
    },
    "agent:cid": {
        "feedback_count": 1,
        "satisfaction": 0,
        "csat": 0,
        "nps": None,
        "rater.reliability": 100,
        "rater.responsiveness": 0,
        "rater_index": 32 / .54,
    },
    "channel:chat": {
        "feedback_count": 2,
        "satisfaction": (100 + 800 / 9) / 2,
        "csat": 100,
        "nps": 0,  # one promoter, one detractor
        "rater.reliability": 100,
        "rater.responsiveness": 75,
        "rater_index": (.32 * 100 + .22 * 75) / .54,
    },
    "channel:email": {"feedback_count": 1, "satisfaction": 50, "csat": 0, "nps": 0},
    "channel:phone": {"feedback_count": 1, "satisfaction": 0, "csat": 0, "nps": None},
}

EMPTY = dict({k: None for k in SATISFACTION_INDICES}, feedback_count=0)


class IndexValuesTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        from harness import Daemon
        cls.d = Daemon()
        try:
            acks = cls.d.send_reliable(dataset(now_ms() - 20_000))
            assert all(a["status"] == "ok" for a in acks), acks
        except BaseException:
            cls.d.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def test_exact_values_per_scope(self):
        for scope, want in EXPECTED.items():
            for window in ("5m", "1h", "24h", "7d"):
                with self.subTest(scope=scope, window=window):
                    got = self.d.get(scope, window)
                    self.assertEqual(got["scope"], scope)
                    # the same duration, possibly written otherwise (24h / 1d)
                    self.assertEqual(duration_ms(got["window"]), duration_ms(window))
                    self.assertIndices(got["indices"], want, "%s %s" % (scope, window))

    def test_all_satisfaction_indices_listed(self):
        got = self.d.indices("all")
        for name in SATISFACTION_INDICES:
            self.assertIn(name, got)
        self.assertIsInstance(got["feedback_count"], int)

    def test_empty_scope(self):
        for scope in ("team:nobody", "agent:nobody", "channel:fax"):
            with self.subTest(scope=scope):
                got = self.d.indices(scope)
                self.assertEqual({k: got[k] for k in SATISFACTION_INDICES}, EMPTY)

    def test_subset_of_indices(self):
        got = self.d.get("team:alpha", "1h", ["csat", "rater_index"])
        self.assertEqual(set(got["indices"]), {"csat", "rater_index"})
        self.assertIndices(got["indices"], {k: EXPECTED["team:alpha"][k] for k in ("csat", "rater_index")})

    def test_from_to(self):
        t0 = now_ms()
        for window, ms in (("5m", 5 * MINUTE_MS), ("1h", HOUR_MS), ("24h", 24 * HOUR_MS), ("7d", 7 * 24 * HOUR_MS)):
            with self.subTest(window=window):
                got = self.d.get("all", window)
                self.assertLessEqual(abs(got["to"] - t0), 5000)
                span = got["to"] - got["from"]
                # (now - W, now] up to the granularity of the buckets: minutes
                # up to 48 h, hours beyond
                unit = MINUTE_MS if ms <= 48 * HOUR_MS else HOUR_MS
                self.assertLessEqual(span, ms)
                self.assertGreaterEqual(span, ms - unit)
                self.assertEqual(got["from"] % unit, 0)

    def test_top_worst_best(self):
        d = self.d
        sat = {a: EXPECTED["agent:" + a]["satisfaction"] for a in ("ann", "bob", "cid")}
        r = d.top("satisfaction", "agent", "1h", order="worst", n=2)
        self.assertEqual(r["index"], "satisfaction")
        self.assertEqual(r["window"], "1h")
        self.assertEqual([x["scope"] for x in r["rows"]], ["agent:cid", "agent:bob"])
        self.assertEqual([x["samples"] for x in r["rows"]], [1, 1])
        for row in r["rows"]:
            self.assertAlmostEqual(row["value"], sat[row["scope"][6:]])
            self.assertEqual(set(row), {"scope", "value", "samples"})

        r = d.top("satisfaction", "agent", "1h", order="best", n=2)
        self.assertEqual([x["scope"] for x in r["rows"]], ["agent:ann", "agent:bob"])
        self.assertAlmostEqual(r["rows"][0]["value"], sat["ann"])
        self.assertEqual(r["rows"][0]["samples"], 3)

        r = d.top("satisfaction", "agent", "1h", order="worst", n=10, min_samples=2)
        self.assertEqual([x["scope"] for x in r["rows"]], ["agent:ann"])

        r = d.top("satisfaction", "agent", "1h", order="worst", n=10, min_samples=4)
        self.assertEqual(r["rows"], [])

        # default order is worst, default n is at least 3
        r = d.top("satisfaction", "agent", "1h")
        self.assertEqual([x["scope"] for x in r["rows"]], ["agent:cid", "agent:bob", "agent:ann"])

    def test_top_other_dimensions(self):
        d = self.d
        r = d.top("satisfaction", "team", "1h", order="worst")
        self.assertEqual([x["scope"] for x in r["rows"]], ["team:beta", "team:alpha"])
        r = d.top("csat", "channel", "1h", order="best")
        rows = [(x["scope"], x["value"], x["samples"]) for x in r["rows"]]
        self.assertEqual(rows[0], ("channel:chat", 100, 2))
        self.assertEqual(sorted(rows[1:]), [("channel:email", 0, 1), ("channel:phone", 0, 1)])
        # scopes without nps answers have no row
        r = d.top("nps", "agent", "1h", order="best")
        self.assertEqual([(x["scope"], x["samples"]) for x in r["rows"]], [("agent:ann", 3), ("agent:bob", 1)])
        self.assertAlmostEqual(r["rows"][0]["value"], 100 / 3)
        # rater_index: samples are feedback events carrying rater answers
        r = d.top("rater_index", "agent", "1h", order="best")
        self.assertEqual([x["scope"] for x in r["rows"]], ["agent:ann", "agent:cid", "agent:bob"])
        self.assertAlmostEqual(r["rows"][0]["value"], EXPECTED["agent:ann"]["rater_index"])

    def test_errors(self):
        d = self.d
        bad = [
            {"cmd": "get", "scope": "all", "indices": ["no_such_index"]},
            {"cmd": "get", "scope": "galaxy:x"},
            {"cmd": "get", "scope": "team:"},
            {"cmd": "get"},
            {"cmd": "get", "scope": "all", "window": "soon"},
            {"cmd": "get", "scope": "all", "window": "36d"},  # longer than retention 35d
            {"cmd": "top", "index": "no_such_index", "by": "agent"},
            {"cmd": "top", "index": "satisfaction", "by": "planet"},
            {"cmd": "top", "index": "satisfaction", "by": "agent", "order": "middle"},
            {"cmd": "top", "index": "satisfaction", "by": "agent", "n": 0},
            {"cmd": "launch"},
            {"nocmd": 1},
        ]
        for req in bad:
            with self.subTest(req=req):
                r = d.control(req)
                self.assertIs(r.get("ok"), False, r)
                self.assertIsInstance(r.get("error"), str)
                self.assertTrue(r["error"])
        self.assertTrue(d.control({"cmd": "get", "scope": "all", "window": "35d"})["ok"])


class WindowTest(DaemonTestCase):
    def test_windows(self):
        d = self.daemon()
        t = now_ms()
        acks = d.send_reliable([
            fb("now", 5, ts=t - 10_000),                   # in every window
            fb("30m", 1, ts=t - 30 * MINUTE_MS),           # 1h, not 5m
            fb("3h", 3, ts=t - 3 * HOUR_MS),               # 24h, not 1h
            fb("23h", 3, ts=t - 23 * HOUR_MS),             # 24h
            fb("ahead", 5, ts=t + 3 * MINUTE_MS),          # accepted, in no window yet: (now - W, now]
        ])
        self.assertEqual(sorted(a["status"] for a in acks), ["ok"] * 5)
        self.assertEqual(d.count("all", "5m"), 1)
        self.assertEqual(d.count("all", "15m"), 1)
        self.assertEqual(d.count("all", "1h"), 2)
        self.assertAlmostEqual(d.indices("all", "1h")["satisfaction"], 50)
        self.assertAlmostEqual(d.indices("all", "5m")["satisfaction"], 100)
        self.assertEqual(d.count("all", "2h"), 2)
        self.assertEqual(d.count("all", "24h"), 4)
        self.assertEqual(d.count("all", "7d"), 4)
        self.assertEqual(d.count("all", "35d"), 4)
        self.assertAlmostEqual(d.indices("all", "24h")["satisfaction"], (100 + 0 + 50 + 50) / 4)

    def test_lateness_limits(self):
        d = self.daemon()
        t = now_ms()
        self.assertEqual(d.ack(fb("old", 5, ts=t - 24 * HOUR_MS - 60_000))["error"], "too_old")
        self.assertEqual(d.ack(fb("future", 5, ts=t + 5 * MINUTE_MS + 60_000))["error"], "in_future")
        self.assertEqual(d.count("all", "7d"), 0)


class WeightsTest(DaemonTestCase):
    def test_weights_override(self):
        d = self.daemon("[weights]\nreliability = 1\nresponsiveness = 0\nassurance = 0\nempathy = 3\ntangibles = 0\n")
        acks = d.send_reliable(dataset(now_ms() - 20_000) + [
            fb("E7", 5, agent="rita", rater={"responsiveness": 5})])
        self.assertEqual([a["status"] for a in acks], ["ok"] * 7)
        # all: rel 75, emp 87.5 carry weight
        self.assertAlmostEqual(d.indices("all")["rater_index"], (1 * 75 + 3 * 87.5) / 4)
        # beta: only reliability of the weighted dims has samples
        self.assertAlmostEqual(d.indices("team:beta")["rater_index"], 100)
        self.assertAlmostEqual(d.indices("team:alpha")["rater_index"], (1 * 62.5 + 3 * 75) / 4)
        # only a zero-weight dimension has samples: nothing to average
        rita = d.indices("agent:rita")
        self.assertAlmostEqual(rita["rater.responsiveness"], 100)
        self.assertIsNone(rita["rater_index"])
        # the per-dimension means do not depend on weights (E7 adds a
        # responsiveness of 100 to scope all)
        want = {k: v for k, v in EXPECTED["all"].items() if k.startswith("rater.")}
        want["rater.responsiveness"] = (75 + 0 + 100) / 3
        self.assertIndices(d.indices("all"), want)

    def test_partial_override_keeps_other_defaults(self):
        d = self.daemon("[weights]\nreliability = 0.5\n")
        d.send_reliable(dataset(now_ms() - 20_000))
        w = dict(W, reliability=.5)
        want = (w["reliability"] * 75 + w["assurance"] * 50 + w["tangibles"] * 100 + w["empathy"] * 87.5 +
                w["responsiveness"] * 37.5) / sum(w.values())
        self.assertAlmostEqual(d.indices("all")["rater_index"], want)


class ScaleTest(DaemonTestCase):
    def test_csat_top_two_points(self):
        """csat counts the top two points of each event's own scale."""
        d = self.daemon()
        t = now_ms()
        cases = [  # (scale, score, in top two)
            (5, 5, True), (5, 4, True), (5, 3, False),
            (10, 10, True), (10, 9, True), (10, 8, False),
            (3, 2, True), (100, 99, True), (100, 98, False), (7, 5, False),
        ]
        d.send_reliable([fb("s%d" % i, score, scale=scale, ts=t, team="s%d" % i)
                         for i, (scale, score, _) in enumerate(cases)])
        for i, (scale, score, top) in enumerate(cases):
            with self.subTest(scale=scale, score=score):
                got = d.indices("team:s%d" % i)
                self.assertEqual(got["csat"], 100 if top else 0)
                self.assertAlmostEqual(got["satisfaction"], 100 * (score - 1) / (scale - 1))
        self.assertAlmostEqual(d.indices("all")["csat"], 100 * 6 / 10)

    def test_nps_buckets(self):
        d = self.daemon()
        answers = list(range(11)) + [10, 9]  # 0..10, plus two promoters
        d.send_reliable([fb("n%d" % i, 3, nps=a) for i, a in enumerate(answers)])
        promoters = sum(1 for a in answers if a >= 9)   # 9, 10, 10, 9 -> 4
        detractors = sum(1 for a in answers if a <= 6)  # 0..6 -> 7
        self.assertEqual((promoters, detractors), (4, 7))
        self.assertAlmostEqual(d.indices("all")["nps"], 100 * (4 - 7) / 13)


if __name__ == "__main__":
    unittest.main()
