/* daemon/ingest/message.h: one ingest message, from frames to Event.
 *
 * Whole multipart reads, validation against the contract (CONTRACT.md
 * 2.1) and the rate-limited rejection log line, for both ingest paths.
 * None of it keeps state of its own: the caller passes its decoder and
 * rate limiter.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "config/config.h"
#include "proto/event.h"
#include "util/log.h"

#define MESSAGE_FRAMES_MAX 5

/* Reads one whole multipart message into parts[]; frames past
 * MESSAGE_FRAMES_MAX are drained and make *n larger than it (close with
 * message_close all the same). Never waits for a first frame. Returns 1,
 * 0 (nothing there) or a negative errno. */
int message_recv(void *sock, zmq_msg_t *parts, int *n);

void message_close(zmq_msg_t *parts, int n);

/* Validates a [topic][payload] pair into ev (whose strings point into the
 * frames) against the wall clock now (ms), which the caller reads and
 * hands on to dedup so the two agree. Returns true when valid, false with
 * diag->reason set. */
bool message_validate(ProtoDecoder *d, const Config *c, const zmq_msg_t *topic, const zmq_msg_t *payload, Event *ev,
                      ProtoDiag *diag, int64_t now);

/* Logs a rejection through rl. framed: the message had the expected
 * frames, so ev->kind is its topic's kind unless the topic was the
 * problem. */
void message_log_reject(RateLimit *rl, bool framed, const Event *ev, const ProtoDiag *d);
