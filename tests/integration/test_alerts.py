#!/usr/bin/python3
"""Alerts end to end (CONTRACT.md sections 4, 5 and 6) against the real
raterd, raterctl and a ZeroMQ subscriber on the alert PUB socket: a csat
rule on team:* firing and resolving through its hysteresis band (every
field and its msgpack type), min_samples, `for` (pending visible in
`raterctl alerts`), repeat, silences, reloads by SIGHUP and `raterctl
reload`, the SLA breach notice, and a kill -9 with a firing alert."""
import json
import re
import time
import unittest

from harness import DaemonTestCase, event, fb, now_ms, wait_until

CSAT_RULE = ("[rule csat-drop]\nindex = csat\nscope = team:*\nwindow = 1h\nbelow = 80\nclear = 85\n"
             "severity = warning\n")

FIELDS = {"v", "id", "kind", "rule", "scope", "index", "window", "value", "threshold", "clear", "op",
          "state", "severity", "samples", "since", "ts"}

_n = iter(range(1, 1 << 30))


def feedback(team, score, n):
    """n feedback events of `score` (of 5) for team."""
    return [fb("f%d" % next(_n), score, team=team) for _ in range(n)]


class AlertsTestCase(DaemonTestCase):
    def setUp(self):
        self.subs = []

    def tearDown(self):
        for s in self.subs:
            s.close()

    def sub(self, d):
        s = d.subscribe()
        self.subs.append(s)
        return s

    def send(self, d, events):
        acks = d.send_reliable(events)
        self.assertEqual([a["status"] for a in acks], ["ok"] * len(events), acks)

    def ctl(self, d, *args, want=0):
        rc, out, err = d.raterctl(*args)
        self.assertEqual(rc, want, "raterctl %s: exit %d\n%s%s" % (" ".join(map(str, args)), rc, out, err))
        return out, err

    def ctl_json(self, d, *args):
        out, _ = self.ctl(d, "--json", *args)
        return json.loads(out)

    def alerts(self, d, *args):
        return self.ctl_json(d, "alerts", *args)["alerts"]

    def assertNothing(self, s, seconds):
        got = s.recv_all(quiet=seconds, timeout=seconds + 1)
        self.assertEqual(got, [], "no alert expected")

    def assertNotice(self, topic, a, **want):
        """Contract fields and types of one threshold notice."""
        self.assertTrue(FIELDS <= set(a), "missing fields: %s" % (FIELDS - set(a)))
        self.assertEqual(topic, "alert.%s.%s" % (a["severity"], a["rule"]))
        self.assertEqual(a["v"], 1)
        self.assertRegex(a["id"], r"^[0-9a-f]{32}$")
        for k in ("value", "threshold", "clear"):
            self.assertIsInstance(a[k], float, k)
        for k in ("samples", "since", "ts"):
            self.assertIsInstance(a[k], int, k)
        for k in ("kind", "rule", "scope", "index", "window", "op", "state", "severity"):
            self.assertIsInstance(a[k], str, k)
        self.assertLessEqual(a["since"], a["ts"])
        self.assertLess(abs(a["ts"] - now_ms()), 10_000)
        for k, v in want.items():
            if isinstance(v, float):
                self.assertAlmostEqual(a[k], v, places=6, msg=k)
            else:
                self.assertEqual(a[k], v, k)


class ThresholdTest(AlertsTestCase):
    def test_fire_and_resolve_through_the_band(self):
        d = self.daemon(CSAT_RULE)
        s = self.sub(d)
        self.send(d, feedback("x", 5, 10))
        self.assertNothing(s, 1.5)  # csat 100, and a full pass ran

        t0 = now_ms()
        self.send(d, feedback("x", 1, 10))  # 10/20 -> csat 50
        topic, a = s.recv(3)
        self.assertNotice(topic, a, kind="threshold", rule="csat-drop", scope="team:x", index="csat", window="1h",
                          value=50.0, threshold=80.0, clear=85.0, op="below", state="firing", severity="warning",
                          samples=20)
        self.assertNotIn("ticket", a)
        self.assertGreaterEqual(a["since"], t0 - 1000)
        self.assertEqual(d.status()["alerts_firing"], 1)
        out, _ = self.ctl(d, "status")
        self.assertRegex(out, r"alerts firing\s+1")

        # 40/50 = 80 and 50/60 = 83.3: inside the band, still firing.
        self.send(d, feedback("x", 5, 30))
        self.send(d, feedback("x", 5, 10))
        self.assertNothing(s, 1.5)
        cur = self.alerts(d)
        self.assertEqual(len(cur), 1, cur)
        self.assertEqual((cur[0]["rule"], cur[0]["scope"], cur[0]["state"], cur[0]["severity"], cur[0]["index"],
                          cur[0]["window"], cur[0]["threshold"], cur[0]["since"]),
                         ("csat-drop", "team:x", "firing", "warning", "csat", "1h", 80, a["since"]))
        self.assertAlmostEqual(cur[0]["value"], 250 / 3, places=6)
        out, _ = self.ctl(d, "alerts")
        self.assertRegex(out, r"csat-drop\s+team:x\s+csat\s+1h\s+83\.33\s+80\.00\s+firing\s+warning")

        # 70/80 = 87.5 >= clear 85: resolved.
        self.send(d, feedback("x", 5, 20))
        topic, r = s.recv(3)
        self.assertNotice(topic, r, rule="csat-drop", scope="team:x", state="resolved", value=87.5, samples=80,
                          since=a["since"])
        self.assertNotEqual(r["id"], a["id"])
        self.assertNothing(s, 1.2)
        self.assertEqual(self.alerts(d), [])
        self.assertEqual(d.status()["alerts_firing"], 0)

        hist = self.alerts(d, "--history")
        self.assertEqual([h["state"] for h in hist], ["resolved", "firing"], "newest first")
        self.assertEqual(self.alerts(d, "--history", "--since", "1h"), hist)
        rules = self.ctl_json(d, "rules")["rules"]
        self.assertEqual([(x["name"], x["firing"]) for x in rules], [("csat-drop", 0)])
        out, _ = self.ctl(d, "rules")
        lines = out.splitlines()
        self.assertEqual(lines[0].split()[0], "name")
        self.assertEqual(lines[0].split()[-1], "firing")
        self.assertEqual((lines[1].split()[0], lines[1].split()[-1]), ("csat-drop", "0"))

    def test_min_samples_and_for(self):
        d = self.daemon("[rule slow]\nindex = csat\nscope = team:b\nwindow = 1h\nbelow = 80\n"
                        "min_samples = 5\nfor = 2s\nseverity = critical\n")
        s = self.sub(d)
        self.send(d, feedback("b", 1, 4))
        self.assertNothing(s, 1.5)
        self.assertEqual(self.alerts(d), [], "4 samples < min_samples: no evaluation")

        self.send(d, feedback("b", 1, 1))
        pending = wait_until(lambda: self.alerts(d), timeout=3, msg="pending listed")
        self.assertEqual((pending[0]["state"], pending[0]["rule"], pending[0]["scope"]), ("pending", "slow", "team:b"))
        topic, a = s.recv(5)
        self.assertEqual(topic, "alert.critical.slow")
        self.assertNotice(topic, a, state="firing", samples=5, value=0.0)
        self.assertGreaterEqual(a["since"] - pending[0]["since"], 2000, "fires only after `for`")
        self.assertEqual(self.alerts(d)[0]["state"], "firing")
        hist = self.alerts(d, "--history")
        self.assertEqual([h["state"] for h in hist], ["firing", "pending"])

    def test_repeat(self):
        d = self.daemon(CSAT_RULE + "repeat = 2s\n")
        s = self.sub(d)
        self.send(d, feedback("r", 1, 3))
        _, first = s.recv(3)
        got = [first]
        deadline = time.monotonic() + 6.5
        while time.monotonic() < deadline:
            try:
                got.append(s.recv(max(0.05, deadline - time.monotonic()))[1])
            except AssertionError:
                break
        # Repeats are due every 2s from `since` and come with the next
        # evaluation, at most about a second later.
        self.assertIn(len(got) - 1, (2, 3), got)
        for k, a in enumerate(got[1:], 1):
            self.assertEqual((a["state"], a["since"], a["rule"], a["scope"]), ("firing", first["since"],
                                                                               "csat-drop", "team:r"))
            self.assertGreaterEqual(a["ts"] - first["since"], 2000 * k, got)
            self.assertLessEqual(a["ts"] - first["since"], 2000 * k + 1500, got)
        self.assertEqual(len({a["id"] for a in got}), len(got), "a new id each time")
        self.assertEqual([h["state"] for h in self.alerts(d, "--history")], ["firing"], "repeats are no transitions")


class SilenceTest(AlertsTestCase):
    def test_silence_add_list_rm(self):
        d = self.daemon(CSAT_RULE)
        s = self.sub(d)
        added = self.ctl_json(d, "silence", "add", "csat-drop", "--scope", "team:s", "--for", "1h",
                              "--comment", "planned outage")
        sid = added["id"]
        self.assertEqual((added["rule"], added["scope"], added["comment"]), ("csat-drop", "team:s", "planned outage"))
        self.assertAlmostEqual(added["until"] - added["created"], 3_600_000, delta=1)
        listed = self.ctl_json(d, "silence", "list")["silences"]
        self.assertEqual([x["id"] for x in listed], [sid])
        out, _ = self.ctl(d, "silence", "list")
        self.assertIn("planned outage", out)
        # A table for humans: a header row, then one row per silence.
        lines = out.splitlines()
        self.assertEqual(lines[0].split()[:3], ["id", "rule", "scope"])
        self.assertEqual(lines[1].split()[:3], [str(sid), "csat-drop", "team:s"])

        # Silenced: changes state, is recorded, is not published.
        self.send(d, feedback("s", 1, 3) + feedback("other", 1, 3))
        topic, a = s.recv(3)
        self.assertEqual(a["scope"], "team:other")
        self.assertNothing(s, 1.5)
        cur = {c["scope"]: c for c in self.alerts(d)}
        self.assertEqual(cur["team:s"]["state"], "firing")
        self.assertTrue(cur["team:s"]["silenced"])
        self.assertFalse(cur["team:other"]["silenced"])
        self.assertEqual(d.status()["alerts_firing"], 2)
        hist = {h["scope"]: h for h in self.alerts(d, "--history")}
        self.assertTrue(hist["team:s"]["silenced"])

        # Refusals: unknown rule (1), missing --for (2), unknown id (1).
        self.ctl(d, "silence", "add", "no-such-rule", "--for", "1h", want=1)
        self.ctl(d, "silence", "add", "csat-drop", want=2)
        self.ctl(d, "silence", "add", "csat-drop", "--for", "1h", "--scope", "region:eu", want=1)
        self.ctl(d, "silence", "rm", "999", want=1)

        self.ctl(d, "silence", "rm", str(sid))
        self.assertEqual(self.ctl_json(d, "silence", "list")["silences"], [])
        self.ctl(d, "silence", "rm", str(sid), want=1)
        self.send(d, feedback("s", 5, 30))
        topic, r = s.recv(3)
        self.assertEqual((r["scope"], r["state"]), ("team:s", "resolved"), "published once the silence is gone")


class ReloadTest(AlertsTestCase):
    TWO = CSAT_RULE + "[rule sat-low]\nindex = satisfaction\nscope = team:*\nwindow = 5m\nbelow = 50\n"

    def wait_rules(self, d, names):
        return wait_until(lambda: sorted(r["name"] for r in self.ctl_json(d, "rules")["rules"]) == sorted(names),
                          timeout=5, msg="rules %s" % names)

    def test_reload_by_sighup_and_raterctl(self):
        d = self.daemon(self.TWO)
        s = self.sub(d)
        self.send(d, feedback("r", 1, 5))
        got = {a["rule"]: a for _, a in (s.recv(3), s.recv(3))}
        self.assertEqual(set(got), {"csat-drop", "sat-low"})
        self.assertEqual(d.status()["alerts_firing"], 2)

        # SIGHUP without sat-low: its alert is resolved and published.
        d.write_config(CSAT_RULE)
        d.sighup()
        topic, r = s.recv(3)
        self.assertNotice(topic, r, rule="sat-low", scope="team:r", state="resolved", index="satisfaction",
                          window="5m", threshold=50.0, since=got["sat-low"]["since"])
        self.wait_rules(d, ["csat-drop"])
        self.assertEqual(d.status()["alerts_firing"], 1, "csat-drop kept its state")
        self.assertNothing(s, 1.2)

        # raterctl reload with sat-low back: it fires again at the next pass.
        d.write_config(self.TWO)
        out = self.ctl_json(d, "reload")
        self.assertEqual(out["rules"], 2)
        topic, a = s.recv(3)
        self.assertEqual((a["rule"], a["state"]), ("sat-low", "firing"))
        rules = {r["name"]: r for r in self.ctl_json(d, "rules")["rules"]}
        self.assertEqual((rules["csat-drop"]["firing"], rules["sat-low"]["firing"]), (1, 1))
        self.assertEqual((rules["csat-drop"]["scope"], rules["csat-drop"]["clear"], rules["csat-drop"]["op"]),
                         ("team:*", 85, "below"))

        # A refused file keeps the rules in force, on either path.
        d.write_config(self.TWO + "[rule broken]\nindex = grade\nscope = all\nwindow = 1h\nbelow = 70\n")
        _, err = self.ctl(d, "reload", want=1)
        self.assertRegex(err, re.escape(d.config_path) + r":\d+: rule 'broken'")
        d.sighup()
        wait_until(lambda: "rules not reloaded" in d.log(), timeout=5, msg="SIGHUP error logged")
        self.assertTrue(d.alive())
        self.wait_rules(d, ["csat-drop", "sat-low"])

        # raterctl reload without csat-drop: resolved.
        d.write_config("[rule sat-low]\nindex = satisfaction\nscope = team:*\nwindow = 5m\nbelow = 50\n")
        self.ctl(d, "reload")
        topic, r = s.recv(3)
        self.assertEqual((r["rule"], r["state"], r["scope"]), ("csat-drop", "resolved", "team:r"))
        self.assertEqual(d.status()["alerts_firing"], 1)


class BreachTest(AlertsTestCase):
    def test_sla_breach_published_once_near_its_deadline(self):
        d = self.daemon("[sla]\nfirst_response.normal = 2s\nbreach_alert = warning\n")
        s = self.sub(d)
        opened = now_ms()
        self.send(d, [event("ticket", "tk-1", ts=opened, ticket="T-1", status="opened", team="support")])
        topic, a = s.recv(6)
        arrived = now_ms()
        self.assertEqual(topic, "alert.warning.sla-breach")
        self.assertTrue(FIELDS | {"ticket"} <= set(a), set(a))
        self.assertEqual((a["kind"], a["rule"], a["ticket"], a["state"], a["severity"], a["scope"]),
                         ("sla_breach", "sla-breach", "T-1", "firing", "warning", "team:support"))
        self.assertIsInstance(a["value"], float)
        self.assertEqual(a["since"], opened + 2000, "since = the deadline")
        self.assertLessEqual(arrived - a["since"], 1500, "within about a second of the deadline")
        self.assertNothing(s, 2.5)  # exactly once
        hist = self.alerts(d, "--history")
        self.assertEqual([(h["kind"], h["ticket"]) for h in hist], [("sla_breach", "T-1")])


class RestartTest(AlertsTestCase):
    def test_kill9_with_a_firing_alert(self):
        d = self.daemon(CSAT_RULE)
        s = self.sub(d)
        self.send(d, feedback("k", 1, 4))
        _, a = s.recv(3)
        self.assertEqual((a["state"], a["scope"]), ("firing", "team:k"))

        d.kill9()
        d.start()
        s.wait_connected(10)
        self.assertNothing(s, 2.5)  # a restart never repeats a firing notice
        cur = self.alerts(d)
        self.assertEqual([(c["rule"], c["scope"], c["state"], c["since"]) for c in cur],
                         [("csat-drop", "team:k", "firing", a["since"])])
        self.assertEqual(d.status()["alerts_firing"], 1)

        self.send(d, feedback("k", 5, 40))  # 40/44 -> 90.9
        _, r = s.recv(3)
        self.assertEqual((r["state"], r["scope"], r["since"]), ("resolved", "team:k", a["since"]))
        self.assertEqual(d.status()["alerts_firing"], 0)

        # And after a clean restart the resolved alert stays quiet.
        d.restart()
        s.wait_connected(10)
        self.assertNothing(s, 1.5)
        self.assertEqual(self.alerts(d), [])


if __name__ == "__main__":
    unittest.main()
