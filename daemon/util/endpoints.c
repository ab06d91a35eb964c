/* daemon/util/endpoints.c: binding endpoint lists, owner-only ipc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "util/endpoints.h"
#include "util/error.h"

static int mkdir_parents(const char *path) {
        char buf[4096];
        char *slash;

        if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
                return -ENAMETOOLONG;
        slash = strrchr(buf, '/');
        if (!slash || slash == buf)
                return 0;
        *slash = 0;
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int attach_one(void *sock, const char *ep, bool bind, char *err, size_t errlen) {
        bool ipc = bind && strncmp(ep, "ipc://", 6) == 0 && ep[6] != '@';
        mode_t old = 0;
        int rc, r;

        if (ipc && (r = mkdir_parents(ep + 6)) < 0) {
                snprintf(err, errlen, "%s: cannot create directory: %s", ep, strerror(-r));
                return r;
        }
        /* umask around the bind: the socket file never exists with wider
         * permissions, not even for an instant. */
        if (ipc)
                old = umask(0077);
        rc = bind ? zmq_bind(sock, ep) : zmq_connect(sock, ep);
        r = rc < 0 ? zmq_err() : 0;
        if (ipc) {
                umask(old);
                if (rc == 0)
                        chmod(ep + 6, 0600);
        }
        if (r < 0)
                snprintf(err, errlen, "%s: cannot %s: %s", ep, bind ? "bind" : "connect", zmq_strerror(-r));
        return r;
}

int endpoints_attach(void *sock, const char *list, bool bind, char *err, size_t errlen) {
        char ep[1024];
        const char *p = list;

        while (*p) {
                const char *end = strchr(p, ',');
                size_t n = end ? (size_t)(end - p) : strlen(p);
                const char *s = p, *e = p + n;
                int r;

                while (s < e && (*s == ' ' || *s == '\t'))
                        s++;
                while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if (e > s) {
                        if ((size_t)(e - s) >= sizeof(ep)) {
                                snprintf(err, errlen, "endpoint too long");
                                return -ENAMETOOLONG;
                        }
                        memcpy(ep, s, (size_t)(e - s));
                        ep[e - s] = 0;
                        if ((r = attach_one(sock, ep, bind, err, errlen)) < 0)
                                return r;
                }
                p += n;
                if (*p == ',')
                        p++;
        }
        return 0;
}
