/* daemon/ingest/arena.h: EventArena, where events outlive their message.
 *
 * An Event's strings point into the ZeroMQ frames it was decoded from.
 * Keeping it past them (a ticket or complaint waiting for the writer
 * thread) needs a copy of its strings:
 * arena_own() copies them into chunks that never move, so pointers into
 * the arena stay valid until arena_reset().
 */
#pragma once

#include "proto/event.h"

typedef struct ArenaChunk ArenaChunk;

typedef struct {
        ArenaChunk *chunks; /* the newest first */
} EventArena;

/* Repoints every string of ev at a copy in the arena. Returns 0 or
 * -ENOMEM (ev is then partly repointed: drop it). */
int arena_own(EventArena *a, Event *ev);

/* Forgets every copy; keeps one chunk for reuse. */
void arena_reset(EventArena *a);

void arena_free(EventArena *a);
