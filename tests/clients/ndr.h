/* ndr.h - a small NDR-like marshaller for the client tests: the unmarshaller of a client stub,
   which builds its [out] tree with sm_client_allocate, and the matching marshaller.

   The tree (one IDL structure, every pointer [unique]):
       typedef struct ndr_node {
           uint32 id; int32 value;
           [string, unique] char *name;
           uint32 nvalues;   [size_is(nvalues), unique] int64 *values;
           uint32 nchildren; [size_is(nchildren), unique] struct ndr_node **children;  (elements [unique])
           [unique] struct ndr_node *next;
       } ndr_node;

   Wire format (NDR20 little-endian, each primitive aligned to its size, padding bytes zero):
       message   := ref(root) [node]                       nothing may follow
       ref       := uint32 referent id; 0 is NULL; every other id appears once in a message
       node      := id value ref(name) nvalues ref(values) nchildren ref(children) ref(next)
                    then, deferred, the referents of the non-NULL refs in that order:
       name      := max_count offset actual_count char[actual_count]   (conformant varying:
                    offset 0, 1 <= actual_count <= max_count, the last char NUL, no other NUL;
                    the buffer allocated is max_count bytes, as a MIDL stub does)
       values    := max_count (== nvalues) pad-to-8 int64[nvalues]
       children  := max_count (== nchildren) ref[nchildren], then each non-NULL child's node
       next      := node
   The decoder refuses, before allocating anything for it, a length larger than what is left of
   the buffer (NDR_E_LENGTH; strings also above NDR_MAX_STRING), a referent id seen before
   (NDR_E_CYCLE when it names a node being decoded, NDR_E_ALIAS otherwise: the tree has no
   sharing) and nesting deeper than NDR_MAX_DEPTH (children and next both nest). */
#ifndef NDR_H_INCLUDED
#define NDR_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define NDR_MAX_DEPTH  200
#define NDR_MAX_STRING ((uint32_t)1 << 20)

typedef struct ndr_node {
    uint32_t id;
    int32_t value;
    char *name;
    uint32_t nvalues;
    int64_t *values;
    uint32_t nchildren;
    struct ndr_node **children;
    struct ndr_node *next;
} ndr_node;

typedef enum ndr_error {
    NDR_OK = 0,
    NDR_E_TRUNCATED,   /* the buffer ends inside an item */
    NDR_E_LENGTH,      /* a count larger than the rest of the buffer, or than NDR_MAX_STRING */
    NDR_E_FORMAT,      /* bad padding, string conformance, count mismatch, count without array */
    NDR_E_CYCLE,       /* a referent id of a node being decoded */
    NDR_E_ALIAS,       /* a referent id seen before */
    NDR_E_DEPTH,       /* nesting deeper than NDR_MAX_DEPTH */
    NDR_E_TRAILING,    /* bytes after the message */
    NDR_E_NOMEM        /* sm_client_allocate (decoder) or malloc (encoder) returned NULL */
} ndr_error;

const char *ndr_error_string(ndr_error e);

/* Unmarshals buf into *out (NULL for a NULL root). Every block comes from sm_client_allocate;
   on failure everything allocated is given back with sm_client_free and *out is NULL. */
ndr_error ndr_decode(const unsigned char *buf, size_t len, ndr_node **out);
/* Frees a tree with sm_client_free (NULL: nothing). */
void ndr_free(ndr_node *root);

/* Marshals root into a malloc'd buffer (*buf, *len; free it with free). NDR_E_FORMAT for a tree
   that breaks the IDL (a count without its array), NDR_E_DEPTH for one nested too deeply. */
ndr_error ndr_encode(const ndr_node *root, unsigned char **buf, size_t *len);

/* 1 when the two trees hold the same data. */
int ndr_equal(const ndr_node *a, const ndr_node *b);
/* Number of nodes in a tree. */
size_t ndr_count(const ndr_node *root);

#endif /* NDR_H_INCLUDED */
