/*
 * hive-key.c -- REGF key nodes ("nk"), subkey lists and lookups.
 *
 * A key's subkeys are listed by one cell: "lf" and "lh" (count, then
 * offset and a name hash per entry), "li" (count, offsets) or "ri" (count,
 * offsets of further lists, for keys with many subkeys).  Hashes are not
 * used: names are compared.  The lists must hold exactly the key's subkey
 * count, each entry a key node naming this key as its parent and not the
 * root, so every walk over keys is a walk down a tree.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "inspect/hive.h"

int ifmt_hive_nk(imgfmt_hive *h, uint32_t off, struct hive_nk *nk)
{
    const uint8_t *p;
    uint32_t len;
    int r = ifmt_hive_cell_sig(h, off, "nk", 76, "key", &p, &len);
    if (r < 0)
        return r;
    nk->flags = ifmt_le16(p + 2);
    nk->mtime = ifmt_le64(p + 4);
    nk->parent = ifmt_le32(p + 16);
    nk->nb_subkeys = ifmt_le32(p + 20);
    nk->subkeys = ifmt_le32(p + 28);
    nk->nb_values = ifmt_le32(p + 36);
    nk->values = ifmt_le32(p + 40);
    nk->name_len = ifmt_le16(p + 72);
    nk->name = p + 76;
    if (nk->name_len > len - 76)
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                               "regf: key at %u: name of %u bytes past its %u-byte cell", off,
                               nk->name_len, len);
    return IMGFMT_OK;
}

struct collect {
    imgfmt_hive *h;
    uint32_t key;              /* whose subkeys */
    uint32_t *items;
    uint32_t n, cap;           /* cap = the key's subkey count */
    uint64_t lists;            /* list cells visited: bounded (ri loops) */
};

static int add_subkey(struct collect *c, uint32_t off)
{
    if (c->n >= c->cap)
        return ifmt_hive_error(c->h, IMGFMT_E_CORRUPT,
                               "regf: key at %u: subkey lists hold more than its %u subkeys",
                               c->key, c->cap);
    struct hive_nk nk;
    int r = ifmt_hive_nk(c->h, off, &nk);
    if (r < 0)
        return r;
    if (nk.parent != c->key || off == c->h->root || (nk.flags & NK_HIVE_ENTRY))
        return ifmt_hive_error(c->h, IMGFMT_E_CORRUPT,
                               "regf: key at %u: subkey at %u belongs to key %u", c->key, off,
                               nk.parent);
    c->items[c->n++] = off;
    return IMGFMT_OK;
}

static int collect_list(struct collect *c, uint32_t off, unsigned depth)
{
    const uint8_t *p;
    uint32_t len;
    /* A real list adds a key or is an ri above such lists: 2 per key. */
    if (++c->lists > 2ull * c->cap + 8)
        return ifmt_hive_error(c->h, IMGFMT_E_CORRUPT,
                               "regf: key at %u: subkey lists loop or hold empty lists", c->key);
    int r = ifmt_hive_cell(c->h, off, "subkey list", &p, &len);
    if (r < 0)
        return r;
    if (len < 4)
        return ifmt_hive_error(c->h, IMGFMT_E_CORRUPT, "regf: subkey list at %u too short",
                               off);
    uint32_t n = ifmt_le16(p + 2), step;
    bool ri = memcmp(p, "ri", 2) == 0;
    if (memcmp(p, "lf", 2) == 0 || memcmp(p, "lh", 2) == 0)
        step = 8;
    else if (memcmp(p, "li", 2) == 0 || ri)
        step = 4;
    else
        return ifmt_hive_error(c->h, IMGFMT_E_CORRUPT,
                               "regf: subkey list at %u has signature %02x%02x", off, p[0], p[1]);
    if ((uint64_t)n * step > len - 4)
        return ifmt_hive_error(c->h, IMGFMT_E_CORRUPT,
                               "regf: subkey list at %u: %u entries past its %u-byte cell", off,
                               n, len);
    if (ri && depth >= REGF_MAX_LIST_DEPTH)
        return ifmt_hive_error(c->h, IMGFMT_E_LIMIT,
                               "regf: subkey list at %u: ri lists nested deeper than %u", off,
                               REGF_MAX_LIST_DEPTH);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t e = ifmt_le32(p + 4 + i * step);
        r = ri ? collect_list(c, e, depth + 1) : add_subkey(c, e);
        if (r < 0)
            return r;
    }
    return IMGFMT_OK;
}

/* The subkeys of key k, in list order. */
static int subkey_array(imgfmt_hive *h, uint32_t k, uint32_t **out, uint32_t *n)
{
    struct hive_nk nk;
    int r = ifmt_hive_nk(h, k, &nk);
    if (r < 0)
        return r;
    *out = NULL;
    *n = 0;
    if (nk.nb_subkeys == 0)
        return IMGFMT_OK;
    /* Each subkey needs an nk cell of 80 bytes or more: bound the count. */
    if (nk.nb_subkeys > h->bins_size / 80)
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                               "regf: key at %u: %u subkeys cannot fit the hive", k,
                               nk.nb_subkeys);
    struct collect c = {h, k, malloc(nk.nb_subkeys * sizeof(uint32_t)), 0, nk.nb_subkeys, 0};
    if (!c.items)
        return ifmt_hive_error(h, IMGFMT_E_NOMEM, "regf: out of memory");
    r = collect_list(&c, nk.subkeys, 0);
    if (r == 0 && c.n != c.cap)
        r = ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                            "regf: key at %u: subkey lists hold %u keys, the key says %u", k,
                            c.n, c.cap);
    if (r < 0) {
        free(c.items);
        return r;
    }
    *out = c.items;
    *n = c.n;
    return IMGFMT_OK;
}

static int child(imgfmt_hive *h, uint32_t k, const char *name, size_t len, uint32_t *out)
{
    uint32_t *items, n;
    int r = subkey_array(h, k, &items, &n);
    if (r < 0)
        return r;
    for (uint32_t i = 0; i < n; i++) {
        struct hive_nk nk;
        ifmt_hive_nk(h, items[i], &nk);
        if (ifmt_hive_name_eq(nk.name, nk.name_len, nk.flags & NK_COMP_NAME, name, len)) {
            *out = items[i];
            free(items);
            return IMGFMT_OK;
        }
    }
    free(items);
    return IMGFMT_E_NOT_FOUND;
}

int imgfmt_hive_lookup(imgfmt_hive *h, imgfmt_hive_key from, const char *path,
                       imgfmt_hive_key *out)
{
    if (!h || !path || !out)
        return IMGFMT_E_INVAL;
    uint32_t k = from;
    unsigned depth = 0;
    struct hive_nk nk;
    int r = ifmt_hive_nk(h, k, &nk);
    while (r == 0 && *path) {
        while (*path == '\\')
            path++;
        size_t len = strcspn(path, "\\");
        if (len == 0)
            break;
        if (++depth > IMGFMT_HIVE_MAX_DEPTH)
            return ifmt_hive_error(h, IMGFMT_E_LIMIT, "regf: path deeper than %u keys",
                                   IMGFMT_HIVE_MAX_DEPTH);
        r = child(h, k, path, len, &k);
        if (r == IMGFMT_E_NOT_FOUND)
            return ifmt_hive_error(h, r, "regf: no key \"%.*s\"", (int)(len > 200 ? 200 : len),
                                   path);
        path += len;
    }
    if (r == 0)
        *out = k;
    return r;
}

int imgfmt_hive_key_stat(imgfmt_hive *h, imgfmt_hive_key k, imgfmt_hive_key_info *out)
{
    if (!h || !out)
        return IMGFMT_E_INVAL;
    struct hive_nk nk;
    int r = ifmt_hive_nk(h, k, &nk);
    if (r < 0)
        return r;
    ifmt_hive_name(nk.name, nk.name_len, nk.flags & NK_COMP_NAME, h->key_name);
    out->name = h->key_name;
    out->nb_subkeys = nk.nb_subkeys;
    out->nb_values = nk.nb_values;
    /* FILETIME: 100 ns units since 1601-01-01. */
    out->mtime = (int64_t)(nk.mtime / 10000000u) - INT64_C(11644473600);
    return IMGFMT_OK;
}

static int new_iter(imgfmt_hive *h, uint32_t *items, uint32_t n, imgfmt_hive_iter **out)
{
    imgfmt_hive_iter *it = calloc(1, sizeof *it);
    if (!it) {
        free(items);
        return ifmt_hive_error(h, IMGFMT_E_NOMEM, "regf: out of memory");
    }
    it->h = h;
    it->items = items;
    it->n = n;
    *out = it;
    return IMGFMT_OK;
}

int imgfmt_hive_subkeys(imgfmt_hive *h, imgfmt_hive_key k, imgfmt_hive_iter **out)
{
    if (!h || !out)
        return IMGFMT_E_INVAL;
    *out = NULL;
    uint32_t *items, n;
    int r = subkey_array(h, k, &items, &n);
    return r < 0 ? r : new_iter(h, items, n, out);
}

int imgfmt_hive_values(imgfmt_hive *h, imgfmt_hive_key k, imgfmt_hive_iter **out)
{
    if (!h || !out)
        return IMGFMT_E_INVAL;
    *out = NULL;
    uint32_t *items, n;
    int r = ifmt_hive_value_list(h, k, &items, &n);
    return r < 0 ? r : new_iter(h, items, n, out);
}

int imgfmt_hive_next(imgfmt_hive_iter *it, uint32_t *out)
{
    if (!it || !out)
        return IMGFMT_E_INVAL;
    if (it->pos >= it->n)
        return 0;
    *out = it->items[it->pos++];
    return 1;
}

void imgfmt_hive_iter_free(imgfmt_hive_iter *it)
{
    if (!it)
        return;
    free(it->items);
    free(it);
}
