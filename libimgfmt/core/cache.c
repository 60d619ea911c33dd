/*
 * cache.c -- see cache.h.  Linear search: the caches are a few dozen slots.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>

#include "core/cache.h"
#include "core/checked.h"

struct ifmt_slot {
    uint64_t key;
    uint64_t used;     /* last use tick; 0 = empty */
};

struct ifmt_cache {
    size_t entry_size;
    unsigned nslots;
    uint64_t tick;
    uint64_t charged;
    struct ifmt_slot *slots;
    uint8_t *data;
};

int ifmt_cache_new(imgfmt_image *img, size_t entry_size, unsigned nslots,
                   struct ifmt_cache **out)
{
    *out = NULL;
    uint64_t bytes;
    if (nslots == 0 || entry_size == 0 ||
        ifmt_mul_overflow(entry_size, nslots, &bytes) || bytes > SIZE_MAX)
        return ifmt_error(img, IMGFMT_E_LIMIT, "cache of %u x %zu bytes too large",
                          nslots, entry_size);
    int r = ifmt_charge(img, bytes, "table cache");
    if (r < 0)
        return r;
    struct ifmt_cache *c = calloc(1, sizeof *c);
    if (c) {
        c->slots = calloc(nslots, sizeof *c->slots);
        c->data = malloc((size_t)bytes);
    }
    if (!c || !c->slots || !c->data) {
        if (c) {
            free(c->slots);
            free(c->data);
        }
        free(c);
        ifmt_uncharge(img, bytes);
        return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory for a table cache");
    }
    c->entry_size = entry_size;
    c->nslots = nslots;
    c->charged = bytes;
    *out = c;
    return IMGFMT_OK;
}

uint8_t *ifmt_cache_get(struct ifmt_cache *c, uint64_t key)
{
    for (unsigned i = 0; i < c->nslots; i++)
        if (c->slots[i].used && c->slots[i].key == key) {
            c->slots[i].used = ++c->tick;
            return c->data + (size_t)i * c->entry_size;
        }
    return NULL;
}

uint8_t *ifmt_cache_put(struct ifmt_cache *c, uint64_t key)
{
    unsigned victim = 0;
    for (unsigned i = 0; i < c->nslots; i++) {
        if (c->slots[i].used && c->slots[i].key == key) {
            victim = i;
            break;
        }
        if (c->slots[i].used < c->slots[victim].used)
            victim = i;
    }
    c->slots[victim].key = key;
    c->slots[victim].used = ++c->tick;
    return c->data + (size_t)victim * c->entry_size;
}

void ifmt_cache_drop(struct ifmt_cache *c, uint64_t key)
{
    for (unsigned i = 0; i < c->nslots; i++)
        if (c->slots[i].used && c->slots[i].key == key)
            c->slots[i].used = 0;
}

void ifmt_cache_free(imgfmt_image *img, struct ifmt_cache *c)
{
    if (!c)
        return;
    ifmt_uncharge(img, c->charged);
    free(c->slots);
    free(c->data);
    free(c);
}
