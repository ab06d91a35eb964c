/* daemon/index/scope.c: scope names and the scopes of an event. */
#include <errno.h>
#include <string.h>

#include "index/scope.h"

static const char *const kind_names[_SCOPE_KIND_MAX] = {"all", "team", "agent", "channel"};

int scope_kind_parse(const char *text) {
        for (int k = SCOPE_TEAM; k < _SCOPE_KIND_MAX; k++)
                if (strcmp(text, kind_names[k]) == 0)
                        return k;
        return -EINVAL;
}

int scope_parse(const char *text, Scope *out) {
        if (strcmp(text, "all") == 0) {
                *out = (Scope){.kind = SCOPE_ALL};
                return 0;
        }
        for (int k = SCOPE_TEAM; k < _SCOPE_KIND_MAX; k++) {
                size_t l = strlen(kind_names[k]), n;
                if (strncmp(text, kind_names[k], l) != 0 || text[l] != ':')
                        continue;
                n = strlen(text + l + 1);
                if (n == 0 || n > (k == SCOPE_CHANNEL ? PROTO_CHANNEL_MAX : PROTO_NAME_MAX))
                        return -EINVAL;
                *out = (Scope){.kind = (uint8_t)k, .len = (uint8_t)n};
                memcpy(out->name, text + l + 1, n);
                return 0;
        }
        return -EINVAL;
}

size_t scope_format(const Scope *s, char *buf) {
        size_t l;

        if (s->kind == SCOPE_ALL) {
                memcpy(buf, "all", 4);
                return 3;
        }
        l = strlen(kind_names[s->kind]);
        memcpy(buf, kind_names[s->kind], l);
        buf[l++] = ':';
        memcpy(buf + l, s->name, s->len);
        l += s->len;
        buf[l] = 0;
        return l;
}

bool scope_from_slice(Scope *s, ScopeKind kind, Slice name) {
        if (!name.len)
                return false;
        s->kind = (uint8_t)kind;
        s->len = (uint8_t)name.len;
        memcpy(s->name, name.ptr, name.len);
        return true;
}

int scope_of_event(const Event *ev, Scope out[4]) {
        int n = 0;

        out[n++] = (Scope){.kind = SCOPE_ALL};
        n += scope_from_slice(&out[n], SCOPE_TEAM, ev->team);
        n += scope_from_slice(&out[n], SCOPE_AGENT, ev->agent);
        n += scope_from_slice(&out[n], SCOPE_CHANNEL, ev->channel);
        return n;
}

ScopeSet scopeset_fill(ScopeSet *set, const Event *ev) {
        ScopeSet added = {0};

        if (!set->team.len && scope_from_slice(&set->team, SCOPE_TEAM, ev->team))
                added.team = set->team;
        if (!set->agent.len && scope_from_slice(&set->agent, SCOPE_AGENT, ev->agent))
                added.agent = set->agent;
        if (!set->channel.len && scope_from_slice(&set->channel, SCOPE_CHANNEL, ev->channel))
                added.channel = set->channel;
        return added;
}

int scopeset_list(const ScopeSet *set, bool with_all, Scope out[4]) {
        int n = 0;

        if (with_all)
                out[n++] = (Scope){.kind = SCOPE_ALL};
        if (set->team.len)
                out[n++] = set->team;
        if (set->agent.len)
                out[n++] = set->agent;
        if (set->channel.len)
                out[n++] = set->channel;
        return n;
}

static size_t scope_encode(const Scope *s, uint8_t *buf) {
        buf[0] = s->kind;
        buf[1] = s->len;
        memcpy(buf + 2, s->name, s->len);
        return 2 + (size_t)s->len;
}

size_t scopeset_encode(const ScopeSet *set, uint8_t *buf) {
        size_t n = scope_encode(&set->team, buf);

        n += scope_encode(&set->agent, buf + n);
        return n + scope_encode(&set->channel, buf + n);
}

/* One member from p[*at ..]; unused name bytes stay zero, as in a set
 * built in memory. */
static bool scope_decode(const uint8_t *p, size_t len, size_t *at, Scope *s) {
        if (len - *at < 2 || p[*at + 1] > PROTO_NAME_MAX || len - *at - 2 < p[*at + 1])
                return false;
        memset(s, 0, sizeof(*s));
        s->kind = p[*at];
        s->len = p[*at + 1];
        memcpy(s->name, p + *at + 2, s->len);
        *at += 2 + (size_t)s->len;
        return true;
}

bool scopeset_decode(const uint8_t *p, size_t len, ScopeSet *out) {
        size_t at = 0;

        return scope_decode(p, len, &at, &out->team) && scope_decode(p, len, &at, &out->agent) &&
               scope_decode(p, len, &at, &out->channel) && at == len;
}

bool scopeset_record_read(const void *p, size_t len, void *out, size_t size, size_t head) {
        const uint8_t *b = p;

        if (len == size && b[0] == SCOPESET_RECORD_V1) {
                memcpy(out, b, size);
                return true;
        }
        if (len < head || b[0] != SCOPESET_RECORD_V2)
                return false;
        memset(out, 0, size);
        memcpy(out, b, head);
        return scopeset_decode(b + head, len - head, (ScopeSet *)((uint8_t *)out + head));
}

size_t scopeset_record_write(const void *rec, size_t head, uint8_t *buf) {
        memcpy(buf, rec, head);
        buf[0] = SCOPESET_RECORD_V2;
        return head + scopeset_encode((const ScopeSet *)((const uint8_t *)rec + head), buf + head);
}
