/*
 * ntfs-lznt1.c -- LZNT1, the LZ77 variant NTFS compresses files with.
 *
 * A compression unit (16 clusters, usually) is stored as a sequence of
 * chunks, each standing for 4096 bytes of output.  A chunk starts with a
 * 16-bit header: the low 12 bits are the chunk's stored length minus 3
 * (header included), bit 15 says whether it is compressed, and a header of
 * 0 ends the unit.  An uncompressed chunk holds 4096 literal bytes.  A
 * compressed chunk is a series of groups: one flag byte, then eight items;
 * a clear flag bit is one literal byte, a set bit a 16-bit back-reference
 * whose split between distance and length bits depends on how much of the
 * chunk is already decoded: the distance field widens from 4 bits as the
 * position passes 16, 32, 64, ... bytes, and the length field gets the
 * remaining bits (length - 3, distance - 1).  A chunk that decodes to fewer
 * than 4096 bytes is followed by zeros up to its 4096-byte boundary.
 */
#define IMGFMT_BUILDING 1
#include <string.h>

#include "core/bytes.h"
#include "fs/ntfs-priv.h"

#define LZNT1_CHUNK 4096u

/* Decode one compressed chunk's body [in, in + n) into out (at most
 * LZNT1_CHUNK bytes).  Returns the bytes produced, or -1 if corrupt. */
static long lznt1_chunk(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t ip = 0, op = 0;
    if (cap > LZNT1_CHUNK)
        cap = LZNT1_CHUNK;
    while (ip < n && op < cap) {
        uint8_t flags = in[ip++];
        for (int bit = 0; bit < 8 && ip < n && op < cap; bit++, flags >>= 1) {
            if (!(flags & 1)) {
                out[op++] = in[ip++];
                continue;
            }
            if (n - ip < 2)
                return -1;
            uint16_t tok = ifmt_le16(in + ip);
            ip += 2;
            unsigned dbits = 4;
            while (dbits < 12 && ((size_t)1 << dbits) < op)
                dbits++;
            size_t dist = (size_t)(tok >> (16 - dbits)) + 1;
            size_t len = (size_t)(tok & ((1u << (16 - dbits)) - 1)) + 3;
            if (dist > op)
                return -1;
            if (len > cap - op)
                len = cap - op;
            for (size_t k = 0; k < len; k++, op++)
                out[op] = out[op - dist];
        }
    }
    return (long)op;
}

int ntfs_lznt1_decompress(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                          const char **why)
{
    size_t ip = 0, op = 0;
    memset(out, 0, out_len);
    while (op < out_len && in_len - ip >= 2) {
        uint16_t hdr = ifmt_le16(in + ip);
        if (hdr == 0)
            break;
        size_t body = (size_t)(hdr & 0x0FFF) + 1;
        ip += 2;
        if (body > in_len - ip) {
            *why = "chunk runs past the compressed data";
            return -1;
        }
        size_t room = out_len - op < LZNT1_CHUNK ? out_len - op : LZNT1_CHUNK;
        if (hdr & 0x8000) {
            if (lznt1_chunk(in + ip, body, out + op, room) < 0) {
                *why = "back-reference before the start of a chunk";
                return -1;
            }
        } else {
            /* Stored chunk: its bytes as they are (4096 of them normally). */
            memcpy(out + op, in + ip, body < room ? body : room);
        }
        ip += body;
        op += room;
    }
    return 0;
}
