/* tests/unit/test-config.c: the config table, parsers and validation pass
 * (CONTRACT.md section 5), one row per accepted or refused file. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "config/config.h"

typedef struct {
        const char *clause;
        const char *text;
        const char *error; /* NULL: accepted; else a substring of the message */
} Row;

static const Row rows[] = {
        {"5: an empty file runs", "", NULL},
        {"5: comments only", "; nothing\n# here\n", NULL},
        {"5: the contract's example",
         "[daemon]\nstate_dir = /var/lib/raterd     ; LMDB lives here\ncontrol = ipc:///run/raterd/control\n"
         "retention = 35d\ndedup_horizon = 7d\nallowed_lateness = 24h\n[ingest]\nbind = tcp://127.0.0.1:7400\n"
         "connect =\nreliable_bind = tcp://127.0.0.1:7401\nmax_message = 65536\n[alerts]\nbind = tcp://127.0.0.1:7402\n"
         "[sla]\nfirst_response.urgent = 15m\nfirst_response.high = 1h\nfirst_response.normal = 4h\n"
         "first_response.low = 24h\nbreach_alert = off\n[weights]\nreliability = 0.32\nresponsiveness = 0.22\n"
         "assurance = 0.19\nempathy = 0.16\ntangibles = 0.11\n[complaints]\nunhandled_after = 72h\n"
         "points.unhandled = -5\npoints.dissatisfied = -3\n[service_index]\nsatisfaction = 0.5\nsla = 0.3\n"
         "complaints = 0.2\n[rule csat-drop]\nindex = csat\nscope = team:*\nwindow = 1h\nbelow = 80\nclear = 85\n"
         "min_samples = 20\nfor = 5m\nseverity = warning\nrepeat = 1h\n",
         NULL},
        {"5: unknown key", "[daemon]\nstate_dir = /x\nbogus = 1\n", "t.conf:3: unknown key 'bogus' in [daemon]"},
        {"5: unknown section", "\n[nope]\na = 1\n", "t.conf:3: unknown section [nope]"},
        {"3: bad duration", "[daemon]\nretention = 35 days\n", "t.conf:2: invalid duration '35 days'"},
        {"3: duration without unit", "[daemon]\ndedup_horizon = 7\n", "t.conf:2: invalid duration"},
        {"5: negative size", "[ingest]\nmax_message = -1\n", "t.conf:2: invalid unsigned integer"},
        {"5: number with junk", "[weights]\nempathy = 0.1x\n", "t.conf:2: invalid number '0.1x'"},
        {"5: syntax error", "[daemon]\njust words\n", "t.conf:2: syntax error"},
        {"5: unclosed section", "[daemon\n", "t.conf:1:"},
        {"5: duplicate key", "[ingest]\nbind = a\nbind = b\n", "t.conf:3: duplicate key 'bind'"},
        {"5: severity", "[sla]\nbreach_alert = loud\n", "t.conf:2: invalid severity 'loud'"},
        {"5: rule without index", "[rule r1]\nscope = all\nwindow = 1h\nbelow = 5\n", "t.conf:2: rule 'r1' has no 'index'"},
        {"5: rule unknown index", "[rule r1]\nindex = happiness\nscope = all\nwindow = 1h\nbelow = 5\n",
         "unknown index 'happiness'"},
        {"5: rule bad scope", "[rule r1]\nindex = csat\nscope = region:eu\nwindow = 1h\nbelow = 5\n", "invalid scope"},
        {"5: rule both ops", "[rule r1]\nindex = csat\nscope = all\nwindow = 1h\nbelow = 5\nabove = 9\n",
         "t.conf:6: rule 'r1' has both"},
        {"5: rule no op", "[rule r1]\nindex = csat\nscope = all\nwindow = 1h\n", "needs 'below' or 'above'"},
        {"5: rule clear on the wrong side", "[rule r1]\nindex = csat\nscope = all\nwindow = 1h\nbelow = 80\nclear = 70\n",
         "'clear' must be on the healthy side"},
        {"5: rule severity off", "[rule r1]\nindex = csat\nscope = all\nwindow = 1h\nbelow = 8\nseverity = off\n",
         "t.conf:6: invalid severity 'off'"},
        {"5: rule bad name", "[rule bad name]\nindex = csat\n", "invalid rule name"},
        {"5: rule on grade (no number)", "[rule g]\nindex = grade\nscope = all\nwindow = 1h\nbelow = 80\n",
         "t.conf:2: rule 'g': index 'grade' is a word"},
        {"5: rule on a ticket index", "[rule t]\nindex = frt_p90\nscope = team:*\nwindow = 24h\nabove = 3600\n", NULL},
        {"5: rule scope patterns", "[rule a]\nindex = csat\nscope = agent:*\nwindow = 1h\nbelow = 80\n"
                                   "[rule b]\nindex = nps\nscope = channel:chat\nwindow = 5m\nbelow = 0\n"
                                   "[rule c]\nindex = csat\nscope = all\nwindow = 35d\nbelow = 80\n", NULL},
        {"5: rule scope with an empty name", "[rule r1]\nindex = csat\nscope = team:\nwindow = 1h\nbelow = 5\n",
         "t.conf:2: rule 'r1': invalid scope 'team:'"},
        {"5: rule channel name over 32 bytes",
         "[rule r1]\nindex = csat\nscope = channel:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nwindow = 1h\nbelow = 5\n",
         "invalid scope"},
        {"5: rule without scope", "[rule r1]\nindex = csat\nwindow = 1h\nbelow = 5\n", "rule 'r1' has no 'scope'"},
        {"5: rule window zero", "[rule r1]\nindex = csat\nscope = all\nwindow = 0s\nbelow = 5\n",
         "t.conf:2: rule 'r1' needs a positive 'window'"},
        {"5: rule window over retention", "[rule r1]\nindex = csat\nscope = all\nwindow = 36d\nbelow = 5\n",
         "window longer than retention"},
        {"5: rule threshold not a number", "[rule r1]\nindex = csat\nscope = all\nwindow = 1h\nbelow = low\n",
         "t.conf:5: invalid number 'low'"},
        {"5: rule min_samples negative", "[rule r1]\nmin_samples = -3\n", "t.conf:2: invalid unsigned integer"},
        {"5: rule unknown key", "[rule r1]\nindex = csat\nthreshold = 5\n", "t.conf:3: unknown key 'threshold' in [rule r1]"},
        {"5: rule section given twice",
         "[rule r1]\nindex = csat\n[rule r2]\nindex = nps\n[rule r1]\nscope = all\n", "t.conf:6: duplicate section [rule r1]"},
        {"4: rule name reserved for SLA breaches",
         "[rule sla-breach]\nindex = csat\nscope = all\nwindow = 1h\nbelow = 5\n", "reserved"},
        {"5: all weights zero",
         "[weights]\nreliability = 0\nresponsiveness = 0\nassurance = 0\nempathy = 0\ntangibles = 0\n",
         "at least one weight must be positive"},
        {"5: no ingest endpoint", "[ingest]\nbind =\nreliable_bind =\n", "no ingest endpoint"},
        {"5: overlong line", "[daemon]\nstate_dir = "
                             "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaa\n",
         "t.conf:2: line longer than"},
};

int main(void) {
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                Config c;
                char err[512] = "";
                int r;

                CHECK(config_init(&c) == 0, "init");
                r = config_load_string(&c, "t.conf", rows[i].text, err, sizeof(err));
                if (!rows[i].error)
                        CHECK(r == 0, "[%s] refused: %s", rows[i].clause, err);
                else
                        CHECK(r == CONFIG_E_INVALID && strstr(err, rows[i].error), "[%s] want error '%s', got %d '%s'",
                              rows[i].clause, rows[i].error, r, err);
                config_deinit(&c);
        }

        /* Values land in their fields; defaults fill the rest. */
        {
                Config c;
                char err[512] = "";
                config_init(&c);
                CHECK(config_load_string(&c, "t.conf",
                                         "[daemon]\nretention = 10d\n[weights]\nempathy = 0.5\n[sla]\n"
                                         "first_response.urgent = 2s\nbreach_alert = critical\n[rule x]\nindex = nps\n"
                                         "scope = team:*\nwindow = 15m\nabove = 10\n",
                                         err, sizeof(err)) == 0,
                      "%s", err);
                CHECK(c.retention_ms == 10LL * 86400000, "retention");
                CHECK(c.weights[RATER_EMPATHY] == 0.5 && c.weights[RATER_RELIABILITY] == 0.32, "weights");
                CHECK(c.first_response_ms[PRIORITY_URGENT] == 2000 && c.first_response_ms[PRIORITY_LOW] == 86400000,
                      "sla");
                CHECK(c.breach_alert == SEV_CRITICAL, "breach_alert");
                CHECK(c.path == NULL, "no path from a string");
                CHECK(c.dedup_horizon_ms == 7LL * 86400000 && c.max_message == 65536, "defaults");
                CHECK(strcmp(c.ingest_bind, "tcp://127.0.0.1:7400") == 0, "default bind");
                CHECK(c.n_rules == 1 && c.rules[0].op == RULE_ABOVE && c.rules[0].threshold == 10 &&
                              c.rules[0].clear == 10 && c.rules[0].min_samples == 1 && c.rules[0].window_ms == 900000 &&
                              c.rules[0].severity == SEV_WARNING,
                      "rule defaults");
                config_deinit(&c);
        }

        /* A file that cannot be read names itself. */
        {
                Config c;
                char err[512] = "";
                config_init(&c);
                CHECK(config_load(&c, "/nonexistent/raterd.conf", err, sizeof(err)) == -ENOENT &&
                              strstr(err, "/nonexistent/raterd.conf"),
                      "%s", err);
                config_deinit(&c);
        }
        CHECK_DONE();
}
