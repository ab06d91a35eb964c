/* daemon/store/store.c: opening, versioning and committing the LMDB store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "util/error.h"

int store_err(int rc) {
        switch (rc) {
        case MDB_SUCCESS:
                return 0;
        case MDB_NOTFOUND:
                return STORE_E_NOTFOUND;
        case MDB_MAP_FULL:
                return STORE_E_FULL;
        case MDB_VERSION_MISMATCH:
        case MDB_INCOMPATIBLE:
                return STORE_E_FORMAT;
        case MDB_CORRUPTED:
        case MDB_PAGE_NOTFOUND:
        case MDB_INVALID:
                return STORE_E_CORRUPT;
        case ENOSPC:
                return STORE_E_FULL;
        default:
                return rc > 0 ? -rc : -EIO;
        }
}

Store *store_free(Store *s) {
        if (s) {
                if (s->env)
                        mdb_env_close(s->env);
                free(s->path);
                free(s);
        }
        return NULL;
}

static int check_format(Store *s, char *err, size_t errlen) {
        MDB_txn *txn;
        MDB_val k = {6, (void *)"format"}, v;
        uint32_t fmt = STORE_FORMAT;
        int rc;

        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc)
                return store_err(rc);
        {
                const struct {
                        const char *name;
                        MDB_dbi *dbi;
                } dbs[] = {
                        {"meta", &s->meta},           {"dedup", &s->dedup},       {"buckets", &s->buckets},
                        {"hbuckets", &s->hbuckets},   {"sketches", &s->sketches}, {"hsketches", &s->hsketches}, {"gauges", &s->gauges},
                        {"tickets", &s->tickets},     {"deadlines", &s->deadlines}, {"complaints", &s->complaints},
                        {"unhandled", &s->unhandled}, {"customers", &s->customers},
                        {"alert_states", &s->alert_states}, {"alert_history", &s->alert_history},
                        {"alert_silences", &s->alert_silences},
                };
                for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
                        if ((rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi)))
                                goto fail;
        }

        rc = mdb_get(txn, s->meta, &k, &v);
        if (rc == MDB_NOTFOUND) {
                v = (MDB_val){sizeof(fmt), &fmt};
                if ((rc = mdb_put(txn, s->meta, &k, &v, 0)))
                        goto fail;
        } else if (rc) {
                goto fail;
        } else if (v.mv_size != sizeof(fmt) || memcmp(v.mv_data, &fmt, sizeof(fmt)) != 0) {
                uint32_t have = 0;
                if (v.mv_size == sizeof(have))
                        memcpy(&have, v.mv_data, sizeof(have));
                snprintf(err, errlen, "%s: storage format %u, this raterd reads format %u", s->path, have,
                         STORE_FORMAT);
                mdb_txn_abort(txn);
                return STORE_E_FORMAT;
        }
        rc = mdb_txn_commit(txn);
        return store_err(rc);
fail:
        mdb_txn_abort(txn);
        return store_err(rc);
}

int store_open(Store **out, const char *dir, uint64_t map_size, char *err, size_t errlen) {
        _cleanup_(store_freep) Store *s = NULL;
        int rc, r;

        s = calloc(1, sizeof(*s));
        if (!s || !(s->path = strdup(dir)))
                return -ENOMEM;
        if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
                r = -errno;
                snprintf(err, errlen, "%s: cannot create state directory: %s", dir, strerror(errno));
                return r;
        }
        if ((rc = mdb_env_create(&s->env))) {
                s->env = NULL;
                return store_err(rc);
        }
        if ((rc = mdb_env_set_mapsize(s->env, map_size)) || (rc = mdb_env_set_maxdbs(s->env, 32)))
                return store_err(rc);
        /* MDB_NOTLS: the control path reads while a batch may hold the write
         * transaction in the same thread. Sync stays on: a commit returns
         * only once the data is on disk. */
        rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
        if (rc) {
                snprintf(err, errlen, "%s: cannot open storage: %s", dir, mdb_strerror(rc));
                return store_err(rc);
        }
        r = check_format(s, err, errlen);
        if (r) {
                if (!*err)
                        snprintf(err, errlen, "%s: cannot initialise storage: %s", dir,
                                 r < 0 ? strerror(-r) : "format or corruption error");
                return r;
        }
        *out = TAKE_PTR(s);
        return 0;
}

uint64_t store_used_bytes(Store *s) {
        MDB_envinfo info;
        MDB_stat st;

        if (mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st))
                return 0;
        return (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
}

int store_begin(Store *s, unsigned flags, MDB_txn **txn) {
        return store_err(mdb_txn_begin(s->env, NULL, flags, txn));
}

int store_commit(MDB_txn *txn) {
        return store_err(mdb_txn_commit(txn));
}

uint64_t store_entries(Store *s, MDB_dbi dbi) {
        MDB_txn *txn;
        MDB_stat st;
        uint64_t n = 0;

        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
                return 0;
        if (mdb_stat(txn, dbi, &st) == 0)
                n = st.ms_entries;
        mdb_txn_abort(txn);
        return n;
}
