/* clients/watch/runner.c: Runner, rater-watch's --exec (see runner.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "watch/runner.h"

extern char **environ;

/* Alert fields with a contract meaning: inherited RATER_<KEY> variables of
 * these names are never passed on, so a command cannot mistake a stale one
 * (RATER_TICKET of an earlier shell) for a field of this alert. */
static const char *const known_keys[] = {
        "v",     "id",    "kind", "rule",  "scope",    "index",   "window", "value",  "threshold",
        "clear", "op",    "state", "severity", "samples", "since", "ts",     "ticket", "topic",
};

typedef struct {
        char **v; /* "NAME=value", NULL-terminated */
        size_t n, cap;
} Env;

static void env_done(Env *e) {
        for (size_t i = 0; i < e->n; i++)
                free(e->v[i]);
        free(e->v);
}

static bool env_has(const Env *e, const char *name, size_t len) {
        for (size_t i = 0; i < e->n; i++)
                if (strncmp(e->v[i], name, len) == 0 && e->v[i][len] == '=')
                        return true;
        return false;
}

/* Adds "name=value" unless name is set already (first one wins). */
static int env_add(Env *e, const char *name, const char *value) {
        size_t len = strlen(name);
        char *s;

        if (env_has(e, name, len))
                return 0;
        if (e->n + 1 >= e->cap)
                return -ENOMEM; /* sized by env_build, never reached */
        s = malloc(len + strlen(value) + 2);
        if (!s)
                return -ENOMEM;
        sprintf(s, "%s=%s", name, value);
        e->v[e->n++] = s;
        e->v[e->n] = NULL;
        return 0;
}

/* "RATER_" + the key in upper case, other characters as '_'. */
static void env_name(const char *key, char *buf, size_t size) {
        size_t n = (size_t)snprintf(buf, size, "RATER_");

        for (; *key && n + 1 < size; key++, n++)
                buf[n] = *key >= 'a' && *key <= 'z'   ? (char)(*key - 'a' + 'A')
                         : (*key >= 'A' && *key <= 'Z') || (*key >= '0' && *key <= '9') ? *key
                                                                                         : '_';
        buf[n] = '\0';
}

/* Whether the inherited variable entry[0..len) is one rater-watch sets for
 * every command that has the field: RATER_JSON, RATER_<known key>. */
static bool reserved_name(const char *entry, size_t len) {
        char name[MAX_KEY + 8];

        if (len < strlen("RATER_") || strncmp(entry, "RATER_", strlen("RATER_")) != 0)
                return false;
        if (len == strlen("RATER_JSON") && strncmp(entry, "RATER_JSON", len) == 0)
                return true;
        for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++) {
                env_name(known_keys[i], name, sizeof(name));
                if (strlen(name) == len && strncmp(entry, name, len) == 0)
                        return true;
        }
        return false;
}

/* The environment of one command: RATER_JSON (the whole alert), RATER_TOPIC,
 * RATER_<KEY> per field (null as the empty string), then the inherited
 * environment without the reserved RATER_* names. The first of two names
 * that fold to the same variable wins. Returns 0 or -ENOMEM. */
static int env_build(Env *e, json_object *a, const char *topic) {
        const char *text = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t n_environ = 0;
        int r;

        while (environ[n_environ])
                n_environ++;
        *e = (Env){.cap = 2 + (size_t)json_object_object_length(a) + n_environ + 1};
        e->v = calloc(e->cap, sizeof(char *));
        if (!e->v || !text)
                return -ENOMEM;
        r = env_add(e, "RATER_JSON", text);
        if (r == 0)
                r = env_add(e, "RATER_TOPIC", topic);
        json_object_object_foreach(a, key, v) {
                char name[MAX_KEY + 8], buf[64];

                if (r < 0)
                        break;
                env_name(key, name, sizeof(name));
                r = env_add(e, name, value_text(v, "", buf, sizeof(buf)));
        }
        for (size_t i = 0; r == 0 && i < n_environ; i++) {
                const char *eq = strchr(environ[i], '=');
                char *name;

                if (!eq || eq == environ[i] || reserved_name(environ[i], (size_t)(eq - environ[i])))
                        continue;
                name = strndup(environ[i], (size_t)(eq - environ[i]));
                if (!name)
                        return -ENOMEM;
                r = env_add(e, name, eq + 1);
                free(name);
        }
        return r;
}

void runner_deinit(Runner *rn) {
        for (size_t k = 0; rn->queue && k < rn->n_queued; k++) {
                Pending *p = &rn->queue[(rn->head + k) % QUEUE_MAX];

                json_object_put(p->fields);
                free(p->topic);
        }
        free(rn->queue);
        if (rn->attr_ready)
                posix_spawnattr_destroy(&rn->attr);
        if (rn->actions_ready)
                posix_spawn_file_actions_destroy(&rn->actions);
        *rn = (Runner){0};
}

/* Commands start with no signal blocked (this process blocks the ones its
 * signalfd reads), in a process group of their own, with /dev/null as
 * standard input; standard output and error are shared with rater-watch.
 * Returns 0 or a negative errno. */
int runner_init(Runner *rn, const char *cmd) {
        sigset_t none;
        int r;

        *rn = (Runner){.cmd = cmd};
        rn->queue = calloc(QUEUE_MAX, sizeof(Pending));
        if (!rn->queue)
                return -ENOMEM;
        sigemptyset(&none);
        r = posix_spawnattr_init(&rn->attr);
        if (r != 0)
                return -r;
        rn->attr_ready = true;
        r = posix_spawnattr_setflags(&rn->attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&rn->attr, &none);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&rn->attr, 0);
        if (r != 0)
                return -r;
        r = posix_spawn_file_actions_init(&rn->actions);
        if (r != 0)
                return -r;
        rn->actions_ready = true;
        r = posix_spawn_file_actions_addopen(&rn->actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        return -r;
}

static void child_label(json_object *a, char *buf, size_t size) {
        snprintf(buf, size, "rule %s scope %s", field_str(a, "rule", "?"), field_str(a, "scope", "?"));
        for (char *p = buf; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
}

/* Starts the command for one alert. A failure is warned and counted: the
 * alert is lost to the command, the watch goes on. */
static void runner_spawn(Runner *rn, json_object *a, const char *topic) {
        char *argv[] = {(char *)"sh", (char *)"-c", (char *)rn->cmd, NULL};
        Child *c = &rn->running[rn->n_running];
        Env env = {0};
        pid_t pid = -1;
        int r;

        child_label(a, c->label, sizeof(c->label));
        r = env_build(&env, a, topic);
        if (r == 0)
                r = -posix_spawn(&pid, "/bin/sh", &rn->actions, &rn->attr, argv, env.v);
        env_done(&env);
        if (r < 0) {
                rn->failed++;
                warn_limited(&rn->spawn_rl, "cannot run the command for %s: %s (%" PRIu64 " failed so far)",
                             c->label, strerror(-r), rn->failed);
                return;
        }
        c->pid = pid;
        rn->n_running++;
}

/* Runs the command for an alert now, or queues it (taking a reference) while
 * MAX_CHILDREN run; drops it when the queue is full. Returns 0 or -ENOMEM. */
int runner_submit(Runner *rn, json_object *a, const Topic *t) {
        Pending *p;

        if (rn->n_running < MAX_CHILDREN && rn->n_queued == 0) {
                runner_spawn(rn, a, t->text);
                return 0;
        }
        if (rn->n_queued == QUEUE_MAX) {
                char label[160];

                rn->dropped++;
                child_label(a, label, sizeof(label));
                warn_limited(&rn->drop_rl,
                             "%d commands running and %d alerts waiting: the alert of %s is dropped (%" PRIu64
                             " dropped so far)",
                             MAX_CHILDREN, QUEUE_MAX, label, rn->dropped);
                return 0;
        }
        p = &rn->queue[(rn->head + rn->n_queued) % QUEUE_MAX];
        p->topic = strdup(t->text);
        if (!p->topic)
                return -ENOMEM;
        p->fields = json_object_get(a);
        rn->n_queued++;
        return 0;
}

/* Starts queued commands while there is room. */
void runner_pump(Runner *rn) {
        while (rn->n_queued > 0 && rn->n_running < MAX_CHILDREN) {
                Pending p = rn->queue[rn->head];

                rn->queue[rn->head] = (Pending){0};
                rn->head = (rn->head + 1) % QUEUE_MAX;
                rn->n_queued--;
                runner_spawn(rn, p.fields, p.topic);
                json_object_put(p.fields);
                free(p.topic);
        }
}

/* Reaps every finished command; a failing one is a (rate-limited) warning. */
void runner_reap(Runner *rn) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                size_t i;

                if (pid < 0 && errno == EINTR)
                        continue;
                if (pid <= 0)
                        return;
                for (i = 0; i < rn->n_running && rn->running[i].pid != pid; i++)
                        ;
                if (i == rn->n_running)
                        continue; /* not ours */
                if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                        warn_limited(&rn->exit_rl, "command for %s exited with status %d", rn->running[i].label,
                                     WEXITSTATUS(status));
                else if (WIFSIGNALED(status))
                        warn_limited(&rn->exit_rl, "command for %s killed by signal %d", rn->running[i].label,
                                     WTERMSIG(status));
                rn->running[i] = rn->running[--rn->n_running];
        }
}

void runner_terminate(Runner *rn) {
        if (rn->n_running > 0)
                fprintf(stderr, "rater-watch: stopping: terminating %zu running command%s\n", rn->n_running,
                        rn->n_running == 1 ? "" : "s");
        for (size_t i = 0; i < rn->n_running; i++)
                kill(-rn->running[i].pid, SIGTERM); /* its process group */
}
