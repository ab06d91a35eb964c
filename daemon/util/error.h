/* daemon/util/error.h: the one error model of raterd.
 *
 * Every fallible function returns int:
 *   0         success;
 *   < 0       a failure, as a negative errno (-ENOMEM, -EIO, -ENOSPC ...).
 *             It is passed up unchanged until someone logs it and decides.
 *   > 0       a defined condition of the module (MODULE_E_* in its header,
 *             e.g. STORE_E_NOTFOUND, PROTO_E_MISSING_FIELD) that the caller
 *             must handle; it is not a failure of the program.
 * Each library is adapted at its boundary:
 *   ZeroMQ  -1 + errno            -> -errno               (zmq_err())
 *   LMDB    positive errno         -> -errno
 *           negative MDB_* codes   -> STORE_E_* or -EIO    (store_err())
 *   msgpack MSGPACK_UNPACK_*       -> PROTO_E_MALFORMED (proto/decode.c)
 */
#pragma once

#include <errno.h>

static inline int zmq_err(void) {
        return errno > 0 ? -errno : -EIO;
}

#define _cleanup_(f) __attribute__((cleanup(f)))

/* Hands a cleanup-guarded pointer over: returns it and clears the local. */
#define TAKE_PTR(p)                                                                                                    \
        __extension__({                                                                                                             \
                __typeof__(p) _p = (p);                                                                                \
                (p) = NULL;                                                                                            \
                _p;                                                                                                    \
        })

static inline void freep(void *p) {
        extern void free(void *);
        free(*(void **)p);
}
