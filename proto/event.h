/* proto/event.h: the v1 event model shared by raterd and its clients.
 *
 * A decoded event never owns memory: every string is a slice into the
 * payload buffer it was decoded from, so decoding allocates nothing per
 * event and the slices are valid only while that buffer lives.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
        EVENT_FEEDBACK = 0,
        EVENT_COMPLAINT = 1,
        EVENT_TICKET = 2,
        _EVENT_KIND_MAX,
} EventKind;

/* Rejection reasons of CONTRACT.md section 2.1, in contract order. PROTO_OK
 * (0) means the event is valid; every positive value is a defined reason the
 * caller counts. The names are the wire/operator names (proto_reason_name). */
typedef enum {
        PROTO_OK = 0,
        PROTO_E_MALFORMED,
        PROTO_E_NOT_A_MAP,
        PROTO_E_MISSING_FIELD,
        PROTO_E_WRONG_TYPE,
        PROTO_E_OUT_OF_RANGE,
        PROTO_E_TOO_LONG,
        PROTO_E_UNKNOWN_TOPIC,
        PROTO_E_BAD_VERSION,
        PROTO_E_TOO_OLD,
        PROTO_E_IN_FUTURE,
        PROTO_E_TOO_LARGE,
        _PROTO_E_MAX,
} ProtoError;

typedef enum {
        RATER_RELIABILITY = 0,
        RATER_ASSURANCE,
        RATER_TANGIBLES,
        RATER_EMPATHY,
        RATER_RESPONSIVENESS,
        _RATER_DIM_MAX,
} RaterDim;

typedef enum { COMPLAINT_OPENED = 0, COMPLAINT_RESOLVED } ComplaintStatus;
typedef enum { SEVERITY_LOW = 0, SEVERITY_MEDIUM, SEVERITY_HIGH, SEVERITY_CRITICAL } ComplaintSeverity;
typedef enum {
        OUTCOME_NONE = -1,
        OUTCOME_DISSATISFIED = 0,
        OUTCOME_SOMEWHAT_DISSATISFIED,
        OUTCOME_BASICALLY_SATISFIED,
        OUTCOME_SATISFIED,
        OUTCOME_VERY_SATISFIED,
        _OUTCOME_MAX,
} ComplaintOutcome;
typedef enum { TICKET_OPENED = 0, TICKET_RESPONDED, TICKET_RESOLVED, TICKET_REOPENED } TicketStatus;
typedef enum { PRIORITY_LOW = 0, PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_URGENT, _PRIORITY_MAX } TicketPriority;

/* A byte slice into the payload; len == 0 means absent. Not NUL-terminated. */
typedef struct {
        const char *ptr;
        size_t len;
} Slice;

typedef struct {
        EventKind kind;
        uint32_t v;
        Slice id;
        int64_t ts;             /* Unix ms UTC */
        Slice team, agent, channel, customer, ticket;

        /* feedback */
        uint32_t score, scale;
        uint32_t rater[_RATER_DIM_MAX];
        uint8_t rater_mask;     /* bit d set: rater[d] present */
        bool has_nps;
        uint32_t nps;

        /* complaint */
        Slice complaint, category;
        ComplaintStatus complaint_status;
        ComplaintSeverity severity;
        ComplaintOutcome outcome;

        /* ticket */
        TicketStatus ticket_status;
        TicketPriority priority;
        bool has_priority;
} Event;

/* Longest accepted field values, in bytes (CONTRACT.md 2.1). */
#define PROTO_ID_MAX 128
#define PROTO_NAME_MAX 64
#define PROTO_CHANNEL_MAX 32
#define PROTO_FUTURE_SLACK_MS (5 * 60 * 1000)

/* Detail of a rejection for logs and acks: the reason plus the field it
 * concerns (a static string, or NULL). */
typedef struct {
        ProtoError reason;
        const char *field;
} ProtoDiag;

/* Parses a topic frame: `feedback`, `complaint` or `ticket`, optionally
 * followed by `.` and any suffix. Returns PROTO_OK and sets *kind, or
 * PROTO_E_UNKNOWN_TOPIC. */
int proto_parse_topic(const void *topic, size_t len, EventKind *kind);

/* A reusable decoding context: msgpack-c unpacks into a zone that is cleared,
 * not freed, between messages, so the steady state allocates nothing. */
typedef struct ProtoDecoder ProtoDecoder;

/* Returns 0 or -ENOMEM. */
int proto_decoder_new(ProtoDecoder **out);
/* Accepts NULL; returns NULL. */
ProtoDecoder *proto_decoder_free(ProtoDecoder *d);

/* Decodes and validates one payload of the given kind into *ev.
 * now_ms and lateness_ms define the accepted `ts` range
 * [now - lateness, now + 5 min]. Returns PROTO_OK or a positive
 * PROTO_E_* reason, with diag->field naming the offending key where there is
 * one. ev->id is set as soon as a valid `id` was seen, even on rejection, so
 * acks can name the event. Slices in *ev point into payload, which must
 * outlive the use of *ev. */
int proto_decode(ProtoDecoder *d, EventKind kind, const void *payload, size_t len, int64_t now_ms, int64_t lateness_ms, Event *ev,
                 ProtoDiag *diag);

/* Operator-facing names: "feedback", "malformed", "reliability", ... */
const char *proto_kind_name(EventKind kind);
const char *proto_reason_name(int reason);
const char *proto_rater_dim_name(RaterDim d);
const char *proto_outcome_name(ComplaintOutcome o);
const char *proto_priority_name(TicketPriority p);

static inline void proto_decoder_freep(ProtoDecoder **d) {
        proto_decoder_free(*d);
}
