/* bench/mix.c: the realistic mix generator (tickets, feedback, complaints). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mix.h"

#define TICKET_RING 20000
#define COMPLAINT_RING 5000
#define N_CUSTOMERS 1000000
#define N_FREQUENT 5000
#define MAX_STEPS 8

/* Seconds a lifecycle that meets its SLA keeps clear of its first-response
 * deadline when laid out backwards from now: the events are sent a few
 * minutes after they are generated, and a response that arrives after the
 * deadline already passed would be scored a breach by the daemon's sweep. */
#define SLA_MARGIN_S 420
#define MAX_SPAN_S 1800

static const char *const channels[4] = {"phone", "email", "chat", "web"};
static const unsigned channel_weights[4] = {20, 35, 30, 15};
static const char *const priorities[4] = {"low", "normal", "high", "urgent"};
static const unsigned priority_weights[4] = {20, 55, 18, 7};
/* CONTRACT.md section 5 defaults, seconds */
static const int64_t sla_s[4] = {24 * 3600, 4 * 3600, 3600, 900};
static const char *const ticket_statuses[4] = {"opened", "responded", "resolved", "reopened"};
static const char *const severities[4] = {"low", "medium", "high", "critical"};
static const unsigned severity_weights[4] = {30, 45, 18, 7};
static const char *const categories[5] = {"billing", "delivery", "quality", "staff", "other"};
static const char *const outcomes[5] = {"dissatisfied", "somewhat_dissatisfied", "basically_satisfied", "satisfied",
                                        "very_satisfied"};
static const unsigned outcome_weights[5] = {15, 20, 25, 28, 12};

enum { ST_OPENED = 0, ST_RESPONDED, ST_RESOLVED, ST_REOPENED };

typedef struct {
        uint32_t seq; /* 0: free slot */
        uint16_t agent;
        uint8_t channel, priority;
        uint8_t step, n_steps;
        uint8_t status[MAX_STEPS];
        uint32_t customer;
        int64_t ts[MAX_STEPS];
} Ticket;

typedef struct {
        uint32_t seq; /* 0: free slot */
        uint16_t agent;
        uint8_t channel, severity, category, outcome;
        bool resolves;
        uint32_t customer;
        int64_t opened_ts, resolved_ts;
} Complaint;

typedef struct {
        Rng r;
        const char *tag;
        msgpack_packer pk;
        MixStats *stats;
        uint32_t ticket_seq, complaint_seq;
        Ticket *tickets;
        Complaint *complaints;
} Mix;

static int64_t between(Rng *r, int64_t lo, int64_t hi) {
        return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* Lays out a ticket's lifecycle backwards from now (ms), compressed into the
 * last half hour: a live stream carries each event at about its own time,
 * so a lifecycle spread over hours would scatter one run's events over
 * hundreds of minute buckets that live traffic fills one at a time. */
static void plan_ticket(Mix *m, Ticket *t, int64_t now) {
        static const unsigned frt_weights[3] = {60, 30, 10};
        Rng *r = &m->r;
        int64_t off[MAX_STEPS], frt, budget, total, jitter;
        unsigned n = 0, band;
        bool breach;

        t->seq = ++m->ticket_seq;
        t->agent = (uint16_t)rng_below(r, N_AGENTS);
        t->channel = (uint8_t)rng_pick(r, channel_weights, 4);
        t->priority = (uint8_t)rng_pick(r, priority_weights, 4);
        t->customer = rng_below(r, N_CUSTOMERS);
        t->step = 0;

        t->status[n] = ST_OPENED;
        off[n++] = 0;
        if (rng_below(r, 100) < 3) {
                /* Left open and unanswered: backlog, and a breach once its
                 * deadline passes. */
                m->stats->tickets_left_open++;
                t->n_steps = 1;
                t->ts[0] = now - between(r, 0, 600) * 1000;
                return;
        }
        /* A quarter of urgent tickets are answered after their 15 min. */
        breach = t->priority == 3 && rng_below(r, 100) < 25;
        budget = breach ? MAX_SPAN_S : sla_s[t->priority] - SLA_MARGIN_S;
        if (budget > MAX_SPAN_S)
                budget = MAX_SPAN_S;
        band = rng_pick(r, frt_weights, 3);
        frt = band == 0 ? between(r, 10, 120) : band == 1 ? between(r, 120, 480) : between(r, 480, 900);
        if (breach)
                frt = sla_s[t->priority] + between(r, 30, 600);
        else if (frt > budget / 2)
                frt = between(r, 10, budget / 2);
        t->status[n] = ST_RESPONDED;
        off[n++] = frt;
        if (rng_below(r, 100) < 30) {
                t->status[n] = ST_RESPONDED;
                off[n] = off[n - 1] + between(r, 30, 300);
                n++;
        }
        t->status[n] = ST_RESOLVED;
        off[n] = off[n - 1] + between(r, 60, 600);
        n++;
        if (rng_below(r, 100) < 8) {
                t->status[n] = ST_REOPENED;
                off[n] = off[n - 1] + between(r, 60, 300);
                n++;
                t->status[n] = ST_RESPONDED;
                off[n] = off[n - 1] + between(r, 30, 180);
                n++;
                t->status[n] = ST_RESOLVED;
                off[n] = off[n - 1] + between(r, 60, 300);
                n++;
        }
        /* Squeeze what follows the first response into the budget. */
        total = off[n - 1];
        if (total > budget && budget > frt)
                for (unsigned i = 2; i < n; i++)
                        off[i] = frt + (off[i] - frt) * (budget - frt) / (total - frt);
        total = off[n - 1];
        t->n_steps = (uint8_t)n;
        jitter = between(r, 0, 30000);
        for (unsigned i = 0; i < n; i++)
                t->ts[i] = now - (total - off[i]) * 1000 - jitter;
}

static void pack_common(Mix *m, const char *id, int64_t ts, unsigned agent, unsigned channel, unsigned customer) {
        char agent_s[16], team_s[16], customer_s[24];

        agent_names(agent, agent_s, sizeof(agent_s), team_s, sizeof(team_s));
        snprintf(customer_s, sizeof(customer_s), "cust-%07u", customer);
        pack_cstr(&m->pk, "id");
        pack_cstr(&m->pk, id);
        pack_cstr(&m->pk, "ts");
        msgpack_pack_int64(&m->pk, ts);
        pack_cstr(&m->pk, "team");
        pack_cstr(&m->pk, team_s);
        pack_cstr(&m->pk, "agent");
        pack_cstr(&m->pk, agent_s);
        pack_cstr(&m->pk, "channel");
        pack_cstr(&m->pk, channels[channel]);
        pack_cstr(&m->pk, "customer");
        pack_cstr(&m->pk, customer_s);
}

static void emit_ticket(Mix *m, const char *id, int64_t now) {
        Ticket *t = &m->tickets[rng_below(&m->r, TICKET_RING)];
        char ticket_id[48];
        unsigned st;
        int64_t ts;

        if (!t->seq || t->step >= t->n_steps)
                plan_ticket(m, t, now);
        st = t->status[t->step];
        ts = t->ts[t->step];
        t->step++;
        snprintf(ticket_id, sizeof(ticket_id), "%s-T%" PRIu32, m->tag, t->seq);

        msgpack_pack_map(&m->pk, st == ST_OPENED ? 9 : 8);
        pack_common(m, id, ts, t->agent, t->channel, t->customer);
        pack_cstr(&m->pk, "ticket");
        pack_cstr(&m->pk, ticket_id);
        pack_cstr(&m->pk, "status");
        pack_cstr(&m->pk, ticket_statuses[st]);
        if (st == ST_OPENED) {
                pack_cstr(&m->pk, "priority");
                pack_cstr(&m->pk, priorities[t->priority]);
        }
        m->stats->ticket_status[st]++;
        if (ts < m->stats->oldest_ts)
                m->stats->oldest_ts = ts;
}

static void open_complaint(Mix *m, Complaint *c, int64_t now) {
        Rng *r = &m->r;
        int64_t span;

        c->seq = ++m->complaint_seq;
        c->agent = (uint16_t)rng_below(r, N_AGENTS);
        c->channel = (uint8_t)rng_pick(r, channel_weights, 4);
        c->severity = (uint8_t)rng_pick(r, severity_weights, 4);
        c->category = (uint8_t)rng_below(r, 5);
        c->outcome = (uint8_t)rng_pick(r, outcome_weights, 5);
        c->resolves = rng_below(r, 100) < 85;
        c->customer = rng_below(r, 100) < 30 ? rng_below(r, N_FREQUENT) : rng_below(r, N_CUSTOMERS);
        span = c->resolves ? between(r, 120, 1800) : between(r, 0, 600);
        c->opened_ts = now - span * 1000;
        c->resolved_ts = now - between(r, 0, 30000);
        if (!c->resolves)
                m->stats->complaints_left_open++;
}

static void emit_complaint(Mix *m, const char *id, int64_t now) {
        Complaint *c = &m->complaints[rng_below(&m->r, COMPLAINT_RING)];
        char complaint_id[48];
        bool resolved;
        int64_t ts;

        if (c->seq && !c->resolves)
                c->seq = 0; /* left open for good: the slot takes a new one */
        resolved = c->seq != 0;
        if (!resolved)
                open_complaint(m, c, now);
        ts = resolved ? c->resolved_ts : c->opened_ts;
        snprintf(complaint_id, sizeof(complaint_id), "%s-C%" PRIu32, m->tag, c->seq);

        msgpack_pack_map(&m->pk, resolved ? 9 : 10);
        pack_common(m, id, ts, c->agent, c->channel, c->customer);
        pack_cstr(&m->pk, "complaint");
        pack_cstr(&m->pk, complaint_id);
        pack_cstr(&m->pk, "status");
        pack_cstr(&m->pk, resolved ? "resolved" : "opened");
        if (resolved) {
                pack_cstr(&m->pk, "outcome");
                pack_cstr(&m->pk, outcomes[c->outcome]);
                m->stats->complaint_resolved++;
                c->seq = 0;
        } else {
                pack_cstr(&m->pk, "severity");
                pack_cstr(&m->pk, severities[c->severity]);
                pack_cstr(&m->pk, "category");
                pack_cstr(&m->pk, categories[c->category]);
                m->stats->complaint_opened++;
        }
        if (ts < m->stats->oldest_ts)
                m->stats->oldest_ts = ts;
}

static void emit_feedback(Mix *m, const char *id, int64_t now) {
        char agent_s[16], team_s[16];
        unsigned agent = rng_below(&m->r, N_AGENTS);

        agent_names(agent, agent_s, sizeof(agent_s), team_s, sizeof(team_s));
        pack_feedback(&m->pk, &m->r, id, now - between(&m->r, 0, 60000), team_s, agent_s, pick_score(&m->r));
}

int mix_build(EventSet *set, size_t n, const char *tag, uint64_t seed, MixStats *stats) {
        static const unsigned kind_weights[_BK_MAX] = {[BK_FEEDBACK] = 30, [BK_TICKET] = 60, [BK_COMPLAINT] = 10};
        msgpack_sbuffer sb;
        Mix m = {.r = {seed | 1}, .tag = tag, .stats = stats};
        int64_t now = wall_ms();
        int rc;

        *stats = (MixStats){.oldest_ts = now};
        m.tickets = calloc(TICKET_RING, sizeof(Ticket));
        m.complaints = calloc(COMPLAINT_RING, sizeof(Complaint));
        if (!m.tickets || !m.complaints) {
                free(m.tickets);
                free(m.complaints);
                return -ENOMEM;
        }
        if ((rc = event_set_begin(set, n, &sb)) < 0) {
                free(m.tickets);
                free(m.complaints);
                return rc;
        }
        msgpack_packer_init(&m.pk, &sb, msgpack_sbuffer_write);
        for (size_t i = 0; i < n; i++) {
                BenchKind k = (BenchKind)rng_pick(&m.r, kind_weights, _BK_MAX);
                char id[48];

                if ((i & 4095) == 0)
                        now = wall_ms();
                snprintf(id, sizeof(id), "%s-%zu", tag, i);
                set->off[i] = sb.size;
                set->kind[i] = (uint8_t)k;
                stats->kind[k]++;
                if (k == BK_TICKET)
                        emit_ticket(&m, id, now);
                else if (k == BK_COMPLAINT)
                        emit_complaint(&m, id, now);
                else
                        emit_feedback(&m, id, now);
        }
        for (size_t i = 0; i < TICKET_RING; i++)
                stats->in_flight_tickets += m.tickets[i].seq && m.tickets[i].step < m.tickets[i].n_steps;
        for (size_t i = 0; i < COMPLAINT_RING; i++)
                stats->in_flight_complaints += m.complaints[i].seq && m.complaints[i].resolves;
        free(m.tickets);
        free(m.complaints);
        return event_set_finish(set, &sb);
}

void mix_print(const MixStats *s, size_t n) {
        double pct = n ? 100.0 / (double)n : 0;

        printf("mix: %zu events: ticket %zu (%.1f %%), feedback %zu (%.1f %%), complaint %zu (%.1f %%)\n", n,
               s->kind[BK_TICKET], (double)s->kind[BK_TICKET] * pct, s->kind[BK_FEEDBACK],
               (double)s->kind[BK_FEEDBACK] * pct, s->kind[BK_COMPLAINT], (double)s->kind[BK_COMPLAINT] * pct);
        printf("mix: tickets opened %zu, responded %zu, resolved %zu, reopened %zu; left open by design %zu, "
               "cut off by the end %zu\n",
               s->ticket_status[ST_OPENED], s->ticket_status[ST_RESPONDED], s->ticket_status[ST_RESOLVED],
               s->ticket_status[ST_REOPENED], s->tickets_left_open, s->in_flight_tickets);
        printf("mix: complaints opened %zu, resolved %zu; left open by design %zu, cut off by the end %zu; "
               "oldest ts %.1f h ago\n",
               s->complaint_opened, s->complaint_resolved, s->complaints_left_open, s->in_flight_complaints,
               (double)(wall_ms() - s->oldest_ts) / 3.6e6);
}
