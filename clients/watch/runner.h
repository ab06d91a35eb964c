/* clients/watch/runner.h: Runner, rater-watch's --exec. Each alert runs the
 * command through the shell with the alert's fields in RATER_* variables.
 * Commands never hold up the subscription: they are spawned and reaped from
 * the one poll loop, at most MAX_CHILDREN at a time; further alerts wait in
 * a queue of QUEUE_MAX and are dropped, counted, beyond it. Each command is
 * its own process group, so that stopping it reaches whatever the shell
 * started. */
#pragma once

#include <json-c/json.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "watch/alert.h"
#include "watch/warn.h"

#define MAX_CHILDREN 16
#define QUEUE_MAX 1024

typedef struct {
        pid_t pid;
        char label[160]; /* "rule R scope S", for warnings */
} Child;

typedef struct {
        json_object *fields; /* a reference */
        char *topic;
} Pending;

typedef struct {
        const char *cmd;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_t actions;
        bool attr_ready, actions_ready;
        Child running[MAX_CHILDREN];
        size_t n_running;
        Pending *queue; /* ring of QUEUE_MAX */
        size_t head, n_queued;
        uint64_t failed, dropped;
        RateLimit drop_rl, spawn_rl, exit_rl;
} Runner;

int runner_init(Runner *rn, const char *cmd);
void runner_deinit(Runner *rn);

/* Runs the command for alert a now, or queues it while MAX_CHILDREN run;
 * drops it when the queue is full. Returns 0 or -ENOMEM. */
int runner_submit(Runner *rn, json_object *a, const Topic *t);

/* Starts queued commands while there is room. */
void runner_pump(Runner *rn);

/* Collects every finished command (SIGCHLDs coalesce). */
void runner_reap(Runner *rn);

/* SIGTERM to every running command's process group. */
void runner_terminate(Runner *rn);
