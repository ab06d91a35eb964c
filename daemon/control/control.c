/* daemon/control/control.c: the control ROUTER socket and its framing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/commands.h"
#include "control/control.h"
#include "util/endpoints.h"
#include "util/error.h"
#include "util/log.h"

#define REQUEST_MAX (64 * 1024)

struct Control {
        void *sock;
        CommandContext ctx;
};

Control *control_free(Control *c) {
        if (c) {
                if (c->sock)
                        zmq_close(c->sock);
                free(c);
        }
        return NULL;
}

int control_new(Control **out, void *zctx, const Config *cfg, Store *st, const Stats *stats, Alerts *alerts, char *err,
                size_t errlen) {
        _cleanup_(control_freep) Control *c = calloc(1, sizeof(*c));
        int64_t maxmsg = REQUEST_MAX;
        int linger = 0, r;

        if (!c)
                return -ENOMEM;
        c->ctx = (CommandContext){.config = cfg, .store = st, .stats = stats, .alerts = alerts};
        c->sock = zmq_socket(zctx, ZMQ_ROUTER);
        if (!c->sock)
                return zmq_err();
        if (zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0 ||
            zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0)
                return zmq_err();
        if ((r = endpoints_attach(c->sock, cfg->control, true, err, errlen)) < 0)
                return r;
        *out = TAKE_PTR(c);
        return 0;
}

void control_set_settle(Control *c, void (*fn)(void *userdata), void *userdata) {
        c->ctx.settle = fn;
        c->ctx.settle_data = userdata;
}

void control_pollitem(Control *c, zmq_pollitem_t *item) {
        *item = (zmq_pollitem_t){.socket = c->sock, .events = ZMQ_POLLIN};
}

static void reply(Control *c, zmq_msg_t *routing, bool delimiter, json_object *obj) {
        const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

        if (zmq_send(c->sock, zmq_msg_data(routing), zmq_msg_size(routing), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return;
        if (delimiter && zmq_send(c->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return;
        zmq_send(c->sock, s, strlen(s), ZMQ_DONTWAIT);
}

static void handle(Control *c, zmq_msg_t *parts, int n) {
        bool delim = n == 3 && zmq_msg_size(&parts[1]) == 0;
        zmq_msg_t *body = &parts[n - 1];
        json_object *req = NULL, *result = NULL, *out = json_object_new_object();
        char err[512] = "";
        int r;

        if (n != 2 + delim) {
                snprintf(err, sizeof(err), "a request is one frame holding a JSON object");
        } else {
                json_tokener *tok = json_tokener_new();
                req = json_tokener_parse_ex(tok, zmq_msg_data(body), (int)zmq_msg_size(body));
                if (!req || json_tokener_get_error(tok) != json_tokener_success ||
                    !json_object_is_type(req, json_type_object))
                        snprintf(err, sizeof(err), "request is not a JSON object");
                json_tokener_free(tok);
        }
        if (!*err) {
                r = command_run(&c->ctx, req, &result, err, sizeof(err));
                if (r == 0) {
                        json_object_object_add(out, "ok", json_object_new_boolean(1));
                        json_object_object_add(out, "result", result);
                }
        }
        if (*err) {
                json_object_object_add(out, "ok", json_object_new_boolean(0));
                json_object_object_add(out, "error", json_object_new_string(err));
        }
        reply(c, &parts[0], delim, out);
        json_object_put(out);
        json_object_put(req);
}

void control_dispatch(Control *c, unsigned max) {
        for (unsigned i = 0; i < max; i++) {
                zmq_msg_t parts[4];
                int n = 0, more = 0;
                size_t ml = sizeof(more);
                bool overflow = false;

                for (;;) {
                        zmq_msg_t scratch, *m = n < 4 ? &parts[n] : &scratch;
                        zmq_msg_init(m);
                        if (zmq_msg_recv(m, c->sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                                zmq_msg_close(m);
                                for (int j = 0; j < n && j < 4; j++)
                                        zmq_msg_close(&parts[j]);
                                return;
                        }
                        if (m == &scratch) {
                                zmq_msg_close(m);
                                overflow = true;
                        } else {
                                n++;
                        }
                        if (zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &ml) < 0 || !more)
                                break;
                }
                handle(c, parts, overflow ? 4 : n);
                for (int j = 0; j < n; j++)
                        zmq_msg_close(&parts[j]);
        }
}
