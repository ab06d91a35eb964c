/* bench/util.h: what every raterd benchmark needs: clocks, bounded waits,
 * ZeroMQ socket set-up, a small PRNG, /proc readings and the hard-timeout
 * guard that kills whatever a cut-short run started.
 */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Clocks: monotonic for intervals, wall for event `ts` (Unix ms). */
int64_t mono_ns(void);
int64_t mono_ms(void);
int64_t wall_ms(void);
void sleep_ms(long ms);
double seconds(int64_t ns);

/* Sets the name printed in front of fail() messages. */
void bench_set_name(const char *name);
/* Prints "NAME: message" on stderr. */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A ZeroMQ socket with the given high water marks and linger 0; NULL with
 * errno set on failure. */
void *zsocket(void *zctx, int type, int sndhwm, int rcvhwm);
/* Waits up to timeout_ms for the first subscription to reach an XPUB.
 * Returns 0 or -ETIMEDOUT. */
int wait_subscription(void *xpub, long timeout_ms);
/* Reads exactly len bytes from fd within timeout_ms. Returns 0, -ETIMEDOUT,
 * -EPIPE (end of file) or a negative errno. */
int read_full(int fd, void *buf, size_t len, long timeout_ms);

/* xorshift64*: fast, reproducible, good enough for test data. */
typedef struct {
        uint64_t s;
} Rng;

uint64_t rng_next(Rng *r);
/* Uniform in [0, n). */
unsigned rng_below(Rng *r, unsigned n);
/* Picks index i with probability weights[i] / sum(weights). */
unsigned rng_pick(Rng *r, const unsigned *weights, unsigned n);

void pack_cstr(msgpack_packer *pk, const char *s);

/* From /proc/PID: VmHWM in KiB (or -1); user+system CPU of all threads in
 * clock ticks (utime + stime of /proc/PID/stat, or -1); on-CPU time of all
 * threads in ns from /proc/PID/task/x/schedstat (or -1). */
long proc_peak_rss_kib(pid_t pid);
/* Any "Key:  N kB" line of /proc/PID/status (key without the colon), or -1. */
long proc_status_kib(pid_t pid, const char *key);
long long proc_cpu_ticks(pid_t pid);
/* A counter of /proc/PID/io ("wchar": bytes passed to write calls,
 * "write_bytes": bytes sent to the storage layer), or -1. */
long long proc_io(pid_t pid, const char *key);
long long proc_cpu_ns(pid_t pid);
/* CPU time of this process, all its threads, in ns. */
int64_t cpu_ns_self(void);

/* Size in bytes of a file (st_size) and the bytes it occupies on disk
 * (st_blocks * 512); -1 when it cannot be read. */
long long file_size(const char *path, long long *on_disk);

/* Finds n (<= 8) free TCP ports on 127.0.0.1. Returns 0 or a negative errno. */
int free_ports(int *ports, int n);

/* Removes a directory tree (errors are printed, not returned). */
void remove_tree(const char *dir);

/* The hard-timeout guard: SIGALRM (after timeout_s), SIGINT and SIGTERM kill
 * the registered daemon and child with SIGKILL, name the kept temp dir and
 * exit 124 (timeout) or 128 + signal. */
void guard_install(unsigned timeout_s, const char *temp_dir);
void guard_set_daemon(pid_t pid);
void guard_set_child(pid_t pid);
void guard_disarm(void);
