/* bench/mix.h: the realistic event mix of bench-ingest --mix.
 *
 * 60 % ticket, 30 % feedback, 10 % complaint events over N_AGENTS agents in
 * N_TEAMS teams (an agent stays in its team), channels phone/email/chat/web.
 * Tickets and complaints are real lifecycles, kept in two rings of active
 * items: each ticket or complaint event picks a random slot and either
 * opens a new item there or takes the next step of the one it holds, so
 * lifecycles interleave the way independent conversations do.
 *   ticket:    opened, responded (30 % a second one), resolved, 8 % then
 *              reopened, responded, resolved again; 3 % are left open
 *              unanswered (backlog, SLA breaches when their deadline passes);
 *              priorities low 20 %, normal 55 %, high 18 %, urgent 7 %; a
 *              quarter of the urgent ones are answered after their 15 min.
 *   complaint: opened, then 85 % resolved with an outcome, the rest left
 *              open; 30 % come from a pool of 5,000 frequent complainers,
 *              so repeat complaints happen.
 * Event times: each lifecycle is laid out backwards from the moment it is
 * generated, within the last half hour (first responses from 10 s to 15
 * min, resolutions minutes later), feedback within the last minute, so
 * every `ts` lies inside [now - allowed_lateness, now] when it is sent and
 * a ticket that meets its SLA is answered before its deadline passes.
 * Every event id is unique.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "events.h"

typedef struct {
        size_t kind[_BK_MAX];
        size_t ticket_status[4]; /* opened, responded, resolved, reopened */
        size_t complaint_opened, complaint_resolved;
        size_t tickets_left_open, complaints_left_open; /* by design, never to be closed */
        size_t in_flight_tickets, in_flight_complaints; /* lifecycles cut off by the end of the run */
        int64_t oldest_ts;                              /* earliest event time generated */
} MixStats;

/* Builds n events of the mix with ids and item ids prefixed by tag. Returns 0
 * or -ENOMEM. */
int mix_build(EventSet *set, size_t n, const char *tag, uint64_t seed, MixStats *stats);

void mix_print(const MixStats *s, size_t n);
