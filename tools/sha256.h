/*
 * sha256.h -- SHA-256 (FIPS 180-4) for imgfmt-ls --checksum=sha256.
 */
#ifndef IMGFMT_TOOLS_SHA256_H
#define IMGFMT_TOOLS_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t total;       /* bytes hashed */
    uint8_t block[64];
    size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* The digest as 64 lower-case hex digits + NUL. */
void sha256_final_hex(struct sha256 *s, char out[65]);

#endif
