/* bench/daemon.c: starting, querying and stopping the benchmark's own raterd. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon.h"
#include "util.h"

#define READY_MS 10000 /* daemon start-up */
#define STOP_MS 30000  /* daemon shutdown after SIGTERM */

static int write_config(Daemon *d, const char *extra) {
        int ports[3], r;
        FILE *f;

        if ((r = free_ports(ports, 3)) < 0)
                return r;
        snprintf(d->sub_ep, sizeof(d->sub_ep), "tcp://127.0.0.1:%d", ports[0]);
        snprintf(d->router_ep, sizeof(d->router_ep), "tcp://127.0.0.1:%d", ports[1]);
        snprintf(d->alerts_ep, sizeof(d->alerts_ep), "tcp://127.0.0.1:%d", ports[2]);
        f = fopen(d->config, "we");
        if (!f)
                return -errno;
        fprintf(f,
                "; written by the raterd benchmark\n"
                "[daemon]\n"
                "control = %s\n"
                "max_storage = %llu\n"
                "[ingest]\n"
                "bind = %s\n"
                "reliable_bind = %s\n"
                "[alerts]\n"
                "bind = %s\n"
                "%s",
                d->control, 16ULL << 30, d->sub_ep, d->router_ep, d->alerts_ep, extra ? extra : "");
        return fclose(f) == 0 ? 0 : -errno;
}

void daemon_log_tail(const Daemon *d) {
        char buf[4096];
        FILE *f = fopen(d->log, "re");
        size_t k;

        if (!f)
                return;
        if (fseek(f, -(long)sizeof(buf) + 1, SEEK_END) < 0)
                rewind(f);
        k = fread(buf, 1, sizeof(buf) - 1, f);
        buf[k] = 0;
        fclose(f);
        fprintf(stderr, "---- %s (tail) ----\n%s---- end ----\n", d->log, buf);
}

static int spawn(Daemon *d, const char *raterd) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int in = open("/dev/null", O_RDONLY), out = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                        _exit(127);
                /* Plain stderr logging, no systemd notifications. */
                unsetenv("NOTIFY_SOCKET");
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
                unsetenv("JOURNAL_STREAM");
                execl(raterd, raterd, "--config", d->config, "--state-dir", d->state, (char *)NULL);
                fprintf(stderr, "exec %s: %s\n", raterd, strerror(errno));
                _exit(127);
        }
        d->pid = pid;
        guard_set_daemon(pid);
        return 0;
}

static bool reaped(Daemon *d, int *status) {
        if (waitpid(d->pid, status, WNOHANG) == d->pid) {
                d->pid = 0;
                guard_set_daemon(0);
                return true;
        }
        return false;
}

int daemon_request(Daemon *d, const char *request, json_object **result, long timeout_ms) {
        json_tokener *tok;
        json_object *root, *ok, *res;
        zmq_pollitem_t it;
        zmq_msg_t m;
        int r = -EPROTO;

        *result = NULL;
        if (!d->ctl) {
                d->ctl = zsocket(d->zctx, ZMQ_DEALER, 0, 0);
                if (!d->ctl || zmq_connect(d->ctl, d->control) < 0)
                        return -errno;
        }
        if (zmq_send(d->ctl, request, strlen(request), ZMQ_DONTWAIT) < 0)
                return -errno;
        it = (zmq_pollitem_t){.socket = d->ctl, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, timeout_ms) <= 0) {
                zmq_close(d->ctl);
                d->ctl = NULL;
                return -ETIMEDOUT;
        }
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d->ctl, 0) < 0) {
                zmq_msg_close(&m);
                return -errno;
        }
        tok = json_tokener_new();
        if (!tok) {
                zmq_msg_close(&m);
                return -ENOMEM;
        }
        root = json_tokener_parse_ex(tok, zmq_msg_data(&m), (int)zmq_msg_size(&m));
        if (root && json_object_object_get_ex(root, "ok", &ok) && json_object_get_boolean(ok) &&
            json_object_object_get_ex(root, "result", &res)) {
                *result = json_object_get(res);
                r = 0;
        }
        json_object_put(root);
        json_tokener_free(tok);
        zmq_msg_close(&m);
        return r;
}

static uint64_t json_u64(json_object *obj, const char *key) {
        json_object *v;

        return obj && json_object_object_get_ex(obj, key, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

int daemon_status(Daemon *d, DaemonStatus *st, long timeout_ms) {
        json_object *res, *events = NULL, *storage = NULL, *writer = NULL;
        int r = daemon_request(d, "{\"cmd\":\"status\"}", &res, timeout_ms);

        if (r < 0)
                return r;
        if (!json_object_object_get_ex(res, "events", &events)) {
                json_object_put(res);
                return -EPROTO;
        }
        json_object_object_get_ex(res, "storage", &storage);
        json_object_object_get_ex(res, "writer", &writer);
        *st = (DaemonStatus){
                .received = json_u64(events, "received"),
                .applied = json_u64(events, "applied"),
                .duplicate = json_u64(events, "duplicate"),
                .rejected = json_u64(events, "rejected"),
                .failed = json_u64(events, "failed"),
                .batches = json_u64(res, "batches"),
                .storage_bytes = json_u64(storage, "bytes"),
                .minute_buckets = json_u64(storage, "minute_buckets"),
                .hour_buckets = json_u64(storage, "hour_buckets"),
                .tickets = json_u64(storage, "tickets"),
                .complaints = json_u64(storage, "complaints"),
                .dedup = json_u64(storage, "dedup"),
                .alerts_firing = json_u64(res, "alerts_firing"),
                .writer_busy_ms = json_u64(writer, "busy_ms"),
                .writer_commit_ms = json_u64(writer, "commit_ms"),
        };
        json_object_put(res);
        return 0;
}

uint64_t status_done(const DaemonStatus *st) {
        return st->applied + st->duplicate + st->rejected + st->failed;
}

int daemon_start(Daemon *d, const char *raterd, const char *extra) {
        int64_t deadline;
        DaemonStatus st;
        int status, r;

        snprintf(d->config, sizeof(d->config), "%s/raterd.conf", d->dir);
        snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
        snprintf(d->log, sizeof(d->log), "%s/raterd.log", d->dir);
        snprintf(d->control, sizeof(d->control), "ipc://%s/control", d->dir);
        if ((r = write_config(d, extra)) < 0) {
                fail("writing %s: %s", d->config, strerror(-r));
                return r;
        }
        if ((r = spawn(d, raterd)) < 0) {
                fail("fork: %s", strerror(-r));
                return r;
        }
        /* Only now a context: the fork above happened without its threads. */
        if (!d->zctx && !(d->zctx = zmq_ctx_new()))
                return -errno;
        deadline = mono_ms() + READY_MS;
        while (mono_ms() < deadline) {
                if (reaped(d, &status)) {
                        fail("raterd exited during start-up (status %d)", status);
                        daemon_log_tail(d);
                        return -ECHILD;
                }
                if (daemon_status(d, &st, 200) == 0) {
                        printf("raterd: pid %d ready; SUB %s, ROUTER %s, alerts PUB %s, control %s\n", (int)d->pid,
                               d->sub_ep, d->router_ep, d->alerts_ep, d->control);
                        return 0;
                }
                sleep_ms(20);
        }
        fail("raterd did not answer status within %d s", READY_MS / 1000);
        daemon_log_tail(d);
        return -ETIMEDOUT;
}

int daemon_stop(Daemon *d) {
        int64_t deadline = mono_ms() + STOP_MS;
        int status = 0;

        if (d->ctl) {
                zmq_close(d->ctl);
                d->ctl = NULL;
        }
        if (d->zctx) {
                zmq_ctx_term(d->zctx);
                d->zctx = NULL;
        }
        if (!d->pid)
                return -ECHILD;
        kill(d->pid, SIGTERM);
        while (!reaped(d, &status)) {
                if (mono_ms() > deadline) {
                        fail("raterd did not exit within %d s of SIGTERM; killing it", STOP_MS / 1000);
                        daemon_kill(d);
                        return -ETIMEDOUT;
                }
                sleep_ms(10);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFSIGNALED(status))
                        fail("raterd was killed by signal %d", WTERMSIG(status));
                else
                        fail("raterd exited with status %d after SIGTERM", WEXITSTATUS(status));
                daemon_log_tail(d);
                return -EIO;
        }
        printf("raterd: exited 0 after SIGTERM\n");
        return 0;
}

void daemon_kill(Daemon *d) {
        if (!d->pid)
                return;
        kill(d->pid, SIGKILL);
        while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        d->pid = 0;
        guard_set_daemon(0);
}

void daemon_close(Daemon *d) {
        daemon_kill(d);
        if (d->ctl) {
                zmq_close(d->ctl);
                d->ctl = NULL;
        }
        if (d->zctx) {
                zmq_ctx_term(d->zctx);
                d->zctx = NULL;
        }
}

const char *daemon_resolve(const char *given, const char *dflt, char *buf, size_t len) {
        char self[PATH_MAX];
        ssize_t k;
        char *slash;

        if (given)
                return given;
        /* The daemon of this benchmark's own build tree first: another
         * tree's build/ may be older or built differently. */
        k = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (k > 0) {
                self[k] = 0;
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = 0;
                        snprintf(buf, len, "%s/../daemon/raterd", self);
                        if (access(buf, X_OK) == 0)
                                return buf;
                }
        }
        return dflt;
}
