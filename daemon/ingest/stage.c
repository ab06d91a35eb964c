/* daemon/ingest/stage.c: the ids and held events of one batch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/arena.h"
#include "ingest/stage.h"
#include "util/error.h"
#include "util/hash.h"

typedef struct {
        uint64_t hash;
        uint32_t off; /* in keys */
        uint8_t kind, len;
        int64_t seen_ms;
} Id;

/* A Bloom filter over the ids in front of the table: most events are new,
 * and a miss in 128 KiB of bits (cache-resident) is far cheaper than one
 * in the table's slots (MiBs at 64 Ki ids). Two bits an id; at 64 Ki ids
 * about 1.4 % of lookups go on to the table. */
#define BLOOM_BITS (1u << 20)

/* Sorting compares a 64-bit key first: the kind, then the 7 id bytes
 * after the prefix every id of the batch shares (zero-padded, so a
 * smaller key is a smaller id), and the bytes only on a tie. Ids from one
 * source share long prefixes ("TCK-2026-..."), which made every
 * comparison a memcmp call. */
typedef struct {
        uint64_t key;
        StageId id;
} SortItem;

struct Stage {
        Batch *batch;
        uint64_t *bloom; /* BLOOM_BITS bits */
        Id *ids;
        size_t n_ids, cap_ids;
        char *keys; /* the id bytes, referenced by offset: realloc is fine */
        size_t keys_len, keys_cap;
        /* Open addressing; a slot holds the hash's high half above the ids
         * index + 1 (0 = free), so a probe that misses reads no Id. */
        uint64_t *slots;
        size_t n_slots;  /* power of two, > 2 * n_ids */
        StageId *sorted;
        size_t cap_sorted;
        SortItem *items; /* sorting scratch */
        size_t cap_items;
        Event *held;
        size_t n_held, cap_held;
        EventArena strings; /* of the held events */
};

int stage_new(Stage **out) {
        _cleanup_(stage_freep) Stage *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        if ((r = batch_new(&s->batch)) < 0)
                return r;
        s->n_slots = 1024;
        s->slots = calloc(s->n_slots, sizeof(*s->slots));
        s->bloom = calloc(BLOOM_BITS / 64, sizeof(uint64_t));
        if (!s->slots || !s->bloom)
                return -ENOMEM;
        *out = TAKE_PTR(s);
        return 0;
}

Stage *stage_free(Stage *s) {
        if (s) {
                batch_free(s->batch);
                free(s->ids);
                free(s->keys);
                free(s->slots);
                free(s->bloom);
                free(s->sorted);
                free(s->items);
                free(s->held);
                arena_free(&s->strings);
                free(s);
        }
        return NULL;
}

void stage_reset(Stage *s) {
        batch_reset(s->batch);
        if (s->n_ids) {
                memset(s->slots, 0, s->n_slots * sizeof(*s->slots));
                memset(s->bloom, 0, BLOOM_BITS / 8);
        }
        s->n_ids = s->keys_len = s->n_held = 0;
        arena_reset(&s->strings);
}

Batch *stage_batch(Stage *s) {
        return s->batch;
}

uint64_t stage_id_hash(EventKind kind, Slice id) {
        return hash_bytes((uint64_t)kind, id.ptr, id.len);
}

static bool id_equal(const Stage *s, const Id *e, uint64_t h, EventKind kind, Slice id) {
        return e->hash == h && e->kind == kind && e->len == id.len && memcmp(s->keys + e->off, id.ptr, id.len) == 0;
}

#define SLOT_TAG(h) ((h) & 0xffffffff00000000ULL)
#define SLOT_INDEX(v) ((size_t)((v) & 0xffffffffu) - 1)

/* Two bit positions from bits of h that neither the slot index (low bits)
 * nor the tag (high half) depend on alone. */
static inline uint32_t bloom_a(uint64_t h) {
        return (uint32_t)(h >> 12) & (BLOOM_BITS - 1);
}

static inline uint32_t bloom_b(uint64_t h) {
        return (uint32_t)(h >> 38) & (BLOOM_BITS - 1);
}

static inline bool bloom_test(const uint64_t *bloom, uint32_t bit) {
        return bloom[bit / 64] >> (bit % 64) & 1;
}

void stage_prefetch_id(const Stage *s, uint64_t h) {
        __builtin_prefetch(&s->bloom[bloom_a(h) / 64], 1);
        __builtin_prefetch(&s->bloom[bloom_b(h) / 64], 1);
        __builtin_prefetch(&s->slots[h & (s->n_slots - 1)], 1);
}

bool stage_has_id(const Stage *s, EventKind kind, Slice id, uint64_t h) {
        if (!bloom_test(s->bloom, bloom_a(h)) || !bloom_test(s->bloom, bloom_b(h)))
                return false;
        for (size_t j = h & (s->n_slots - 1); s->slots[j]; j = (j + 1) & (s->n_slots - 1))
                if (SLOT_TAG(s->slots[j]) == SLOT_TAG(h) && id_equal(s, &s->ids[SLOT_INDEX(s->slots[j])], h, kind, id))
                        return true;
        return false;
}

static int grow_slots(Stage *s) {
        size_t n = s->n_slots * 2;
        uint64_t *slots = calloc(n, sizeof(*slots));

        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_ids; i++) {
                size_t j = s->ids[i].hash & (n - 1);
                while (slots[j])
                        j = (j + 1) & (n - 1);
                slots[j] = SLOT_TAG(s->ids[i].hash) | (i + 1);
        }
        free(s->slots);
        s->slots = slots;
        s->n_slots = n;
        return 0;
}

static int reserve(void **p, size_t *cap, size_t need, size_t size, size_t first) {
        size_t n = *cap ? *cap : first;
        void *q;

        if (need <= *cap)
                return 0;
        while (n < need)
                n *= 2;
        q = realloc(*p, n * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = n;
        return 0;
}

int stage_add_id(Stage *s, EventKind kind, Slice id, uint64_t h, int64_t seen_ms) {
        size_t j;
        int r;

        if (2 * (s->n_ids + 1) > s->n_slots && (r = grow_slots(s)) < 0)
                return r;
        if ((r = reserve((void **)&s->ids, &s->cap_ids, s->n_ids + 1, sizeof(Id), 1024)) < 0 ||
            (r = reserve((void **)&s->keys, &s->keys_cap, s->keys_len + id.len, 1, 64 * 1024)) < 0)
                return r;
        for (j = h & (s->n_slots - 1); s->slots[j]; j = (j + 1) & (s->n_slots - 1))
                ;
        memcpy(s->keys + s->keys_len, id.ptr, id.len);
        s->ids[s->n_ids] = (Id){h, (uint32_t)s->keys_len, (uint8_t)kind, (uint8_t)id.len, seen_ms};
        s->keys_len += id.len;
        s->slots[j] = SLOT_TAG(h) | ++s->n_ids;
        s->bloom[bloom_a(h) / 64] |= 1ULL << (bloom_a(h) % 64);
        s->bloom[bloom_b(h) / 64] |= 1ULL << (bloom_b(h) % 64);
        return 0;
}

/* The dedup key's order: kind byte, then the id bytes, shorter first. */
static int stage_id_cmp(const StageId *a, const StageId *b) {
        size_t n = a->id.len < b->id.len ? a->id.len : b->id.len;
        int c;

        if (a->kind != b->kind)
                return (int)a->kind - (int)b->kind;
        if ((c = memcmp(a->id.ptr, b->id.ptr, n)))
                return c;
        return a->id.len < b->id.len ? -1 : a->id.len > b->id.len;
}

static int sort_item_cmp(const void *x, const void *y) {
        const SortItem *a = x, *b = y;

        if (a->key != b->key)
                return a->key < b->key ? -1 : 1;
        return stage_id_cmp(&a->id, &b->id);
}

static size_t common_prefix(const Stage *s) {
        const char *first = s->keys + s->ids[0].off;
        size_t p = s->ids[0].len;

        for (size_t i = 1; i < s->n_ids && p > 0; i++) {
                const char *k = s->keys + s->ids[i].off;
                size_t j = 0, n = s->ids[i].len < p ? s->ids[i].len : p;

                while (j < n && k[j] == first[j])
                        j++;
                p = j;
        }
        return p;
}

const StageId *stage_ids_sorted(Stage *s, size_t *n) {
        SortItem *items;
        size_t prefix;

        *n = s->n_ids;
        /* No memory: NULL with the real count, so the caller fails the
         * commit instead of storing it without its dedup entries. */
        if (reserve((void **)&s->sorted, &s->cap_sorted, s->n_ids, sizeof(StageId), 1024) < 0 ||
            reserve((void **)&s->items, &s->cap_items, s->n_ids, sizeof(SortItem), 1024) < 0)
                return NULL;
        if (s->n_ids == 0)
                return s->sorted;
        items = s->items;
        prefix = common_prefix(s);
        for (size_t i = 0; i < s->n_ids; i++) {
                const Id *e = &s->ids[i];
                const uint8_t *k = (const uint8_t *)s->keys + e->off;
                uint64_t key = (uint64_t)e->kind << 56;

                for (size_t j = 0; j < 7 && prefix + j < e->len; j++)
                        key |= (uint64_t)k[prefix + j] << (48 - 8 * j);
                items[i] = (SortItem){key, {(EventKind)e->kind, {s->keys + e->off, e->len}, e->seen_ms}};
        }
        qsort(items, s->n_ids, sizeof(*items), sort_item_cmp);
        for (size_t i = 0; i < s->n_ids; i++)
                s->sorted[i] = items[i].id;
        return s->sorted;
}

int stage_hold(Stage *s, const Event *ev) {
        int r;

        if ((r = reserve((void **)&s->held, &s->cap_held, s->n_held + 1, sizeof(Event), 256)) < 0)
                return r;
        s->held[s->n_held] = *ev;
        if ((r = arena_own(&s->strings, &s->held[s->n_held])) < 0)
                return r;
        s->n_held++;
        return 0;
}

const Event *stage_held(const Stage *s, size_t *n) {
        *n = s->n_held;
        return s->held;
}
