/*
 * checked.h -- overflow-checked arithmetic on image-derived values.
 * Each returns true on overflow and leaves *r unspecified then.
 */
#ifndef IMGFMT_CHECKED_H
#define IMGFMT_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

static inline bool ifmt_add_overflow(uint64_t a, uint64_t b, uint64_t *r)
{
    *r = a + b;
    return *r < a;
}

static inline bool ifmt_mul_overflow(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a != 0 && b > UINT64_MAX / a)
        return true;
    *r = a * b;
    return false;
}

/* ceil(a / b), b > 0, without overflow. */
static inline uint64_t ifmt_div_round_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* Round a up to a multiple of the power of two p; true on overflow. */
static inline bool ifmt_round_up_overflow(uint64_t a, uint64_t p, uint64_t *r)
{
    if (a > UINT64_MAX - (p - 1))
        return true;
    *r = (a + p - 1) & ~(p - 1);
    return false;
}

/* [off, off+len) lies inside [0, size). */
static inline bool ifmt_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

#endif
