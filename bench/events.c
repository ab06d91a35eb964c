/* bench/events.c: EventSet and the feedback generator. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "events.h"

static const char *const kind_topics[_BK_MAX] = {"feedback", "ticket", "complaint"};

const char *bench_kind_topic(BenchKind k) {
        return kind_topics[k];
}

void agent_names(unsigned agent, char *agent_s, size_t agent_len, char *team_s, size_t team_len) {
        snprintf(agent_s, agent_len, "agent-%05u", agent);
        snprintf(team_s, team_len, "team-%03u", agent % N_TEAMS);
}

unsigned pick_score(Rng *r) {
        static const unsigned weights[5] = {6, 7, 14, 35, 38};

        return rng_pick(r, weights, 5) + 1;
}

void pack_feedback(msgpack_packer *pk, Rng *r, const char *id, int64_t ts, const char *team, const char *agent,
                   unsigned score) {
        static const char *const channels[4] = {"phone", "email", "chat", "web"};
        const char *dims[5] = {"reliability", "assurance", "tangibles", "empathy", "responsiveness"};
        unsigned n_dims = 2 + rng_below(r, 4);
        int nps = (int)(2 * score) - (int)rng_below(r, 3);

        msgpack_pack_map(pk, 6 + (agent != NULL) + (team != NULL));
        pack_cstr(pk, "id");
        pack_cstr(pk, id);
        pack_cstr(pk, "ts");
        msgpack_pack_int64(pk, ts);
        if (team) {
                pack_cstr(pk, "team");
                pack_cstr(pk, team);
        }
        if (agent) {
                pack_cstr(pk, "agent");
                pack_cstr(pk, agent);
        }
        pack_cstr(pk, "channel");
        pack_cstr(pk, channels[rng_below(r, 4)]);
        pack_cstr(pk, "score");
        msgpack_pack_unsigned_int(pk, score);
        pack_cstr(pk, "rater");
        msgpack_pack_map(pk, n_dims);
        for (unsigned d = 0; d < n_dims; d++) {
                /* partial Fisher-Yates: n_dims distinct dimensions */
                unsigned j = d + rng_below(r, 5 - d), v = score + rng_below(r, 3);
                const char *t = dims[d];
                dims[d] = dims[j];
                dims[j] = t;
                v = v < 2 ? 1 : v - 1 > 5 ? 5 : v - 1;
                pack_cstr(pk, dims[d]);
                msgpack_pack_unsigned_int(pk, v);
        }
        pack_cstr(pk, "nps");
        msgpack_pack_unsigned_int(pk, (unsigned)(nps < 0 ? 0 : nps > 10 ? 10 : nps));
}

int event_set_begin(EventSet *set, size_t n, msgpack_sbuffer *sb) {
        *set = (EventSet){.n = n, .built_ms = wall_ms(), .off = malloc((n + 1) * sizeof(size_t)), .kind = calloc(n ? n : 1, 1)};
        if (!set->off || !set->kind) {
                event_set_free(set);
                return -ENOMEM;
        }
        msgpack_sbuffer_init(sb);
        return 0;
}

int event_set_finish(EventSet *set, msgpack_sbuffer *sb) {
        set->off[set->n] = sb->size;
        set->data = msgpack_sbuffer_release(sb);
        return set->data || set->n == 0 ? 0 : -ENOMEM;
}

int event_set_build_feedback(EventSet *set, size_t n, const char *tag, uint64_t seed) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        Rng r = {seed | 1};
        int rc;

        if ((rc = event_set_begin(set, n, &sb)) < 0)
                return rc;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        for (size_t i = 0; i < n; i++) {
                char id[64], team[16], agent[16];
                unsigned a = rng_below(&r, N_AGENTS);

                agent_names(a, agent, sizeof(agent), team, sizeof(team));
                snprintf(id, sizeof(id), "%s-%07zu", tag, i);
                set->off[i] = sb.size;
                set->kind[i] = BK_FEEDBACK;
                pack_feedback(&pk, &r, id, wall_ms(), team, agent, pick_score(&r));
        }
        return event_set_finish(set, &sb);
}

void event_set_free(EventSet *set) {
        free(set->data);
        free(set->off);
        free(set->kind);
        free(set->ts_at);
        *set = (EventSet){0};
}

int event_set_track_ts(EventSet *set) {
        set->ts_at = calloc(set->n ? set->n : 1, 1);
        if (!set->ts_at)
                return -ENOMEM;
        for (size_t i = 0; i < set->n; i++) {
                const uint8_t *p = (const uint8_t *)set->data + set->off[i];
                size_t len = set->off[i + 1] - set->off[i];

                /* fixstr "ts", then uint64 (0xcf) or int64 (0xd3): ids and
                 * names are ASCII, so 0xa2 't' 's' is the key and nothing else. */
                for (size_t k = 0; k + 12 <= len && k < 240; k++)
                        if (p[k] == 0xa2 && p[k + 1] == 't' && p[k + 2] == 's' && (p[k + 3] == 0xcf || p[k + 3] == 0xd3)) {
                                set->ts_at[i] = (uint8_t)(k + 4);
                                break;
                        }
        }
        return 0;
}

void event_set_shift_ts(EventSet *set, size_t i, int64_t shift_ms) {
        uint8_t *p;
        uint64_t v = 0;

        if (!set->ts_at || !set->ts_at[i])
                return;
        p = (uint8_t *)set->data + set->off[i] + set->ts_at[i];
        for (int k = 0; k < 8; k++)
                v = v << 8 | p[k];
        v += (uint64_t)shift_ms;
        for (int k = 7; k >= 0; k--, v >>= 8)
                p[k] = (uint8_t)v;
}

int send_event(void *sock, const EventSet *set, size_t i, int flags) {
        const char *topic = kind_topics[set->kind[i]];

        if (zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE | flags) < 0 ||
            zmq_send(sock, set->data + set->off[i], set->off[i + 1] - set->off[i], flags) < 0)
                return -errno;
        return 0;
}

int send_all(void *sock, const EventSet *set) {
        for (size_t i = 0; i < set->n; i++) {
                int r = send_event(sock, set, i, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

double event_set_mean_bytes(const EventSet *set) {
        return set->n ? (double)set->off[set->n] / (double)set->n : 0;
}
