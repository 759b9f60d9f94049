/* ndr.c - the NDR-like unmarshaller and marshaller of ndr.h. The decoder allocates only with
   sm_client_allocate and frees only with sm_client_free, like a client stub: in manager code the
   tree lives in the current environment, in a plain thread it is malloc's. */
#include "ndr.h"

#include <stdlib.h>
#include <string.h>
#include "../../smalloc.h"

const char *ndr_error_string(ndr_error e)
{
    switch (e) {
    case NDR_OK:          return "NDR_OK";
    case NDR_E_TRUNCATED: return "NDR_E_TRUNCATED";
    case NDR_E_LENGTH:    return "NDR_E_LENGTH";
    case NDR_E_FORMAT:    return "NDR_E_FORMAT";
    case NDR_E_CYCLE:     return "NDR_E_CYCLE";
    case NDR_E_ALIAS:     return "NDR_E_ALIAS";
    case NDR_E_DEPTH:     return "NDR_E_DEPTH";
    case NDR_E_TRAILING:  return "NDR_E_TRAILING";
    case NDR_E_NOMEM:     return "NDR_E_NOMEM";
    }
    return "NDR_E_?";
}

/* ---- decoder ------------------------------------------------------------------------------ */

typedef struct ndr_reader {
    const unsigned char *buf;
    size_t len, pos;
    uint32_t *ids;                       /* open-addressing set of the referent ids seen */
    size_t idmask;
    uint32_t path[NDR_MAX_DEPTH + 1];    /* referent ids of the nodes being decoded */
    size_t depth;
} ndr_reader;

static size_t rd_left(const ndr_reader *r)
{
    return r->len - r->pos;
}

static ndr_error rd_align(ndr_reader *r, size_t a)
{
    while (r->pos % a) {
        if (r->pos >= r->len)
            return NDR_E_TRUNCATED;
        if (r->buf[r->pos++] != 0)
            return NDR_E_FORMAT;
    }
    return NDR_OK;
}

static ndr_error rd_u32(ndr_reader *r, uint32_t *v)
{
    const unsigned char *p;
    ndr_error e = rd_align(r, 4);
    if (e)
        return e;
    if (rd_left(r) < 4)
        return NDR_E_TRUNCATED;
    p = r->buf + r->pos;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->pos += 4;
    return NDR_OK;
}

static int64_t rd_i64_at(const unsigned char *p)
{
    uint64_t u = 0;
    int i;
    for (i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    return (int64_t)u;   /* two's complement, as every target of the suite */
}

/* Reads a referent id and records it: an id seen before is a cycle or an alias. */
static ndr_error rd_ref(ndr_reader *r, uint32_t *ref)
{
    size_t i, k;
    ndr_error e = rd_u32(r, ref);
    if (e || *ref == 0)
        return e;
    for (k = 0; k <= r->depth; k++)
        if (r->path[k] == *ref)
            return NDR_E_CYCLE;
    for (i = (size_t)(*ref * 2654435761u) & r->idmask; r->ids[i]; i = (i + 1) & r->idmask)
        if (r->ids[i] == *ref)
            return NDR_E_ALIAS;
    r->ids[i] = *ref;   /* never full: it has room for twice the ids the buffer can hold */
    return NDR_OK;
}

static void *rd_alloc(size_t size)
{
    return sm_client_allocate(size);
}

static ndr_error rd_string(ndr_reader *r, char **out)
{
    uint32_t max, offset, actual;
    ndr_error e;
    char *s;
    if ((e = rd_u32(r, &max)) || (e = rd_u32(r, &offset)) || (e = rd_u32(r, &actual)))
        return e;
    if (offset != 0 || actual == 0 || actual > max)
        return NDR_E_FORMAT;
    if (max > NDR_MAX_STRING || actual > rd_left(r))
        return NDR_E_LENGTH;
    if (r->buf[r->pos + actual - 1] != 0 || memchr(r->buf + r->pos, 0, actual - 1))
        return NDR_E_FORMAT;
    if (!(s = (char *)rd_alloc(max)))
        return NDR_E_NOMEM;
    memcpy(s, r->buf + r->pos, actual);
    r->pos += actual;
    *out = s;
    return NDR_OK;
}

static ndr_error rd_node(ndr_reader *r, uint32_t ref, ndr_node **out);

static ndr_error rd_values(ndr_reader *r, ndr_node *n, uint32_t count)
{
    uint32_t max, i;
    ndr_error e;
    if ((e = rd_u32(r, &max)))
        return e;
    if (max != count)
        return NDR_E_FORMAT;
    if ((e = rd_align(r, 8)))
        return e;
    if (count > rd_left(r) / 8)
        return NDR_E_LENGTH;
    if (!(n->values = (int64_t *)rd_alloc((size_t)count * sizeof(int64_t))))
        return NDR_E_NOMEM;
    n->nvalues = count;
    for (i = 0; i < count; i++, r->pos += 8)
        n->values[i] = rd_i64_at(r->buf + r->pos);
    return NDR_OK;
}

static ndr_error rd_children(ndr_reader *r, ndr_node *n, uint32_t count)
{
    uint32_t max, i, ref;
    size_t refs;
    ndr_error e;
    if ((e = rd_u32(r, &max)))
        return e;
    if (max != count)
        return NDR_E_FORMAT;
    if (count > rd_left(r) / 4)
        return NDR_E_LENGTH;
    if (!(n->children = (ndr_node **)rd_alloc((size_t)count * sizeof(ndr_node *))))
        return NDR_E_NOMEM;
    for (i = 0; i < count; i++)
        n->children[i] = NULL;
    n->nchildren = count;
    refs = r->pos;   /* the refs first (recorded), then the children they name, in order */
    for (i = 0; i < count; i++)
        if ((e = rd_ref(r, &ref)))
            return e;
    for (i = 0; i < count; i++) {
        const unsigned char *p = r->buf + refs + 4 * (size_t)i;
        ref = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (ref && (e = rd_node(r, ref, &n->children[i])))
            return e;
    }
    return NDR_OK;
}

/* One node and its referents. *out is set as soon as the node exists, so that the caller can
   free whatever was built when something later fails. */
static ndr_error rd_node(ndr_reader *r, uint32_t ref, ndr_node **out)
{
    uint32_t id, value, name_ref, nvalues, values_ref, nchildren, children_ref, next_ref;
    ndr_node *n;
    ndr_error e;
    size_t depth = r->depth + 1;
    if (depth > NDR_MAX_DEPTH)
        return NDR_E_DEPTH;
    if (!(n = (ndr_node *)rd_alloc(sizeof *n)))
        return NDR_E_NOMEM;
    memset(n, 0, sizeof *n);
    *out = n;
    r->path[r->depth = depth] = ref;
    if ((e = rd_u32(r, &id)) || (e = rd_u32(r, &value)) || (e = rd_ref(r, &name_ref)) ||
        (e = rd_u32(r, &nvalues)) || (e = rd_ref(r, &values_ref)) || (e = rd_u32(r, &nchildren)) ||
        (e = rd_ref(r, &children_ref)) || (e = rd_ref(r, &next_ref)))
        return e;
    if ((nvalues && !values_ref) || (nchildren && !children_ref))
        return NDR_E_FORMAT;
    n->id = id;
    n->value = (int32_t)value;
    if (name_ref && (e = rd_string(r, &n->name)))
        return e;
    if (values_ref && (e = rd_values(r, n, nvalues)))
        return e;
    if (children_ref && (e = rd_children(r, n, nchildren)))
        return e;
    if (next_ref && (e = rd_node(r, next_ref, &n->next)))
        return e;
    r->depth = depth - 1;
    return NDR_OK;
}

ndr_error ndr_decode(const unsigned char *buf, size_t len, ndr_node **out)
{
    ndr_reader r;
    uint32_t ref;
    size_t cap = 16, bytes;
    ndr_error e;
    *out = NULL;
    memset(&r, 0, sizeof r);
    r.buf = buf;
    r.len = buf ? len : 0;
    while (cap < r.len / 2 + 2)   /* at most len/4 ids, at most half full */
        cap *= 2;
    bytes = cap * sizeof(uint32_t);
    if (!(r.ids = (uint32_t *)rd_alloc(bytes)))
        return NDR_E_NOMEM;
    memset(r.ids, 0, bytes);
    r.idmask = cap - 1;
    e = rd_ref(&r, &ref);
    if (!e && ref)
        e = rd_node(&r, ref, out);
    if (!e && r.pos != r.len)
        e = NDR_E_TRAILING;
    (void)sm_client_free(r.ids);
    if (e) {
        ndr_free(*out);
        *out = NULL;
    }
    return e;
}

void ndr_free(ndr_node *n)
{
    while (n) {
        ndr_node *next = n->next;
        uint32_t i;
        (void)sm_client_free(n->name);
        (void)sm_client_free(n->values);
        if (n->children) {
            for (i = 0; i < n->nchildren; i++)
                ndr_free(n->children[i]);
            (void)sm_client_free(n->children);
        }
        (void)sm_client_free(n);
        n = next;
    }
}

/* ---- encoder ------------------------------------------------------------------------------ */

typedef struct ndr_writer {
    unsigned char *buf;
    size_t len, cap;
    uint32_t next_id;
    int failed;
} ndr_writer;

static void wr_bytes(ndr_writer *w, const void *p, size_t n)
{
    if (w->failed || n == 0)
        return;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        unsigned char *b;
        while (cap - w->len < n)
            cap *= 2;
        if (!(b = (unsigned char *)realloc(w->buf, cap))) {
            w->failed = 1;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void wr_align(ndr_writer *w, size_t a)
{
    static const unsigned char zero[8] = { 0 };
    wr_bytes(w, zero, (a - w->len % a) % a);
}

static void wr_u32(ndr_writer *w, uint32_t v)
{
    unsigned char b[4];
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
    wr_align(w, 4);
    wr_bytes(w, b, 4);
}

static void wr_i64(ndr_writer *w, int64_t v)
{
    unsigned char b[8];
    uint64_t u = (uint64_t)v;
    int i;
    for (i = 0; i < 8; i++)
        b[i] = (unsigned char)(u >> (8 * i));
    wr_align(w, 8);
    wr_bytes(w, b, 8);
}

/* Referent ids as Microsoft's stubs number them: 0x20000, 0x20004, ... */
static uint32_t wr_ref(ndr_writer *w, const void *p)
{
    uint32_t id;
    if (!p)
        return 0;
    id = 0x20000u + 4u * w->next_id++;
    return id;
}

static ndr_error wr_node(ndr_writer *w, const ndr_node *n, size_t depth)
{
    uint32_t name_ref, values_ref, children_ref, next_ref, i;
    ndr_error e;
    if (depth > NDR_MAX_DEPTH)
        return NDR_E_DEPTH;
    if ((n->nvalues && !n->values) || (n->nchildren && !n->children))
        return NDR_E_FORMAT;
    name_ref = wr_ref(w, n->name);
    values_ref = wr_ref(w, n->values);
    children_ref = wr_ref(w, n->children);
    next_ref = wr_ref(w, n->next);
    wr_u32(w, n->id);
    wr_u32(w, (uint32_t)n->value);
    wr_u32(w, name_ref);
    wr_u32(w, n->nvalues);
    wr_u32(w, values_ref);
    wr_u32(w, n->nchildren);
    wr_u32(w, children_ref);
    wr_u32(w, next_ref);
    if (n->name) {
        size_t len = strlen(n->name) + 1;
        if (len > NDR_MAX_STRING)
            return NDR_E_LENGTH;
        wr_u32(w, (uint32_t)len);
        wr_u32(w, 0);
        wr_u32(w, (uint32_t)len);
        wr_bytes(w, n->name, len);
    }
    if (n->values) {
        wr_u32(w, n->nvalues);
        wr_align(w, 8);
        for (i = 0; i < n->nvalues; i++)
            wr_i64(w, n->values[i]);
    }
    if (n->children) {
        wr_u32(w, n->nchildren);
        for (i = 0; i < n->nchildren; i++)
            wr_u32(w, wr_ref(w, n->children[i]));
        for (i = 0; i < n->nchildren; i++)
            if (n->children[i] && (e = wr_node(w, n->children[i], depth + 1)))
                return e;
    }
    if (n->next)
        return wr_node(w, n->next, depth + 1);
    return NDR_OK;
}

ndr_error ndr_encode(const ndr_node *root, unsigned char **buf, size_t *len)
{
    ndr_writer w;
    ndr_error e = NDR_OK;
    memset(&w, 0, sizeof w);
    wr_u32(&w, wr_ref(&w, root));
    if (root)
        e = wr_node(&w, root, 1);
    if (!e && w.failed)
        e = NDR_E_NOMEM;
    if (e) {
        free(w.buf);
        w.buf = NULL;
        w.len = 0;
    }
    *buf = w.buf;
    *len = w.len;
    return e;
}

/* ---- comparing ---------------------------------------------------------------------------- */

int ndr_equal(const ndr_node *a, const ndr_node *b)
{
    uint32_t i;
    for (; a && b; a = a->next, b = b->next) {
        if (a->id != b->id || a->value != b->value || a->nvalues != b->nvalues ||
            a->nchildren != b->nchildren || !a->name != !b->name || !a->values != !b->values ||
            !a->children != !b->children)
            return 0;
        if (a->name && strcmp(a->name, b->name) != 0)
            return 0;
        for (i = 0; i < a->nvalues; i++)
            if (a->values[i] != b->values[i])
                return 0;
        for (i = 0; i < a->nchildren; i++)
            if (!ndr_equal(a->children[i], b->children[i]))
                return 0;
    }
    return a == b;
}

size_t ndr_count(const ndr_node *n)
{
    size_t count = 0;
    uint32_t i;
    for (; n; n = n->next) {
        count++;
        for (i = 0; i < n->nchildren; i++)
            count += ndr_count(n->children[i]);
    }
    return count;
}
