/* daemon/ingest/arena.c: chunked string copies for events (see arena.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/arena.h"

/* One event needs at most ~1 KiB of strings. */
#define CHUNK_SIZE (256u * 1024u)

struct ArenaChunk {
        ArenaChunk *next;
        size_t used;
        char data[];
};

static void free_chunks(ArenaChunk *c) {
        while (c) {
                ArenaChunk *next = c->next;
                free(c);
                c = next;
        }
}

static int copy_slice(EventArena *a, Slice *sl) {
        ArenaChunk *c = a->chunks;

        if (!sl->len) {
                /* Present-but-empty and absent stay apart. */
                sl->ptr = sl->ptr ? "" : NULL;
                return 0;
        }
        if (!c || c->used + sl->len > CHUNK_SIZE) {
                c = malloc(sizeof(ArenaChunk) + CHUNK_SIZE);
                if (!c)
                        return -ENOMEM;
                c->used = 0;
                c->next = a->chunks;
                a->chunks = c;
        }
        memcpy(c->data + c->used, sl->ptr, sl->len);
        sl->ptr = c->data + c->used;
        c->used += sl->len;
        return 0;
}

int arena_own(EventArena *a, Event *ev) {
        Slice *slices[] = {&ev->id,       &ev->team,   &ev->agent,     &ev->channel,
                           &ev->customer, &ev->ticket, &ev->complaint, &ev->category};
        int r;

        for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++)
                if ((r = copy_slice(a, slices[i])) < 0)
                        return r;
        return 0;
}

void arena_reset(EventArena *a) {
        if (a->chunks) {
                free_chunks(a->chunks->next);
                a->chunks->next = NULL;
                a->chunks->used = 0;
        }
}

void arena_free(EventArena *a) {
        free_chunks(a->chunks);
        a->chunks = NULL;
}
