/* bench/events.h: EventSet, pre-encoded event messages kept in memory so no
 * encoding happens while a phase is timed, and the feedback generator the
 * benchmarks share.
 */
#pragma once

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum { BK_FEEDBACK = 0, BK_TICKET, BK_COMPLAINT, _BK_MAX } BenchKind;

/* N msgpack payloads back to back; payload i is data[off[i] .. off[i+1])
 * and is sent under the topic of kind[i]. */
typedef struct {
        char *data;
        size_t *off;
        uint8_t *kind; /* BenchKind */
        uint8_t *ts_at; /* where the 8 bytes of `ts` start in payload i (0: unknown); see event_set_track_ts */
        int64_t built_ms; /* wall clock when the set was built */
        size_t n;
} EventSet;

#define N_TEAMS 200
#define N_AGENTS 10000

/* The topic (event kind name) of a BenchKind. */
const char *bench_kind_topic(BenchKind k);

/* Agent a belongs to team a % N_TEAMS, always. */
void agent_names(unsigned agent, char *agent_s, size_t agent_len, char *team_s, size_t team_len);

/* A feedback score on 1..5 leaning positive, as real CSAT surveys do. */
unsigned pick_score(Rng *r);

/* Packs one feedback map: id, ts, team, agent, channel, score (1..5),
 * 2-5 RATER dimensions around the score and an NPS answer. team may be
 * NULL (taken from the agent) and agent may be NULL (no agent field). */
void pack_feedback(msgpack_packer *pk, Rng *r, const char *id, int64_t ts, const char *team, const char *agent,
                   unsigned score);

/* n feedback events of random agents, ids "<tag>-<i>", ts = now. Returns 0
 * or -ENOMEM. */
int event_set_build_feedback(EventSet *set, size_t n, const char *tag, uint64_t seed);

/* Allocates the offset and kind arrays for n events; the caller packs into
 * sb and calls event_set_finish. Returns 0 or -ENOMEM. */
int event_set_begin(EventSet *set, size_t n, msgpack_sbuffer *sb);
int event_set_finish(EventSet *set, msgpack_sbuffer *sb);

void event_set_free(EventSet *set);

/* Finds the `ts` value (a 64-bit msgpack integer) in every payload, so a
 * sender can move event times to its own clock: a set built minutes before
 * it is sent still carries current times. Returns 0 or -ENOMEM. */
int event_set_track_ts(EventSet *set);
/* Adds shift_ms to the `ts` of event i (nothing when it was not found). */
void event_set_shift_ts(EventSet *set, size_t i, int64_t shift_ms);

/* Sends event i as the two frames of the contract (topic, payload) with
 * the given extra flags (ZMQ_DONTWAIT). Returns 0 or a negative errno. */
int send_event(void *sock, const EventSet *set, size_t i, int flags);
/* All N at once; with SNDHWM 0 this never blocks, the queue grows. */
int send_all(void *sock, const EventSet *set);
/* Mean payload size. */
double event_set_mean_bytes(const EventSet *set);
