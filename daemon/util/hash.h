/* daemon/util/hash.h: a fast 64-bit hash of short byte strings for the
 * in-memory tables of the ingest hot path (not for anything stored or
 * exposed to peers). Eight bytes a round, then a full avalanche, so both
 * the low bits (slot) and the high bits (tag) are usable. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_mix(uint64_t h) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        return h ^ (h >> 33);
}

static inline uint64_t hash_bytes(uint64_t seed, const void *data, size_t len) {
        const unsigned char *p = data;
        uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL), w;

        for (; len >= 8; p += 8, len -= 8) {
                memcpy(&w, p, 8);
                h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
                h ^= h >> 29;
        }
        if (len) {
                w = 0;
                memcpy(&w, p, len);
                h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        }
        return hash_mix(h);
}
