/*
 * decompress.c -- one streaming interface over zlib (gzip), libzstd,
 * liblzma (xz, lzma), liblz4 (the kernel's legacy lz4 frame) and libbz2.
 */
#define IMGFMT_BUILDING 1
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "archive/decompress.h"
#include "core/bytes.h"
#include "imgfmt-config.h"

#if IMGFMT_HAVE_ZSTD
#include <zstd.h>
#endif
#if IMGFMT_HAVE_LZMA
#include <lzma.h>
#endif
#if IMGFMT_HAVE_LZ4
#include <lz4.h>
#endif
#if IMGFMT_HAVE_BZIP2
#include <bzlib.h>
#endif

#define LZ4_LEGACY_MAGIC   0x184C2102u
#define LZ4_FRAME_MAGIC    0x184D2204u
#define LZ4_LEGACY_BLOCK   (8u << 20)    /* uncompressed bytes per block */

struct lz4_state {
    int have_magic;
    uint32_t want;          /* compressed bytes of the current block, 0 = need size */
    uint8_t *in;            /* the block being gathered */
    size_t in_fill;
    uint8_t *out;           /* its decoded bytes */
    size_t out_len, out_pos;
};

struct ifmt_decoder {
    enum ifmt_codec codec;
    z_stream z;
#if IMGFMT_HAVE_ZSTD
    ZSTD_DCtx *zstd;
#endif
#if IMGFMT_HAVE_LZMA
    lzma_stream xz;
#endif
#if IMGFMT_HAVE_BZIP2
    bz_stream bz;
#endif
    struct lz4_state lz4;
};

const char *ifmt_codec_name(enum ifmt_codec c)
{
    static const char *const names[] = { "none", "gzip", "zstd", "xz", "lzma", "lz4",
                                         "bzip2", "lzop" };
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "none";
}

enum ifmt_codec ifmt_codec_sniff(const uint8_t *p, size_t n)
{
    static const struct { enum ifmt_codec c; uint8_t len; uint8_t magic[9]; } magics[] = {
        { IFMT_CODEC_GZIP, 2, { 0x1f, 0x8b } },
        { IFMT_CODEC_ZSTD, 4, { 0x28, 0xb5, 0x2f, 0xfd } },
        { IFMT_CODEC_XZ, 6, { 0xfd, '7', 'z', 'X', 'Z', 0 } },
        { IFMT_CODEC_LZ4_LEGACY, 4, { 0x02, 0x21, 0x4c, 0x18 } },
        { IFMT_CODEC_BZIP2, 3, { 'B', 'Z', 'h' } },
        { IFMT_CODEC_LZOP, 9, { 0x89, 'L', 'Z', 'O', 0, 0x0d, 0x0a, 0x1a, 0x0a } },
        { IFMT_CODEC_LZMA, 3, { 0x5d, 0, 0 } },
    };
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
        if (n >= magics[i].len && memcmp(p, magics[i].magic, magics[i].len) == 0)
            return magics[i].c;
    return IFMT_CODEC_NONE;
}

int ifmt_codec_available(enum ifmt_codec c)
{
    switch (c) {
    case IFMT_CODEC_GZIP:       return 1;
    case IFMT_CODEC_ZSTD:       return IMGFMT_HAVE_ZSTD;
    case IFMT_CODEC_XZ:
    case IFMT_CODEC_LZMA:       return IMGFMT_HAVE_LZMA;
    case IFMT_CODEC_LZ4_LEGACY: return IMGFMT_HAVE_LZ4;
    case IFMT_CODEC_BZIP2:      return IMGFMT_HAVE_BZIP2;
    default:                    return 0;
    }
}

static int init_codec(struct ifmt_decoder *d, imgfmt_error *err)
{
    switch (d->codec) {
    case IFMT_CODEC_GZIP:
        if (inflateInit2(&d->z, 16 + 15) != Z_OK)
            return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "gzip: cannot start zlib");
        return IMGFMT_OK;
#if IMGFMT_HAVE_ZSTD
    case IFMT_CODEC_ZSTD:
        if (!(d->zstd = ZSTD_createDCtx()))
            return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "zstd: cannot start libzstd");
        ZSTD_DCtx_setParameter(d->zstd, ZSTD_d_windowLogMax, 27);   /* 128 MiB window cap */
        return IMGFMT_OK;
#endif
#if IMGFMT_HAVE_LZMA
    case IFMT_CODEC_XZ:
    case IFMT_CODEC_LZMA: {
        lzma_ret r = d->codec == IFMT_CODEC_XZ
                         ? lzma_stream_decoder(&d->xz, 256u << 20, 0)
                         : lzma_alone_decoder(&d->xz, 256u << 20);
        if (r != LZMA_OK)
            return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "%s: cannot start liblzma",
                               ifmt_codec_name(d->codec));
        return IMGFMT_OK;
    }
#endif
#if IMGFMT_HAVE_BZIP2
    case IFMT_CODEC_BZIP2:
        if (BZ2_bzDecompressInit(&d->bz, 0, 0) != BZ_OK)
            return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "bzip2: cannot start libbz2");
        return IMGFMT_OK;
#endif
#if IMGFMT_HAVE_LZ4
    case IFMT_CODEC_LZ4_LEGACY:
        d->lz4.out = malloc(LZ4_LEGACY_BLOCK);
        d->lz4.in = malloc((size_t)LZ4_compressBound((int)LZ4_LEGACY_BLOCK));
        if (!d->lz4.out || !d->lz4.in)
            return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "lz4: out of memory");
        return IMGFMT_OK;
#endif
    default:
        return ifmt_seterr(err, IMGFMT_E_UNSUPPORTED, 0, "%s: built without %s support",
                           ifmt_codec_name(d->codec), ifmt_codec_name(d->codec));
    }
}

int ifmt_decoder_new(enum ifmt_codec c, struct ifmt_decoder **out, imgfmt_error *err)
{
    *out = NULL;
    if (!ifmt_codec_available(c))
        return ifmt_seterr(err, IMGFMT_E_UNSUPPORTED, 0, "%s: built without %s support",
                           ifmt_codec_name(c), ifmt_codec_name(c));
    struct ifmt_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "decompress: out of memory");
    d->codec = c;
    int r = init_codec(d, err);
    if (r < 0) {
        ifmt_decoder_free(d);
        return r;
    }
    *out = d;
    return IMGFMT_OK;
}

static int truncated(struct ifmt_decoder *d, imgfmt_error *err)
{
    return ifmt_seterr(err, IMGFMT_E_CORRUPT, 0, "%s: compressed stream truncated",
                       ifmt_codec_name(d->codec));
}

static int run_gzip(struct ifmt_decoder *d, const uint8_t *in, size_t in_len, bool at_end,
                    size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_made,
                    imgfmt_error *err)
{
    d->z.next_in = (Bytef *)(uintptr_t)in;
    d->z.avail_in = (uInt)(in_len > UINT32_MAX ? UINT32_MAX : in_len);
    d->z.next_out = out;
    d->z.avail_out = (uInt)(out_cap > UINT32_MAX ? UINT32_MAX : out_cap);
    int r = inflate(&d->z, Z_NO_FLUSH);
    *in_used = (size_t)(d->z.next_in - in);
    *out_made = (size_t)(d->z.next_out - out);
    if (r == Z_STREAM_END)
        return 1;
    if (r == Z_OK || r == Z_BUF_ERROR)
        return at_end && *in_used == in_len && *out_made == 0 ? truncated(d, err) : 0;
    return ifmt_seterr(err, IMGFMT_E_CORRUPT, 0, "gzip: %s",
                       d->z.msg ? d->z.msg : "invalid compressed data");
}

#if IMGFMT_HAVE_ZSTD
static int run_zstd(struct ifmt_decoder *d, const uint8_t *in, size_t in_len, bool at_end,
                    size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_made,
                    imgfmt_error *err)
{
    ZSTD_inBuffer ib = { in, in_len, 0 };
    ZSTD_outBuffer ob = { out, out_cap, 0 };
    size_t r = ZSTD_decompressStream(d->zstd, &ob, &ib);
    *in_used = ib.pos;
    *out_made = ob.pos;
    if (ZSTD_isError(r))
        return ifmt_seterr(err, IMGFMT_E_CORRUPT, 0, "zstd: %s", ZSTD_getErrorName(r));
    if (r == 0)
        return 1;
    return at_end && ib.pos == in_len && ob.pos == 0 ? truncated(d, err) : 0;
}
#endif

#if IMGFMT_HAVE_LZMA
static int run_xz(struct ifmt_decoder *d, const uint8_t *in, size_t in_len, bool at_end,
                  size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_made,
                  imgfmt_error *err)
{
    d->xz.next_in = in;
    d->xz.avail_in = in_len;
    d->xz.next_out = out;
    d->xz.avail_out = out_cap;
    lzma_ret r = lzma_code(&d->xz, at_end ? LZMA_FINISH : LZMA_RUN);
    *in_used = in_len - d->xz.avail_in;
    *out_made = out_cap - d->xz.avail_out;
    if (r == LZMA_STREAM_END)
        return 1;
    if (r == LZMA_OK || r == LZMA_BUF_ERROR)
        return at_end && *in_used == in_len && *out_made == 0 ? truncated(d, err) : 0;
    return ifmt_seterr(err, r == LZMA_MEMLIMIT_ERROR ? IMGFMT_E_LIMIT : IMGFMT_E_CORRUPT, 0,
                       "%s: %s", ifmt_codec_name(d->codec),
                       r == LZMA_MEMLIMIT_ERROR ? "dictionary over the 256 MiB cap"
                                                : "invalid compressed data");
}
#endif

#if IMGFMT_HAVE_BZIP2
static int run_bzip2(struct ifmt_decoder *d, const uint8_t *in, size_t in_len, bool at_end,
                     size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_made,
                     imgfmt_error *err)
{
    unsigned ilen = in_len > UINT32_MAX ? UINT32_MAX : (unsigned)in_len;
    unsigned olen = out_cap > UINT32_MAX ? UINT32_MAX : (unsigned)out_cap;
    d->bz.next_in = (char *)(uintptr_t)in;
    d->bz.avail_in = ilen;
    d->bz.next_out = (char *)out;
    d->bz.avail_out = olen;
    int r = BZ2_bzDecompress(&d->bz);
    *in_used = ilen - d->bz.avail_in;
    *out_made = olen - d->bz.avail_out;
    if (r == BZ_STREAM_END)
        return 1;
    if (r != BZ_OK)
        return ifmt_seterr(err, IMGFMT_E_CORRUPT, 0, "bzip2: invalid compressed data (%d)", r);
    return at_end && *in_used == in_len && *out_made == 0 ? truncated(d, err) : 0;
}
#endif

#if IMGFMT_HAVE_LZ4
/* The legacy frame has no end mark: it ends at the end of the input, at
 * the magic of a next frame, or at a word too large to be a block size. */
static bool lz4_frame_ends(const uint8_t *in, size_t avail, bool at_end, uint32_t *size)
{
    if (avail < 4)
        return at_end;
    uint32_t v = ifmt_le32(in);
    if (v == LZ4_LEGACY_MAGIC || v == LZ4_FRAME_MAGIC || v == 0 ||
        v > (uint32_t)LZ4_compressBound((int)LZ4_LEGACY_BLOCK))
        return true;
    *size = v;
    return false;
}

static int run_lz4(struct ifmt_decoder *d, const uint8_t *in, size_t in_len, bool at_end,
                   size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_made,
                   imgfmt_error *err)
{
    struct lz4_state *s = &d->lz4;
    size_t used = 0;
    if (s->out_pos < s->out_len) {            /* drain the decoded block first */
        size_t made = ifmt_min(out_cap, s->out_len - s->out_pos);
        memcpy(out, s->out + s->out_pos, made);
        s->out_pos += made;
        *out_made = made;
        return 0;
    }
    if (!s->have_magic) {
        if (in_len < 4)
            return at_end ? truncated(d, err) : 0;
        used = 4;
        s->have_magic = 1;
    }
    if (!s->want) {
        uint32_t size = 0;
        if (lz4_frame_ends(in + used, in_len - used, at_end, &size)) {
            *in_used = used;
            return 1;
        }
        if (!size) {                          /* fewer than 4 bytes: need more */
            *in_used = used;
            return 0;
        }
        s->want = size;
        s->in_fill = 0;
        used += 4;
    }
    size_t take = ifmt_min(in_len - used, s->want - s->in_fill);
    memcpy(s->in + s->in_fill, in + used, take);
    s->in_fill += take;
    used += take;
    *in_used = used;
    if (s->in_fill < s->want)
        return at_end && used == in_len ? truncated(d, err) : 0;
    int n = LZ4_decompress_safe((const char *)s->in, (char *)s->out, (int)s->want,
                                (int)LZ4_LEGACY_BLOCK);
    if (n < 0)
        return ifmt_seterr(err, IMGFMT_E_CORRUPT, 0, "lz4: invalid block of %u bytes",
                           s->want);
    s->out_len = (size_t)n;
    s->out_pos = 0;
    s->want = 0;
    return 0;
}
#endif

int ifmt_decoder_run(struct ifmt_decoder *d, const uint8_t *in, size_t in_len,
                     bool at_end, size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_made,
                     imgfmt_error *err)
{
    *in_used = *out_made = 0;
    switch (d->codec) {
    case IFMT_CODEC_GZIP:
        return run_gzip(d, in, in_len, at_end, in_used, out, out_cap, out_made, err);
#if IMGFMT_HAVE_ZSTD
    case IFMT_CODEC_ZSTD:
        return run_zstd(d, in, in_len, at_end, in_used, out, out_cap, out_made, err);
#endif
#if IMGFMT_HAVE_LZMA
    case IFMT_CODEC_XZ:
    case IFMT_CODEC_LZMA:
        return run_xz(d, in, in_len, at_end, in_used, out, out_cap, out_made, err);
#endif
#if IMGFMT_HAVE_BZIP2
    case IFMT_CODEC_BZIP2:
        return run_bzip2(d, in, in_len, at_end, in_used, out, out_cap, out_made, err);
#endif
#if IMGFMT_HAVE_LZ4
    case IFMT_CODEC_LZ4_LEGACY:
        return run_lz4(d, in, in_len, at_end, in_used, out, out_cap, out_made, err);
#endif
    default:
        return ifmt_seterr(err, IMGFMT_E_UNSUPPORTED, 0, "%s: no decoder",
                           ifmt_codec_name(d->codec));
    }
}

void ifmt_decoder_free(struct ifmt_decoder *d)
{
    if (!d)
        return;
    switch (d->codec) {
    case IFMT_CODEC_GZIP: inflateEnd(&d->z); break;
#if IMGFMT_HAVE_ZSTD
    case IFMT_CODEC_ZSTD: ZSTD_freeDCtx(d->zstd); break;
#endif
#if IMGFMT_HAVE_LZMA
    case IFMT_CODEC_XZ:
    case IFMT_CODEC_LZMA: lzma_end(&d->xz); break;
#endif
#if IMGFMT_HAVE_BZIP2
    case IFMT_CODEC_BZIP2: BZ2_bzDecompressEnd(&d->bz); break;
#endif
    default: break;
    }
    free(d->lz4.in);
    free(d->lz4.out);
    free(d);
}
