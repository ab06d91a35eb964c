/* proto/mpwalk.h: a walk over the headers of msgpack bytes, before
 * msgpack-c unpacks them.
 *
 * msgpack-c allocates a container's element array as soon as it reads the
 * header, before any element: a 5-byte "array of 2^32-1 elements" makes it
 * ask malloc for 96 GiB. Every element takes at least one byte, so walking
 * the headers once, with nothing allocated, and requiring that the objects
 * still owed never outnumber the bytes left bounds msgpack-c's allocations
 * by the payload size without refusing any complete message. The walk can
 * also bound the nesting depth.
 */
#pragma once

#include <stddef.h>

typedef enum {
        MPWALK_OK = 0,
        MPWALK_MALFORMED, /* truncated, the never-used byte 0xc1, or more objects owed than bytes left */
        MPWALK_TOO_DEEP,  /* containers nest deeper than asked */
} MpWalk;

#define MPWALK_DEPTH_MAX 64

/* Walks the one object at p[0 .. len). max_depth (1 .. MPWALK_DEPTH_MAX) is
 * the deepest container nesting allowed, 0 for no limit. On MPWALK_OK sets
 * *end to the bytes the object spans (bytes after it are the caller's to
 * judge). */
MpWalk mpwalk(const void *p, size_t len, unsigned max_depth, size_t *end);
