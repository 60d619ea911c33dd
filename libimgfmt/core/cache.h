/*
 * cache.h -- a small bounded cache of fixed-size metadata tables (qcow2 L2
 * tables, VMDK grain tables), keyed by their file offset, least recently
 * used out.  Its memory is charged to the image's metadata cap once.
 */
#ifndef IMGFMT_CACHE_H
#define IMGFMT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/image.h"

struct ifmt_cache;

/* nslots tables of entry_size bytes each. */
int ifmt_cache_new(imgfmt_image *img, size_t entry_size, unsigned nslots,
                   struct ifmt_cache **out);
/* The cached table for key, or NULL. */
uint8_t *ifmt_cache_get(struct ifmt_cache *c, uint64_t key);
/* A slot for key to be filled by the caller (the least recently used one
 * is reused).  If filling fails, call ifmt_cache_drop(c, key). */
uint8_t *ifmt_cache_put(struct ifmt_cache *c, uint64_t key);
void ifmt_cache_drop(struct ifmt_cache *c, uint64_t key);
void ifmt_cache_free(imgfmt_image *img, struct ifmt_cache *c);

#endif
