/*
 * decompress.h -- streaming decompression of the formats initramfs
 * segments (and kernel modules) use, recognised by their magic: gzip,
 * zstd, xz, lzma, lz4 (legacy frame), bzip2.  Each decoder is optional at
 * build time; without it the codec is named and refused (UNSUPPORTED).
 */
#ifndef IMGFMT_DECOMPRESS_H
#define IMGFMT_DECOMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/image.h"

enum ifmt_codec {
    IFMT_CODEC_NONE = 0,
    IFMT_CODEC_GZIP,
    IFMT_CODEC_ZSTD,
    IFMT_CODEC_XZ,
    IFMT_CODEC_LZMA,
    IFMT_CODEC_LZ4_LEGACY,
    IFMT_CODEC_BZIP2,
    IFMT_CODEC_LZOP        /* named only: no decoder */
};

/* "gzip", "zstd", "xz", "lzma", "lz4", "bzip2", "lzop"; "none". */
const char *ifmt_codec_name(enum ifmt_codec c);
/* The codec whose magic starts p (n bytes available), or NONE. */
enum ifmt_codec ifmt_codec_sniff(const uint8_t *p, size_t n);
/* True if this build can decode c. */
int ifmt_codec_available(enum ifmt_codec c);

struct ifmt_decoder;

/* A decoder for one stream of codec c.  UNSUPPORTED "built without xz
 * support" when the library is missing. */
int ifmt_decoder_new(enum ifmt_codec c, struct ifmt_decoder **out, imgfmt_error *err);
/* Decode from in[0..in_len) into out[0..out_cap): *in_used bytes taken,
 * *out_made bytes produced.  Returns 0 (call again with the input not yet
 * used and more, or more output room), 1 (the stream ended; bytes after
 * *in_used are not part of it) or a negative IMGFMT_E_* (CORRUPT for bad
 * data).  at_end: no input follows in[]; a stream that then makes no
 * progress is CORRUPT "truncated" (lz4 legacy frames simply end there). */
int ifmt_decoder_run(struct ifmt_decoder *d, const uint8_t *in, size_t in_len,
                     bool at_end, size_t *in_used, uint8_t *out, size_t out_cap,
                     size_t *out_made, imgfmt_error *err);
void ifmt_decoder_free(struct ifmt_decoder *d);   /* NULL ok */

#endif
