/* clients/cleanup.h: the _cleanup_ helpers the command-line clients share
 * (see daemon/util/error.h for _cleanup_ and TAKE_PTR). */
#pragma once

#include <json-c/json.h>
#include <zmq.h>

static inline void zmq_closep(void **s) {
        if (*s)
                zmq_close(*s);
}

static inline void zmq_ctx_termp(void **c) {
        if (*c)
                zmq_ctx_term(*c);
}

static inline void json_object_putp(json_object **o) {
        json_object_put(*o);
}
