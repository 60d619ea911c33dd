/*
 * util.h -- tiny helpers every part of the library uses.
 */
#ifndef IMGFMT_CORE_UTIL_H
#define IMGFMT_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool ifmt_is_pow2(uint64_t x) { return x && !(x & (x - 1)); }
static inline uint64_t ifmt_min(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t ifmt_max(uint64_t a, uint64_t b) { return a > b ? a : b; }
/* True if all len bytes of p are zero (fast).  zero.c */
bool ifmt_is_zero(const void *p, size_t len);

#endif
