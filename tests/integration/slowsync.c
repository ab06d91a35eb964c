/* tests/integration/slowsync.c: a slow disk for the integration tests.
 *
 * Preloaded into raterd (LD_PRELOAD) by test_systemd.py: every fsync and
 * fdatasync first sleeps SLOWSYNC_MS milliseconds, then does the real
 * call, so LMDB's commits take as long as on a stalled disk while staying
 * real and durable. Nothing else changes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void stall(void) {
        const char *ms = getenv("SLOWSYNC_MS");
        long n = ms ? atol(ms) : 0;
        struct timespec ts = {n / 1000, (n % 1000) * 1000000L};

        if (n > 0)
                while (nanosleep(&ts, &ts) != 0)
                        ;
}

/* The next definition of name (libc's): POSIX's way to a function
 * pointer from dlsym. */
static int (*next(const char *name))(int) {
        int (*f)(int);

        *(void **)&f = dlsym(RTLD_NEXT, name);
        return f;
}

int fdatasync(int fd) {
        int (*real)(int) = next("fdatasync");

        stall();
        return real(fd);
}

int fsync(int fd) {
        int (*real)(int) = next("fsync");

        stall();
        return real(fd);
}
