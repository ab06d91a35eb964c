/* daemon/index/scope.h: Scope, one aggregation scope: `all`, `team:<t>`,
 * `agent:<a>` or `channel:<c>`. Names are byte strings (they may hold any
 * byte a publisher sent), so keys carry lengths, never terminators. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/event.h"

typedef enum { SCOPE_ALL = 0, SCOPE_TEAM, SCOPE_AGENT, SCOPE_CHANNEL, _SCOPE_KIND_MAX } ScopeKind;

typedef struct {
        uint8_t kind;
        uint8_t len;
        char name[PROTO_NAME_MAX];
} Scope;

/* Parses "all", "team:NAME", "agent:NAME" or "channel:NAME" (NAME 1-64
 * bytes, 1-32 for channels). Returns 0 or -EINVAL. */
int scope_parse(const char *text, Scope *out);

/* Parses "team", "agent" or "channel" (the --by of `top`). Returns the kind
 * or -EINVAL. */
int scope_kind_parse(const char *text);

/* Writes "kind:name" into buf (size >= SCOPE_TEXT_MAX); returns its length.
 * The name is copied as is: callers escape it for their output. */
#define SCOPE_TEXT_MAX (8 + PROTO_NAME_MAX + 1)
size_t scope_format(const Scope *s, char *buf);

/* Sets *s from an event field; returns false when the slice is empty. */
bool scope_from_slice(Scope *s, ScopeKind kind, Slice name);

/* The scopes an event updates: `all` plus one per team/agent/channel field
 * it carries. Returns how many were written (1..4). */
int scope_of_event(const Event *ev, Scope out[4]);

/* The team/agent/channel a ticket or complaint is attributed to: each taken
 * from the first of its events that carries it (len 0 = not known yet). */
typedef struct {
        Scope team, agent, channel;
} ScopeSet;

/* Fills the members still unknown from the event's fields. Returns a set
 * holding only the members newly filled (for gauges that must now count in
 * them too). */
ScopeSet scopeset_fill(ScopeSet *set, const Event *ev);

/* `all` (when with_all) plus the known members. Returns the count (0..4). */
int scopeset_list(const ScopeSet *set, bool with_all, Scope out[4]);

/* The stored form of a ScopeSet inside records (ticket and complaint state,
 * version 2): team, agent, channel, each as kind(u8) len(u8) name(len
 * bytes); 6 bytes for a set with no member known. */
#define SCOPESET_ENCODED_MAX (3 * (2 + PROTO_NAME_MAX))

/* Writes set to buf (SCOPESET_ENCODED_MAX bytes); returns the length. */
size_t scopeset_encode(const ScopeSet *set, uint8_t *buf);

/* Reads a set that is exactly p[0 .. len); false when it is not one. */
bool scopeset_decode(const uint8_t *p, size_t len, ScopeSet *out);

/* Records that end in a ScopeSet at offset head (ticket and complaint
 * state), first byte the version: version 1 is the whole struct of size
 * bytes; version 2 its first head bytes, then the set as above. */
#define SCOPESET_RECORD_V1 1
#define SCOPESET_RECORD_V2 2

/* Reads either version into out (size bytes, zeroed first); false when
 * p[0 .. len) is neither. */
bool scopeset_record_read(const void *p, size_t len, void *out, size_t size, size_t head);

/* Writes rec as version 2 to buf (head + SCOPESET_ENCODED_MAX bytes);
 * returns the length. */
size_t scopeset_record_write(const void *rec, size_t head, uint8_t *buf);
