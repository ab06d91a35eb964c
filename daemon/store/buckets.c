/* daemon/store/buckets.c: reading, merging and writing bucket records. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "store/buckets.h"

#define HEADER 8

size_t buckets_key(const Scope *s, uint32_t minute, uint8_t *buf) {
        size_t n = 0;

        buf[n++] = s->kind;
        buf[n++] = s->len;
        memcpy(buf + n, s->name, s->len);
        n += s->len;
        buf[n++] = (uint8_t)(minute >> 24);
        buf[n++] = (uint8_t)(minute >> 16);
        buf[n++] = (uint8_t)(minute >> 8);
        buf[n++] = (uint8_t)minute;
        return n;
}

/* Splits a key back into scope and minute; false when it is not one. */
static bool key_parse(const MDB_val *k, Scope *s, uint32_t *minute) {
        const uint8_t *p = k->mv_data;

        if (k->mv_size < 6 || p[0] >= _SCOPE_KIND_MAX || p[1] > PROTO_NAME_MAX || k->mv_size != (size_t)p[1] + 6)
                return false;
        s->kind = p[0];
        s->len = p[1];
        memcpy(s->name, p + 2, s->len);
        p += 2 + s->len;
        *minute = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        return true;
}

/* The sections of a record, in stored order; bit i of a version 2
 * record's mask stands for sections[i]. */
static const struct {
        size_t off, size;
} sections[] = {
        {offsetof(BucketRecord, fb), sizeof(FbAgg)},
        {offsetof(BucketRecord, tk), sizeof(TkAgg)},
        {offsetof(BucketRecord, cp), sizeof(CpAgg)},
};
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

static int record_read(const MDB_val *v, BucketRecord *out) {
        const uint8_t *p = v->mv_data;
        size_t at = HEADER;
        unsigned mask;

        memset(out, 0, sizeof(*out));
        if (v->mv_size < HEADER || p[0] == 0 || p[0] > BUCKET_RECORD_V2)
                return STORE_E_FORMAT;
        if (p[0] == BUCKET_RECORD_V1) {
                if (v->mv_size != HEADER + sizeof(BucketRecord))
                        return STORE_E_FORMAT;
                memcpy(out, p + HEADER, sizeof(*out));
                return 0;
        }
        mask = p[1];
        if (mask >> N_SECTIONS)
                return STORE_E_FORMAT;
        for (size_t i = 0; i < N_SECTIONS; i++) {
                if (!(mask & (1u << i)))
                        continue;
                if (v->mv_size - at < sections[i].size)
                        return STORE_E_FORMAT;
                memcpy((uint8_t *)out + sections[i].off, p + at, sections[i].size);
                at += sections[i].size;
        }
        return at == v->mv_size ? 0 : STORE_E_FORMAT;
}

/* The version 2 mask of rec (its sections that are not all zero bytes) and
 * the stored size that goes with it. */
static size_t record_size(const BucketRecord *rec, unsigned *mask) {
        static const BucketRecord zero;
        size_t size = HEADER;

        *mask = 0;
        for (size_t i = 0; i < N_SECTIONS; i++)
                if (memcmp((const uint8_t *)rec + sections[i].off, (const uint8_t *)&zero + sections[i].off,
                           sections[i].size) != 0) {
                        *mask |= 1u << i;
                        size += sections[i].size;
                }
        return size;
}

static void record_write(uint8_t *p, const BucketRecord *rec, unsigned mask) {
        size_t at = HEADER;

        memset(p, 0, HEADER);
        p[0] = BUCKET_RECORD_V2;
        p[1] = (uint8_t)mask;
        for (size_t i = 0; i < N_SECTIONS; i++)
                if (mask & (1u << i)) {
                        memcpy(p + at, (const uint8_t *)rec + sections[i].off, sections[i].size);
                        at += sections[i].size;
                }
}

void bucket_record_merge(BucketRecord *into, const BucketRecord *from) {
        fbagg_merge(&into->fb, &from->fb);
        tkagg_merge(&into->tk, &from->tk);
        cpagg_merge(&into->cp, &from->cp);
}

static MDB_dbi records_db(const Store *st, BucketRes res) {
        return res == RES_HOUR ? st->hbuckets : st->buckets;
}

static MDB_dbi sketches_db(const Store *st, BucketRes res) {
        return res == RES_HOUR ? st->hsketches : st->sketches;
}

int buckets_cursor(Store *st, MDB_txn *txn, BucketRes res, MDB_cursor **c) {
        return store_err(mdb_cursor_open(txn, records_db(st, res), c));
}

int buckets_add_at(MDB_cursor *c, const Scope *s, uint32_t minute, const BucketRecord *delta) {
        uint8_t kbuf[BUCKET_KEY_MAX];
        MDB_val k = {buckets_key(s, minute, kbuf), kbuf}, v;
        BucketRecord rec = {0};
        unsigned flags = MDB_RESERVE, mask;
        size_t size;
        int rc, r;

        /* A cursor (not mdb_get/mdb_put) so that keys in ascending order
         * are found from the current leaf page without a descent from the
         * root, and an existing record is rewritten where it is. */
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
        if (rc == 0) {
                r = record_read(&v, &rec);
                if (r)
                        /* A record we cannot read is not silently replaced:
                         * the caller logs it and the batch is dropped. */
                        return r;
        } else if (rc != MDB_NOTFOUND) {
                return store_err(rc);
        }
        bucket_record_merge(&rec, delta);
        size = record_size(&rec, &mask);
        /* The same size: rewritten where it is. */
        if (rc == 0 && v.mv_size == size)
                flags |= MDB_CURRENT;

        /* Reserve and write in place: one copy instead of two. */
        k = (MDB_val){buckets_key(s, minute, kbuf), kbuf};
        v.mv_size = size;
        rc = mdb_cursor_put(c, &k, &v, flags);
        if (rc)
                return store_err(rc);
        record_write(v.mv_data, &rec, mask);
        return 0;
}

int buckets_add(Store *st, MDB_txn *txn, BucketRes res, const Scope *s, uint32_t minute, const BucketRecord *delta) {
        MDB_cursor *c;
        int r;

        if ((r = buckets_cursor(st, txn, res, &c)))
                return r;
        r = buckets_add_at(c, s, minute, delta);
        mdb_cursor_close(c);
        return r;
}

/* Merges the buckets of the scope under the cursor's position, from the
 * first key >= (s, from) while the scope matches and minute <= to. Leaves
 * the cursor on the first key past them (rc MDB_NOTFOUND at the end). */
static int sum_scope(MDB_cursor *c, const Scope *s, uint32_t from, uint32_t to, BucketRecord *sum, MDB_val *k,
                     MDB_val *v, int *crc) {
        uint8_t kbuf[BUCKET_KEY_MAX];
        Scope ks;
        uint32_t minute;
        BucketRecord rec;

        k->mv_size = buckets_key(s, from, kbuf);
        k->mv_data = kbuf;
        *crc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
        while (*crc == 0) {
                if (!key_parse(k, &ks, &minute) || ks.kind != s->kind || ks.len != s->len ||
                    memcmp(ks.name, s->name, s->len) != 0 || minute > to)
                        break;
                if (record_read(v, &rec) == 0)
                        bucket_record_merge(sum, &rec);
                *crc = mdb_cursor_get(c, k, v, MDB_NEXT);
        }
        return 0;
}

int buckets_sum(Store *st, MDB_txn *txn, BucketRes res, const Scope *s, uint32_t from, uint32_t to, BucketRecord *sum) {
        MDB_cursor *c;
        MDB_val k, v;
        int rc, crc;

        rc = mdb_cursor_open(txn, records_db(st, res), &c);
        if (rc)
                return store_err(rc);
        sum_scope(c, s, from, to, sum, &k, &v, &crc);
        mdb_cursor_close(c);
        return crc == 0 || crc == MDB_NOTFOUND ? 0 : store_err(crc);
}

int buckets_foreach_scope(Store *st, MDB_txn *txn, BucketRes res, ScopeKind kind, uint32_t from, uint32_t to,
                          BucketsScopeFn cb, void *userdata) {
        MDB_cursor *c;
        MDB_val k, v;
        uint8_t kbuf[BUCKET_KEY_MAX];
        Scope s;
        uint32_t minute;
        int rc, crc, r = 0;

        rc = mdb_cursor_open(txn, records_db(st, res), &c);
        if (rc)
                return store_err(rc);
        kbuf[0] = (uint8_t)kind;
        k = (MDB_val){1, kbuf};
        crc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (crc == 0 && key_parse(&k, &s, &minute) && s.kind == kind) {
                BucketRecord sum = {0};
                Scope cur = s;

                sum_scope(c, &cur, from, to, &sum, &k, &v, &crc);
                r = cb(&cur, &sum, userdata);
                if (r)
                        break;
                /* Skip this scope's later buckets (events up to 5 min in the
                 * future) by seeking past its last possible minute. */
                if (crc == 0 && key_parse(&k, &s, &minute) && s.kind == cur.kind && s.len == cur.len &&
                    memcmp(s.name, cur.name, cur.len) == 0) {
                        k.mv_size = buckets_key(&cur, UINT32_MAX, kbuf);
                        k.mv_data = kbuf;
                        crc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
                        if (crc == 0 && k.mv_size == (size_t)cur.len + 6 && memcmp(k.mv_data, kbuf, k.mv_size) == 0)
                                crc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
                }
        }
        mdb_cursor_close(c);
        if (r)
                return r;
        return crc == 0 || crc == MDB_NOTFOUND ? 0 : store_err(crc);
}

static size_t sketch_key(const Scope *s, uint32_t minute, uint8_t which, uint8_t *buf) {
        size_t n = buckets_key(s, minute, buf);
        buf[n++] = which;
        return n;
}

int buckets_sketch_add(Store *st, MDB_txn *txn, BucketRes res, const Scope *s, uint32_t minute, uint8_t which,
                       const double *values, size_t n, Sketch *scratch, uint8_t *enc) {
        uint8_t kbuf[BUCKET_KEY_MAX + 1];
        MDB_val k = {sketch_key(s, minute, which, kbuf), kbuf}, v;
        size_t len;
        int rc;

        sketch_clear(scratch);
        rc = mdb_get(txn, sketches_db(st, res), &k, &v);
        if (rc == 0) {
                if (sketch_decode_merge(scratch, v.mv_data, v.mv_size) != 0)
                        return STORE_E_FORMAT;
        } else if (rc != MDB_NOTFOUND) {
                return store_err(rc);
        }
        for (size_t i = 0; i < n; i++)
                sketch_add(scratch, values[i]);
        len = sketch_encode(scratch, enc, SKETCH_ENCODED_MAX);
        v = (MDB_val){len, enc};
        return store_err(mdb_put(txn, sketches_db(st, res), &k, &v, 0));
}

int buckets_sketch_sum(Store *st, MDB_txn *txn, BucketRes res, const Scope *s, uint32_t from, uint32_t to, uint8_t which,
                       Sketch *acc) {
        uint8_t kbuf[BUCKET_KEY_MAX + 1];
        MDB_cursor *c;
        MDB_val k, v;
        size_t prefix = (size_t)s->len + 2;
        int rc;

        rc = mdb_cursor_open(txn, sketches_db(st, res), &c);
        if (rc)
                return store_err(rc);
        k = (MDB_val){sketch_key(s, from, 0, kbuf), kbuf};
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (rc == 0) {
                const uint8_t *p = k.mv_data;
                uint32_t minute;
                if (k.mv_size != prefix + 5 || memcmp(p, kbuf, prefix) != 0)
                        break;
                minute = (uint32_t)p[prefix] << 24 | (uint32_t)p[prefix + 1] << 16 | (uint32_t)p[prefix + 2] << 8 |
                         p[prefix + 3];
                if (minute > to)
                        break;
                if (p[prefix + 4] == which)
                        (void)sketch_decode_merge(acc, v.mv_data, v.mv_size);
                rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
        return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

/* Deletes, in one database, keys whose bucket number (the 4 bytes after the
 * scope; sketches have one more byte) is below `before`. */
static int prune_db(MDB_txn *txn, MDB_dbi dbi, size_t tail, uint32_t before, unsigned scan, uint8_t *resume,
                    size_t *resume_len, unsigned *deleted) {
        MDB_cursor *c;
        MDB_val k, v;
        unsigned seen = 0;
        int rc;

        rc = mdb_cursor_open(txn, dbi, &c);
        if (rc)
                return store_err(rc);
        k = (MDB_val){*resume_len, resume};
        rc = *resume_len ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &v, MDB_FIRST);
        while (rc == 0 && seen < scan) {
                const uint8_t *p = k.mv_data;
                seen++;
                if (k.mv_size >= 2 + tail + 4 && k.mv_size == (size_t)p[1] + 2 + 4 + tail) {
                        const uint8_t *m = p + 2 + p[1];
                        uint32_t n = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
                        if (n < before) {
                                if ((rc = mdb_cursor_del(c, 0)))
                                        break;
                                (*deleted)++;
                        }
                }
                rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        if (rc == 0 && k.mv_size <= BUCKET_KEY_MAX + 1) {
                memcpy(resume, k.mv_data, k.mv_size);
                *resume_len = k.mv_size;
        } else if (rc == MDB_NOTFOUND) {
                *resume_len = 0; /* wrapped: the next call starts over */
                rc = 0;
        }
        mdb_cursor_close(c);
        return store_err(rc);
}

int buckets_prune(Store *st, MDB_txn *txn, BucketRes res, uint32_t before, unsigned scan, BucketsPrune *p,
                  unsigned *deleted) {
        int r;

        *deleted = 0;
        if ((r = prune_db(txn, records_db(st, res), 0, before, scan, p->records, &p->records_len, deleted)))
                return r;
        return prune_db(txn, sketches_db(st, res), 1, before, scan, p->sketches, &p->sketches_len, deleted);
}
