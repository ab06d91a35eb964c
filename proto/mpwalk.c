/* proto/mpwalk.c: the header walk of msgpack bytes (see mpwalk.h). */
#include <stdbool.h>
#include <stdint.h>

#include "mpwalk.h"

/* Big-endian length or count of n (1, 2 or 4) bytes at p. */
static uint64_t be_uint(const uint8_t *p, size_t n) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

MpWalk mpwalk(const void *data, size_t len, unsigned max_depth, size_t *end) {
        const uint8_t *p = data;
        const bool limit = max_depth > 0;
        uint64_t left[MPWALK_DEPTH_MAX + 1] = {1}; /* objects owed per open level */
        uint64_t owed = 1;                         /* their sum */
        unsigned depth = 0;
        size_t i = 0;

        if (max_depth > MPWALK_DEPTH_MAX)
                max_depth = MPWALK_DEPTH_MAX; /* left[] holds no more levels */
        while (owed > 0) {
                uint64_t skip = 0, items = 0;
                size_t lenb = 0; /* bytes of a length or count after the type byte */
                uint8_t b;

                while (limit && left[depth] == 0)
                        depth--;
                if (i >= len)
                        return MPWALK_MALFORMED;
                b = p[i++];
                if (limit)
                        left[depth]--;
                owed--;
                /* Most common first: fixstr (keys, names), fixint, fixmap. */
                if (b >= 0xa0 && b <= 0xbf)
                        skip = b & 0x1fu;
                else if (b <= 0x7f || b >= 0xe0)
                        ; /* fixint: the type byte is all */
                else if (b <= 0x8f)
                        items = 2u * (b & 0x0fu);
                else if (b <= 0x9f)
                        items = b & 0x0fu;
                else if (b == 0xc0 || b == 0xc2 || b == 0xc3)
                        ; /* nil, false, true */
                else if (b == 0xc1)
                        return MPWALK_MALFORMED;
                else if (b <= 0xc9) /* bin 8/16/32, ext 8/16/32 */
                        lenb = (size_t)1 << ((b - 0xc4) % 3);
                else if (b <= 0xcb) /* float 32/64 */
                        skip = b == 0xca ? 4 : 8;
                else if (b <= 0xd3) /* uint, int 8..64 */
                        skip = 1u << ((b - 0xcc) % 4);
                else if (b <= 0xd8) /* fixext: type byte + 1..16 */
                        skip = 1 + (1u << (b - 0xd4));
                else if (b <= 0xdb) /* str 8/16/32 */
                        lenb = (size_t)1 << (b - 0xd9);
                else /* array 16/32, map 16/32 */
                        lenb = b == 0xdc || b == 0xde ? 2 : 4;

                if (lenb) {
                        uint64_t n;

                        if (len - i < lenb)
                                return MPWALK_MALFORMED;
                        n = be_uint(p + i, lenb);
                        i += lenb;
                        if (b >= 0xdc)
                                items = b >= 0xde ? 2 * n : n;
                        else
                                skip = n + (b >= 0xc7 && b <= 0xc9); /* ext: type byte */
                }
                if (skip > len - i)
                        return MPWALK_MALFORMED;
                i += (size_t)skip;
                if (limit && (b >= 0xdc || (b >= 0x80 && b <= 0x9f))) {
                        if (depth >= max_depth)
                                return MPWALK_TOO_DEEP;
                        if (items > 0)
                                left[++depth] = items;
                }
                owed += items;
                if (owed > len - i)
                        return MPWALK_MALFORMED;
        }
        *end = i;
        return MPWALK_OK;
}
