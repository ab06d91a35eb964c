/* bench/util.c: clocks, bounded waits, sockets, PRNG, /proc readings and
 * the hard-timeout guard shared by the benchmarks. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "util.h"

static const char *g_name = "bench";
static volatile sig_atomic_t g_daemon_pid, g_child_pid;
static char g_dir[128];

int64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mono_ms(void) {
        return mono_ns() / 1000000;
}

int64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(long ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

double seconds(int64_t ns) {
        return (double)ns / 1e9;
}

void bench_set_name(const char *name) {
        g_name = name;
}

void fail(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", g_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void *zsocket(void *zctx, int type, int sndhwm, int rcvhwm) {
        void *s = zmq_socket(zctx, type);
        int linger = 0;

        if (!s)
                return NULL;
        if (zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm)) < 0 ||
            zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm)) < 0 ||
            zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) < 0) {
                zmq_close(s);
                return NULL;
        }
        return s;
}

int wait_subscription(void *xpub, long timeout_ms) {
        int64_t deadline = mono_ms() + timeout_ms;
        char buf[64];

        while (mono_ms() < deadline) {
                zmq_pollitem_t it = {.socket = xpub, .events = ZMQ_POLLIN};
                if (zmq_poll(&it, 1, (long)(deadline - mono_ms())) <= 0)
                        continue;
                if (zmq_recv(xpub, buf, sizeof(buf), ZMQ_DONTWAIT) >= 1 && buf[0] == 1)
                        return 0;
        }
        return -ETIMEDOUT;
}

int read_full(int fd, void *buf, size_t len, long timeout_ms) {
        int64_t deadline = mono_ms() + timeout_ms;
        size_t got = 0;

        while (got < len) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int64_t left = deadline - mono_ms();
                ssize_t k;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&p, 1, (int)left) <= 0)
                        continue;
                k = read(fd, (char *)buf + got, len - got);
                if (k == 0)
                        return -EPIPE;
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k > 0)
                        got += (size_t)k;
        }
        return 0;
}

uint64_t rng_next(Rng *r) {
        r->s ^= r->s >> 12;
        r->s ^= r->s << 25;
        r->s ^= r->s >> 27;
        return r->s * 2685821657736338717ULL;
}

unsigned rng_below(Rng *r, unsigned n) {
        return (unsigned)((rng_next(r) >> 32) % n);
}

unsigned rng_pick(Rng *r, const unsigned *weights, unsigned n) {
        unsigned sum = 0, x;

        for (unsigned i = 0; i < n; i++)
                sum += weights[i];
        x = rng_below(r, sum);
        for (unsigned i = 0; i < n; i++) {
                if (x < weights[i])
                        return i;
                x -= weights[i];
        }
        return n - 1;
}

void pack_cstr(msgpack_packer *pk, const char *s) {
        size_t n = strlen(s);

        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
}

long proc_status_kib(pid_t pid, const char *key) {
        char path[64], line[256];
        size_t n = strlen(key);
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%ld", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

long proc_peak_rss_kib(pid_t pid) {
        return proc_status_kib(pid, "VmHWM");
}

long long proc_cpu_ticks(pid_t pid) {
        char path[64], buf[2048], *p;
        unsigned long long ut, st;
        size_t k;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        k = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[k] = 0;
        /* comm may hold spaces and parentheses: fields count from the last ')'. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return -1;
        return (long long)(ut + st);
}

long long proc_io(pid_t pid, const char *key) {
        char path[64], line[256];
        size_t n = strlen(key);
        long long v = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%lld", &v) == 1)
                        break;
        fclose(f);
        return v;
}

int64_t cpu_ns_self(void) {
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long long proc_cpu_ns(pid_t pid) {
        char path[64];
        long long total = 0;
        struct dirent *e;
        DIR *dir;

        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        dir = opendir(path);
        if (!dir)
                return -1;
        while ((e = readdir(dir))) {
                char file[320];
                unsigned long long ns;
                FILE *f;

                if (e->d_name[0] == '.')
                        continue;
                snprintf(file, sizeof(file), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
                f = fopen(file, "re");
                if (!f)
                        continue;
                if (fscanf(f, "%llu", &ns) == 1)
                        total += (long long)ns;
                fclose(f);
        }
        closedir(dir);
        return total;
}

long long file_size(const char *path, long long *on_disk) {
        struct stat st;

        if (stat(path, &st) < 0) {
                if (on_disk)
                        *on_disk = -1;
                return -1;
        }
        if (on_disk)
                *on_disk = (long long)st.st_blocks * 512;
        return (long long)st.st_size;
}

int free_ports(int *ports, int n) {
        int fds[8], i, r = 0;

        for (i = 0; i < n && i < 8; i++) {
                struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                socklen_t alen = sizeof(a);

                fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
                    getsockname(fds[i], (struct sockaddr *)&a, &alen) < 0) {
                        r = -errno;
                        if (fds[i] >= 0)
                                close(fds[i]);
                        break;
                }
                ports[i] = ntohs(a.sin_port);
        }
        while (i-- > 0)
                close(fds[i]);
        return r;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
        if (remove(path) < 0)
                fprintf(stderr, "%s: remove %s: %s\n", g_name, path, strerror(errno));
        return 0;
}

void remove_tree(const char *dir) {
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_fatal_signal(int sig) {
        static const char msg[] = ": hard timeout or signal: killing raterd; temp dir left: ";

        if (g_daemon_pid > 0)
                kill((pid_t)g_daemon_pid, SIGKILL);
        if (g_child_pid > 0)
                kill((pid_t)g_child_pid, SIGKILL);
        (void)!write(2, g_name, strlen(g_name));
        (void)!write(2, msg, sizeof(msg) - 1);
        (void)!write(2, g_dir, strlen(g_dir));
        (void)!write(2, "\n", 1);
        _exit(sig == SIGALRM ? 124 : 128 + sig);
}

void guard_install(unsigned timeout_s, const char *temp_dir) {
        struct sigaction sa = {.sa_handler = on_fatal_signal};

        snprintf(g_dir, sizeof(g_dir), "%s", temp_dir);
        sigaction(SIGALRM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        alarm(timeout_s);
}

void guard_set_daemon(pid_t pid) {
        g_daemon_pid = pid;
}

void guard_set_child(pid_t pid) {
        g_child_pid = pid;
}

void guard_disarm(void) {
        alarm(0);
}
