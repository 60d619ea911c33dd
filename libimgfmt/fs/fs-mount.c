/*
 * fs-mount.c -- mounting a file system on a byte device, and the helpers
 * every driver uses: errors, warnings, the memory cap, cached device
 * reads, CRC-32C and UTF-16 decoding.
 */
#define IMGFMT_BUILDING 1
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "disk/fsprobe.h"
#include "fs/fs.h"

/* Every driver, in probing order. */
static const struct ifmt_fs_driver *const fs_drivers[] = {
    &ifmt_ext4_driver,
    &ifmt_xfs_driver,
    &ifmt_btrfs_driver,
    &ifmt_ntfs_driver,
    NULL
};

#define CACHE_BLOCK 4096u
#define CACHE_SLOTS 256u   /* 1 MiB, direct mapped */

struct ifmt_fs_cache {
    uint64_t tag[CACHE_SLOTS];      /* block number + 1; 0 = empty */
    uint8_t data[CACHE_SLOTS][CACHE_BLOCK];
};

void imgfmt_fs_opts_init(imgfmt_fs_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->max_metadata_bytes = 256ull << 20;
}

int ifmt_fs_error(struct ifmt_fs *fs, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ifmt_vseterr(&fs->err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

void ifmt_fs_warn(struct ifmt_fs *fs, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (uint32_t i = 0; i < fs->nb_warnings; i++)
        if (strcmp(fs->warnings[i], buf) == 0)
            return;
    char **w = realloc(fs->warnings, (fs->nb_warnings + 1) * sizeof *w);
    if (!w)
        return;
    fs->warnings = w;
    if ((w[fs->nb_warnings] = strdup(buf)) != NULL)
        fs->nb_warnings++;
}

int ifmt_fs_charge(struct ifmt_fs *fs, uint64_t n, const char *what)
{
    uint64_t total;
    if (ifmt_add_overflow(fs->mem_charged, n, &total) || total > fs->opts.max_metadata_bytes)
        return ifmt_fs_error(fs, IMGFMT_E_LIMIT,
                             "%s: %s needs %llu bytes of memory, over the %llu-byte "
                             "metadata cap", fs->drv ? fs->drv->name : "fs", what,
                             (unsigned long long)n,
                             (unsigned long long)fs->opts.max_metadata_bytes);
    fs->mem_charged = total;
    return IMGFMT_OK;
}

void ifmt_fs_uncharge(struct ifmt_fs *fs, uint64_t n)
{
    fs->mem_charged = n > fs->mem_charged ? 0 : fs->mem_charged - n;
}

static int read_cached_block(struct ifmt_fs *fs, uint64_t blk, const uint8_t **out,
                             const char *what)
{
    struct ifmt_fs_cache *c = fs->cache;
    unsigned slot = (unsigned)(blk % CACHE_SLOTS);
    if (c->tag[slot] != blk + 1) {
        uint64_t off = blk * CACHE_BLOCK;
        size_t n = CACHE_BLOCK;
        if (fs->dev.size - off < n)
            n = (size_t)(fs->dev.size - off);
        c->tag[slot] = 0;
        int r = ifmt_bdev_read(&fs->dev, c->data[slot], n, off, what, &fs->err);
        if (r < 0)
            return r;
        c->tag[slot] = blk + 1;
    }
    *out = c->data[slot];
    return IMGFMT_OK;
}

int ifmt_fs_read(struct ifmt_fs *fs, void *buf, size_t len, uint64_t off, const char *what)
{
    if (len == 0)
        return IMGFMT_OK;
    if (off > fs->dev.size || len > fs->dev.size - off)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "%s: %s at byte %llu (+%zu) beyond the end of %s (%llu bytes)",
                             fs->drv ? fs->drv->name : "fs", what ? what : "read",
                             (unsigned long long)off, len, fs->dev.name,
                             (unsigned long long)fs->dev.size);
    uint64_t blk = off / CACHE_BLOCK;
    if (fs->cache && len <= CACHE_BLOCK && (off + len - 1) / CACHE_BLOCK == blk) {
        const uint8_t *p;
        int r = read_cached_block(fs, blk, &p, what);
        if (r < 0)
            return r;
        memcpy(buf, p + (off % CACHE_BLOCK), len);
        return IMGFMT_OK;
    }
    return ifmt_bdev_read(&fs->dev, buf, len, off, what, &fs->err);
}

static const struct ifmt_fs_driver *driver_for_signature(const struct ifmt_bdev *dev,
                                                        imgfmt_error *err, int *code)
{
    imgfmt_fs sig;
    *code = IMGFMT_OK;
    /* Image ranges and other devices (LVs) alike: through the device. */
    int r = ifmt_probe_fs_bdev(dev, &sig, err);
    if (r < 0) {
        *code = r;
        return NULL;
    }
    if (sig.type == IMGFMT_FS_NONE) {
        *code = ifmt_seterr(err, IMGFMT_E_UNKNOWN_FORMAT, 0,
                            "%s: no file-system signature", dev->name);
        return NULL;
    }
    for (size_t i = 0; fs_drivers[i]; i++)
        if (fs_drivers[i]->handles(sig.type))
            return fs_drivers[i];
    *code = ifmt_seterr(err, IMGFMT_E_UNSUPPORTED, 0,
                        "%s: %s file system: no reader for it in this build", dev->name,
                        sig.name);
    return NULL;
}

int ifmt_fs_mount(const struct ifmt_bdev *dev, const struct ifmt_fs_driver *drv,
                  const imgfmt_fs_opts *opts, struct ifmt_fs **out, imgfmt_error *err)
{
    *out = NULL;
    int code;
    if (opts && (code = ifmt_check_struct_size(err, "imgfmt_fs_opts", opts->struct_size,
                                               sizeof *opts)) < 0)
        return code;
    if (!drv && !(drv = driver_for_signature(dev, err, &code)))
        return code;
    struct ifmt_fs *fs = calloc(1, sizeof *fs);
    if (fs)
        fs->cache = calloc(1, sizeof *fs->cache);
    if (!fs || !fs->cache) {
        free(fs);
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "fs: out of memory");
    }
    fs->drv = drv;
    fs->dev = *dev;
    imgfmt_fs_opts_init(&fs->opts);
    if (opts) {
        fs->opts = *opts;
        if (!fs->opts.max_metadata_bytes)
            fs->opts.max_metadata_bytes = 256ull << 20;
    }
    int r = drv->mount(fs);
    if (r < 0) {
        if (err)
            *err = fs->err;
        ifmt_fs_unmount(fs);
        return r;
    }
    *out = fs;
    return IMGFMT_OK;
}

void ifmt_fs_unmount(struct ifmt_fs *fs)
{
    if (!fs)
        return;
    if (fs->drv && fs->drv->unmount)
        fs->drv->unmount(fs);
    for (uint32_t i = 0; i < fs->nb_warnings; i++)
        free(fs->warnings[i]);
    free(fs->warnings);
    free(fs->cache);
    free(fs);
}

/* CRC-32C, reflected polynomial 0x82F63B78, one table built on first use. */
static uint32_t crc32c_table[256];
static int crc32c_ready;

uint32_t ifmt_crc32c(uint32_t crc, const void *buf, size_t len)
{
    if (!crc32c_ready) {   /* idempotent: racing threads write equal values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            crc32c_table[i] = c;
        }
        crc32c_ready = 1;
    }
    const uint8_t *p = buf;
    crc = ~crc;
    while (len--)
        crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static size_t put_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int ifmt_utf16le_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = (uint32_t)in[2 * i] | (uint32_t)in[2 * i + 1] << 8;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < n) {
            uint32_t lo = (uint32_t)in[2 * i + 2] | (uint32_t)in[2 * i + 3] << 8;
            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i++;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
        }
        char tmp[4];
        size_t k = put_utf8(cp, tmp);
        if (o + k >= cap)
            return -1;
        memcpy(out + o, tmp, k);
        o += k;
    }
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (int)o;
}
