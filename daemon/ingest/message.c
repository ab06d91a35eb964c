/* daemon/ingest/message.c: reading and validating one message (see
 * message.h). */
#include <errno.h>
#include <string.h>

#include "ingest/message.h"
#include "util/clock.h"
#include "util/error.h"

int message_recv(void *sock, zmq_msg_t *parts, int *n) {
        int more;

        *n = 0;
        for (;;) {
                zmq_msg_t scratch, *m = *n < MESSAGE_FRAMES_MAX ? &parts[*n] : &scratch;
                zmq_msg_init(m);
                if (zmq_msg_recv(m, sock, *n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                        int r = zmq_err();
                        zmq_msg_close(m);
                        if (*n == 0 && (r == -EAGAIN || r == -EINTR))
                                return 0;
                        message_close(parts, *n);
                        *n = 0;
                        return r;
                }
                (*n)++;
                /* The frame's own flag: no socket option call per frame. */
                more = zmq_msg_more(m);
                if (m == &scratch)
                        zmq_msg_close(m);
                if (!more)
                        return 1;
        }
}

void message_close(zmq_msg_t *parts, int n) {
        for (int i = 0; i < n && i < MESSAGE_FRAMES_MAX; i++)
                zmq_msg_close(&parts[i]);
}

bool message_validate(ProtoDecoder *d, const Config *c, const zmq_msg_t *topic, const zmq_msg_t *payload, Event *ev,
                      ProtoDiag *diag, int64_t now) {
        size_t tlen = zmq_msg_size(topic), plen = zmq_msg_size(payload);
        EventKind kind = EVENT_FEEDBACK;

        /* proto_decode clears ev itself; the two early refusals clear only
         * what the rejection log reads (kind, id): no second memset of a
         * whole Event per message. */
        *diag = (ProtoDiag){0};
        if (tlen + plen > c->max_message || proto_parse_topic(zmq_msg_data((zmq_msg_t *)topic), tlen, &kind)) {
                diag->reason = tlen + plen > c->max_message ? PROTO_E_TOO_LARGE : PROTO_E_UNKNOWN_TOPIC;
                ev->kind = EVENT_FEEDBACK;
                ev->id = (Slice){0};
                return false;
        }
        return proto_decode(d, kind, zmq_msg_data((zmq_msg_t *)payload), plen, now, c->allowed_lateness_ms, ev,
                            diag) == 0;
}

void message_log_reject(RateLimit *rl, bool framed, const Event *ev, const ProtoDiag *d) {
        bool kind_known = framed && d->reason != PROTO_E_UNKNOWN_TOPIC && d->reason != PROTO_E_TOO_LARGE;
        unsigned n = ratelimit_test(rl, mono_ms());
        Slice id = framed ? ev->id : (Slice){0};

        if (!n)
                return;
        log_full(LOG_WARNING, LOG_ID_REJECTED, "rejected %s message%s%.*s: %s%s%s%s",
                 kind_known ? proto_kind_name(ev->kind) : "ingest", id.len ? " " : "", (int)id.len,
                 id.ptr ? id.ptr : "", proto_reason_name(d->reason), d->field ? " (" : "", d->field ? d->field : "",
                 d->field ? ")" : "");
        if (n > 1)
                log_warning("%u similar messages suppressed", n - 1);
}
