/*
 * bytes.h -- explicit endian loads and stores on byte buffers.  On-disk
 * structures are never read through packed structs.
 */
#ifndef IMGFMT_BYTES_H
#define IMGFMT_BYTES_H

#include <stdint.h>

static inline uint16_t ifmt_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t ifmt_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t ifmt_be64(const uint8_t *p)
{
    return (uint64_t)ifmt_be32(p) << 32 | ifmt_be32(p + 4);
}
static inline uint16_t ifmt_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}
static inline uint32_t ifmt_le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ifmt_le64(const uint8_t *p)
{
    return ifmt_le32(p) | (uint64_t)ifmt_le32(p + 4) << 32;
}
static inline void ifmt_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void ifmt_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void ifmt_put_be64(uint8_t *p, uint64_t v)
{
    ifmt_put_be32(p, (uint32_t)(v >> 32));
    ifmt_put_be32(p + 4, (uint32_t)v);
}
static inline void ifmt_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void ifmt_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void ifmt_put_le64(uint8_t *p, uint64_t v)
{
    ifmt_put_le32(p, (uint32_t)v);
    ifmt_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
