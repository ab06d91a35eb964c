/* tests/unit/testdir.h: helpers of the unit tests that open real LMDB
 * stores in temporary directories. */
#pragma once

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/event.h"

/* Removes a store's two files from directory d (the directory stays). */
static inline void testdir_clear_store(const char *d) {
        char p[512];

        snprintf(p, sizeof(p), "%s/data.mdb", d);
        unlink(p);
        snprintf(p, sizeof(p), "%s/lock.mdb", d);
        unlink(p);
}

/* A C string as a Slice; NULL is the absent slice. */
static inline Slice sl(const char *s) {
        return s ? (Slice){s, strlen(s)} : (Slice){NULL, 0};
}
