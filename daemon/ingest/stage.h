/* daemon/ingest/stage.h: Stage, one batch of events on its way to LMDB.
 *
 * Ingest fills one stage on the main thread (validated, deduplicated,
 * feedback aggregated into its Batch) while the writer thread commits the
 * previous one (ingest/writer.h). What the writer needs besides the Batch
 * is kept here: the (kind, id) of every applied event, to record for
 * deduplication and to recognise repeats before the batch is durable, and
 * deep copies of the ticket and complaint events, whose state lives in
 * LMDB and is applied by the writer inside the commit's transaction.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ingest/batch.h"
#include "proto/event.h"

typedef struct Stage Stage;

typedef struct {
        EventKind kind;
        Slice id;
        int64_t seen_ms; /* the first time it was seen (dedup value) */
} StageId;

int stage_new(Stage **out);
Stage *stage_free(Stage *s);

/* Empties the stage for its next batch; keeps its memory. */
void stage_reset(Stage *s);

Batch *stage_batch(Stage *s);

/* The hash the two functions below take: computed once per event, used
 * for both batches alive. */
uint64_t stage_id_hash(EventKind kind, Slice id);

/* Whether (kind, id) (hash h) is an applied event of this stage. */
bool stage_has_id(const Stage *s, EventKind kind, Slice id, uint64_t h);

/* Asks the CPU to fetch what stage_has_id and stage_add_id with hash h
 * will touch (see batch_prefetch_feedback). */
void stage_prefetch_id(const Stage *s, uint64_t h);

/* Records (kind, id) (hash h) as applied at seen_ms. Returns 0 or
 * -ENOMEM. */
int stage_add_id(Stage *s, EventKind kind, Slice id, uint64_t h, int64_t seen_ms);

/* The recorded ids, sorted by (kind, id) so the writer walks the dedup
 * B-tree forward; valid until the next stage_add_id or stage_reset. *n is
 * always the count: NULL with *n > 0 means no memory to sort them. */
const StageId *stage_ids_sorted(Stage *s, size_t *n);

/* Keeps a deep copy of ev (a ticket or complaint) for the writer. */
int stage_hold(Stage *s, const Event *ev);

/* The held events in arrival order. */
const Event *stage_held(const Stage *s, size_t *n);

static inline void stage_freep(Stage **s) {
        stage_free(*s);
}
