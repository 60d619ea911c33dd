/*
 * hive.c -- REGF hives: opening (base block, hbins, the cell map), cells,
 * names, errors and warnings.
 *
 * The base block (4096 bytes) holds the signature "regf", two sequence
 * numbers (equal when the hive was written back cleanly), the version,
 * the file type (0 = the hive itself, not a log), the root key's cell and
 * the size of the hbins that follow it.  Each hbin ("hbin", its own
 * offset, its size: a multiple of 4096) is a run of cells; a cell is an
 * int32 size (negative: allocated) and data, 8-byte aligned.  At open
 * every hbin and every cell boundary is checked and the starts of
 * allocated cells recorded, so that no offset read from the hive is
 * dereferenced unless it is one of them.
 */
#define IMGFMT_BUILDING 1
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "fs/fs.h"
#include "inspect/hive.h"

int ifmt_hive_error(imgfmt_hive *h, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ifmt_vseterr(&h->err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

void ifmt_hive_warn(imgfmt_hive *h, const char *msg)
{
    char **w = realloc(h->warnings, (h->nb_warnings + 1) * sizeof *w);
    if (!w)
        return;
    h->warnings = w;
    if ((w[h->nb_warnings] = strdup(msg)) != NULL)
        h->nb_warnings++;
}

static uint32_t xor_checksum(const uint8_t *b)
{
    uint32_t x = 0;
    for (int i = 0; i < 508; i += 4)
        x ^= ifmt_le32(b + i);
    return x;
}

static int check_base_block(imgfmt_hive *h)
{
    const uint8_t *b = h->file;
    if (h->len < REGF_BASE_BLOCK || memcmp(b, "regf", 4) != 0)
        return ifmt_hive_error(h, IMGFMT_E_UNKNOWN_FORMAT, "regf: no \"regf\" signature");
    if (xor_checksum(b) != ifmt_le32(b + 508))
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                               "regf: base block checksum 0x%08x, stored 0x%08x",
                               xor_checksum(b), ifmt_le32(b + 508));
    uint32_t major = ifmt_le32(b + 20), minor = ifmt_le32(b + 24), type = ifmt_le32(b + 28);
    if (major != 1 || minor < 2 || minor > 6)
        return ifmt_hive_error(h, IMGFMT_E_UNSUPPORTED, "regf: version %u.%u", major, minor);
    if (type != 0)
        return ifmt_hive_error(h, IMGFMT_E_UNSUPPORTED,
                               "regf: file type %u (a log or other file, not a hive)", type);
    h->minor = minor;
    h->root = ifmt_le32(b + 36);
    h->bins_size = ifmt_le32(b + 40);
    if (h->bins_size == 0 || h->bins_size % 4096 ||
        h->bins_size > h->len - REGF_BASE_BLOCK)
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                               "regf: hive bins size %u beyond the %zu-byte file", h->bins_size,
                               h->len);
    uint32_t s1 = ifmt_le32(b + 4), s2 = ifmt_le32(b + 8);
    if (s1 != s2) {
        char msg[200];
        snprintf(msg, sizeof msg, "regf: hive dirty: sequence numbers %u and %u differ "
                 "(changes in .LOG1/.LOG2 were not replayed)", s1, s2);
        ifmt_hive_warn(h, msg);
        h->dirty = 1;
    }
    return IMGFMT_OK;
}

/* The cells of the hbin at pos (size bytes): boundaries, allocated ones. */
static int scan_cells(imgfmt_hive *h, uint32_t pos, uint32_t size)
{
    uint32_t c = pos + REGF_HBIN_HEADER, end = pos + size;
    while (c < end) {
        if (end - c < 8)
            return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                                   "regf: hbin at %u: cell at %u runs past it", pos, c);
        int32_t s = (int32_t)ifmt_le32(h->bins + c);
        uint32_t n = s < 0 ? (uint32_t)0 - (uint32_t)s : (uint32_t)s;
        if (n < 8 || n % 8 || n > end - c)
            return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                                   "regf: hbin at %u: cell at %u has size %d", pos, c, s);
        if (s < 0)
            h->cell_map[c / 64] |= (uint8_t)(1u << (c / 8 % 8));
        c += n;
    }
    return IMGFMT_OK;
}

static int scan_hbins(imgfmt_hive *h)
{
    if (!(h->cell_map = calloc(1, h->bins_size / 64 + 1)))
        return ifmt_hive_error(h, IMGFMT_E_NOMEM, "regf: out of memory");
    uint32_t pos = 0;
    while (pos < h->bins_size) {
        const uint8_t *b = h->bins + pos;
        uint32_t size = ifmt_le32(b + 8);
        if (memcmp(b, "hbin", 4) != 0)
            return ifmt_hive_error(h, IMGFMT_E_CORRUPT, "regf: no hbin at %u", pos);
        if (ifmt_le32(b + 4) != pos || size == 0 || size % 4096 ||
            size > h->bins_size - pos)
            return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                                   "regf: hbin at %u says offset %u size %u", pos,
                                   ifmt_le32(b + 4), size);
        int r = scan_cells(h, pos, size);
        if (r < 0)
            return r;
        pos += size;
    }
    return IMGFMT_OK;
}

int ifmt_hive_cell(imgfmt_hive *h, uint32_t off, const char *what, const uint8_t **p,
                   uint32_t *len)
{
    if (off % 8 || off >= h->bins_size || !(h->cell_map[off / 64] & (1u << (off / 8 % 8))))
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                               "regf: %s at %u is not an allocated cell", what, off);
    *len = (uint32_t)0 - ifmt_le32(h->bins + off) - 4;
    *p = h->bins + off + 4;
    return IMGFMT_OK;
}

int ifmt_hive_cell_sig(imgfmt_hive *h, uint32_t off, const char *sig, uint32_t min,
                       const char *what, const uint8_t **p, uint32_t *len)
{
    int r = ifmt_hive_cell(h, off, what, p, len);
    if (r < 0)
        return r;
    if (*len < min || memcmp(*p, sig, 2) != 0)
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                               "regf: %s at %u is not a \"%s\" cell of %u bytes or more", what,
                               off, sig, min);
    return IMGFMT_OK;
}

static int open_owned(uint8_t *file, size_t len, imgfmt_hive **out, imgfmt_error *err)
{
    *out = NULL;
    imgfmt_hive *h = calloc(1, sizeof *h);
    if (!h) {
        free(file);
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "regf: out of memory");
    }
    h->file = file;
    h->len = len;
    h->bins = file + REGF_BASE_BLOCK;
    h->key_name = malloc(REGF_NAME_MAX);
    h->value_name = malloc(REGF_NAME_MAX);
    int r = !h->key_name || !h->value_name
                ? ifmt_hive_error(h, IMGFMT_E_NOMEM, "regf: out of memory")
                : check_base_block(h);
    if (r == 0)
        r = scan_hbins(h);
    if (r == 0) {
        struct hive_nk nk;
        r = ifmt_hive_nk(h, h->root, &nk);
    }
    if (r < 0) {
        if (err)
            *err = h->err;
        imgfmt_hive_close(h);
        return r;
    }
    *out = h;
    return IMGFMT_OK;
}

int imgfmt_hive_open_memory(const void *buf, size_t len, imgfmt_hive **out,
                            imgfmt_error *err)
{
    if (!out || (!buf && len))
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_hive_open_memory: NULL argument");
    *out = NULL;
    if (len > IMGFMT_HIVE_MAX_SIZE)
        return ifmt_seterr(err, IMGFMT_E_LIMIT, 0, "regf: hive of %zu bytes (at most %llu)",
                           len, (unsigned long long)IMGFMT_HIVE_MAX_SIZE);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "regf: out of memory");
    if (len)
        memcpy(copy, buf, len);
    return open_owned(copy, len, out, err);
}

int imgfmt_hive_open_file(imgfmt_filesystem *fs, const char *path, imgfmt_hive **out,
                          imgfmt_error *err)
{
    if (!out || !fs || !path)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_hive_open_file: NULL argument");
    *out = NULL;
    imgfmt_file *f;
    int r = imgfmt_fs_open_file(fs, path, &f);
    if (r < 0)
        return ifmt_seterr(err, r, 0, "%s", imgfmt_fs_last_error(fs)->msg);
    uint64_t size = imgfmt_file_stat(f)->size;
    uint8_t *buf = NULL;
    if (size > IMGFMT_HIVE_MAX_SIZE)
        r = ifmt_seterr(err, IMGFMT_E_LIMIT, 0, "regf: %s: %llu bytes (at most %llu)", path,
                        (unsigned long long)size, (unsigned long long)IMGFMT_HIVE_MAX_SIZE);
    else if (!(buf = malloc(size ? (size_t)size : 1)))
        r = ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "regf: out of memory");
    size_t done = 0;
    while (r == 0 && done < size) {
        size_t got = 0;
        r = imgfmt_file_pread(f, buf + done, (size_t)size - done, done, &got);
        if (r < 0)
            ifmt_seterr(err, r, 0, "%s", imgfmt_fs_last_error(fs)->msg);
        else if (got == 0)
            r = ifmt_seterr(err, IMGFMT_E_IO, 0, "regf: %s: short read", path);
        done += got;
    }
    imgfmt_file_close(f);
    if (r < 0) {
        free(buf);
        return r;
    }
    return open_owned(buf, (size_t)size, out, err);
}

void imgfmt_hive_close(imgfmt_hive *h)
{
    if (!h)
        return;
    for (uint32_t i = 0; i < h->nb_warnings; i++)
        free(h->warnings[i]);
    free(h->warnings);
    free(h->cell_map);
    free(h->key_name);
    free(h->value_name);
    free(h->string);
    free(h->data);
    free(h->strings);
    free(h->strings_buf);
    free(h->file);
    free(h);
}

const imgfmt_error *imgfmt_hive_last_error(const imgfmt_hive *h)
{
    return &h->err;
}

int imgfmt_hive_dirty(const imgfmt_hive *h)
{
    return h ? h->dirty : 0;
}

uint32_t imgfmt_hive_nb_warnings(const imgfmt_hive *h)
{
    return h ? h->nb_warnings : 0;
}

const char *imgfmt_hive_warning(const imgfmt_hive *h, uint32_t i)
{
    return h && i < h->nb_warnings ? h->warnings[i] : NULL;
}

imgfmt_hive_key imgfmt_hive_root(const imgfmt_hive *h)
{
    return h ? h->root : 0;
}

/* ---- names --------------------------------------------------------- */

static size_t put_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

void ifmt_hive_name(const uint8_t *raw, uint32_t len, bool compressed, char *out)
{
    if (!compressed) {
        ifmt_utf16le_to_utf8(raw, len / 2, out, REGF_NAME_MAX);
        return;
    }
    size_t o = 0;
    for (uint32_t i = 0; i < len; i++)
        o += put_utf8(raw[i], out + o);
    out[o] = '\0';
}

/* Upper case as Windows compares key and value names, for the scripts
 * registry names use: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic. */
static uint32_t upcase(uint32_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) ||
        (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) || (c >= 0x430 && c <= 0x44F))
        return c - 0x20;
    if (c == 0xFF)
        return 0x178;
    /* Latin Extended-A: upper/lower pairs, the upper one even or odd. */
    if (((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) && (c & 1))
        return c - 1;
    if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && !(c & 1))
        return c - 1;
    if (c >= 0x450 && c <= 0x45F)
        return c - 0x50;
    return c;
}

/* Next code point of UTF-8 s (n bytes left); invalid bytes stand for
 * themselves. */
static uint32_t next_utf8(const char *s, size_t n, size_t *used)
{
    const uint8_t *u = (const uint8_t *)s;
    if (u[0] < 0x80 || n < 2 || (u[1] & 0xC0) != 0x80) {
        *used = 1;
        return u[0];
    }
    if (u[0] < 0xE0) {
        *used = 2;
        return (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F);
    }
    if (u[0] < 0xF0 && n >= 3 && (u[2] & 0xC0) == 0x80) {
        *used = 3;
        return (uint32_t)(u[0] & 0x0F) << 12 | (uint32_t)(u[1] & 0x3F) << 6 | (u[2] & 0x3F);
    }
    if (n >= 4 && (u[2] & 0xC0) == 0x80 && (u[3] & 0xC0) == 0x80) {
        *used = 4;
        return (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3F) << 12 |
               (uint32_t)(u[2] & 0x3F) << 6 | (u[3] & 0x3F);
    }
    *used = 1;
    return u[0];
}

static uint32_t next_stored(const uint8_t *raw, uint32_t len, bool compressed, uint32_t *i)
{
    if (compressed)
        return raw[(*i)++];
    uint32_t c = ifmt_le16(raw + *i);
    *i += 2;
    if (c >= 0xD800 && c < 0xDC00 && *i + 2 <= len) {
        uint32_t lo = ifmt_le16(raw + *i);
        if (lo >= 0xDC00 && lo < 0xE000) {
            *i += 2;
            return 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        }
    }
    return c;
}

bool ifmt_hive_name_eq(const uint8_t *raw, uint32_t len, bool compressed, const char *q,
                       size_t qlen)
{
    uint32_t i = 0;
    size_t j = 0;
    if (!compressed)
        len &= ~1u;
    while (i < len && j < qlen) {
        size_t used;
        uint32_t a = next_stored(raw, len, compressed, &i);
        uint32_t b = next_utf8(q + j, qlen - j, &used);
        j += used;
        if (upcase(a) != upcase(b))
            return false;
    }
    return i >= len && j == qlen;
}
