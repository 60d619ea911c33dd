/*
 * ova.c -- just enough tar to find a disk image inside an OVA and read it in
 * place: ustar/GNU headers, GNU long names ('L'), pax "path"/"size"
 * records ('x'), base-256 sizes.  Nothing is extracted.
 */
#define IMGFMT_BUILDING 1
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/ova.h"
#include "core/checked.h"
#include "core/io.h"
#include "core/util.h"

#define TAR_BLOCK 512u
#define TAR_MAX_NAME 4096u

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Octal (space/NUL padded) or GNU base-256.  false if malformed. */
static bool tar_number(const uint8_t *f, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] != 0x80)
            return false;            /* negative or too large */
        for (size_t i = 1; i < n; i++) {
            if (v >> 56)
                return false;
            v = v << 8 | f[i];
        }
        *out = v;
        return true;
    }
    size_t i = 0;
    while (i < n && f[i] == ' ')
        i++;
    bool digits = false;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return false;
        v = v << 3 | (uint64_t)(f[i] - '0');
        digits = true;
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return false;
    *out = v;
    return digits || f[0] == '\0' || f[0] == ' ';
}

static bool tar_checksum_ok(const uint8_t *h)
{
    uint64_t stored;
    if (!tar_number(h + 148, 8, &stored))
        return false;
    uint64_t u = 0;
    int64_t s = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++) {
        uint8_t c = (i >= 148 && i < 156) ? ' ' : h[i];
        u += c;
        s += (int8_t)c;
    }
    return stored == u || (int64_t)stored == s;
}

bool ova_probe(const uint8_t *head, size_t hlen)
{
    if (hlen < TAR_BLOCK || memcmp(head + 257, "ustar", 5) != 0)
        return false;
    return tar_checksum_ok(head);
}

static char *field_str(const uint8_t *f, size_t n)
{
    size_t len = 0;
    while (len < n && f[len])
        len++;
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, f, len);
        s[len] = '\0';
    }
    return s;
}

/* pax records "LEN key=value\n": take path and size. */
static void pax_parse(const char *b, size_t n, char **path, uint64_t *size, bool *has_size)
{
    size_t i = 0;
    while (i < n) {
        size_t len = 0, j = i;
        while (j < n && b[j] >= '0' && b[j] <= '9' && len < n)
            len = len * 10 + (size_t)(b[j++] - '0');
        if (j >= n || b[j] != ' ' || len == 0 || len > n - i)
            return;
        const char *kv = b + j + 1, *rec_end = b + i + len;
        if (rec_end[-1] != '\n' || kv >= rec_end)
            return;
        const char *eq = memchr(kv, '=', (size_t)(rec_end - kv));
        if (eq) {
            size_t klen = (size_t)(eq - kv), vlen = (size_t)(rec_end - 1 - (eq + 1));
            if (klen == 4 && memcmp(kv, "path", 4) == 0 && vlen < TAR_MAX_NAME) {
                char *p = malloc(vlen + 1);
                if (p) {
                    memcpy(p, eq + 1, vlen);
                    p[vlen] = '\0';
                    free(*path);
                    *path = p;
                }
            } else if (klen == 4 && memcmp(kv, "size", 4) == 0) {
                uint64_t v = 0;
                bool ok = vlen > 0 && vlen < 20;
                for (size_t k = 0; ok && k < vlen; k++) {
                    char c = eq[1 + k];
                    if (c < '0' || c > '9')
                        ok = false;
                    else
                        v = v * 10 + (uint64_t)(c - '0');
                }
                if (ok) {
                    *size = v;
                    *has_size = true;
                }
            }
        }
        i += len;
    }
}

/* The state of one walk over an archive's headers. */
struct tar_walk {
    struct ifmt_io *io;
    struct ova *o;
    uint32_t cap;            /* allocated members */
    char *long_name;         /* from a GNU 'L' or pax header, for the next member */
    uint64_t pax_size;       /* from a pax header, for the next member */
    bool pax_has_size;
    char *err;
    size_t errlen;
};

/* The header at pos into h, with the member's data size and type.  1 at the
 * end of the archive, 0 for a header, or a negative code (err set). */
static int read_header(struct tar_walk *w, uint64_t pos, uint8_t *h, uint64_t *size,
                       char *type)
{
    struct ifmt_io *io = w->io;
    int e = 0;
    if (pos == io->size) {
        w->o->no_end_marker = true;
        return 1;
    }
    if (io->size - pos < TAR_BLOCK) {
        seterr(w->err, w->errlen, "truncated tar archive: %llu bytes at offset %llu are "
               "not a whole 512-byte header", (unsigned long long)(io->size - pos),
               (unsigned long long)pos);
        return IMGFMT_E_CORRUPT;
    }
    if (ifmt_io_pread(io, h, TAR_BLOCK, pos, &e) < 0) {
        seterr(w->err, w->errlen, "reading tar header at offset %llu failed",
               (unsigned long long)pos);
        return IMGFMT_E_IO;
    }
    if (ifmt_is_zero(h, TAR_BLOCK))
        return 1;                            /* end of archive */
    if (!tar_checksum_ok(h)) {
        seterr(w->err, w->errlen, "tar header at offset %llu has a bad checksum "
               "(damaged or truncated archive)", (unsigned long long)pos);
        return IMGFMT_E_CORRUPT;
    }
    if (!tar_number(h + 124, 12, size)) {
        seterr(w->err, w->errlen, "tar header at offset %llu: bad size field",
               (unsigned long long)pos);
        return IMGFMT_E_CORRUPT;
    }
    *type = (char)h[156];
    if (w->pax_has_size && *type != 'x' && *type != 'g' && *type != 'L')
        *size = w->pax_size;
    uint64_t padded;
    if (ifmt_round_up_overflow(*size, TAR_BLOCK, &padded) ||
        !ifmt_range_ok(pos + TAR_BLOCK, *size, io->size)) {
        char *nm = field_str(h, 100);
        seterr(w->err, w->errlen, "truncated tar archive: member \"%s\" needs %llu bytes "
               "at offset %llu, the file has %llu", nm ? nm : "?",
               (unsigned long long)*size, (unsigned long long)(pos + TAR_BLOCK),
               (unsigned long long)io->size);
        free(nm);
        return IMGFMT_E_CORRUPT;
    }
    return 0;
}

/* A GNU long name ('L') or pax extended header ('x') of size bytes at data:
 * what it says applies to the next member. */
static int read_extended(struct tar_walk *w, char type, uint64_t size, uint64_t data,
                         uint64_t pos)
{
    int e = 0;
    if (size > (1u << 20)) {
        seterr(w->err, w->errlen, "tar header at offset %llu: extended header of "
               "%llu bytes", (unsigned long long)pos, (unsigned long long)size);
        return IMGFMT_E_CORRUPT;
    }
    char *b = malloc((size_t)size + 1);
    if (!b) {
        seterr(w->err, w->errlen, "out of memory");
        return IMGFMT_E_NOMEM;
    }
    if (ifmt_io_pread(w->io, b, (size_t)size, data, &e) < 0) {
        free(b);
        seterr(w->err, w->errlen, "reading tar data at %llu failed",
               (unsigned long long)data);
        return IMGFMT_E_IO;
    }
    b[size] = '\0';
    if (type == 'L') {
        free(w->long_name);
        w->long_name = field_str((const uint8_t *)b,
                                 size < TAR_MAX_NAME ? size : TAR_MAX_NAME);
    } else {
        pax_parse(b, (size_t)size, &w->long_name, &w->pax_size, &w->pax_has_size);
    }
    free(b);
    return 0;
}

/* The member name of header h: its name field, with the POSIX ustar
 * ("ustar\0") prefix field at 345 when there is one.  NULL: no memory. */
static char *header_name(const uint8_t *h)
{
    char *base = field_str(h, 100);
    if (!base || memcmp(h + 257, "ustar\0", 6) != 0 || !h[345])
        return base;
    char *pre = field_str(h + 345, 155), *name = NULL;
    if (pre) {
        size_t n = strlen(pre) + 1 + strlen(base) + 1;
        name = malloc(n);
        if (name)
            snprintf(name, n, "%s/%s", pre, base);
    }
    free(pre);
    free(base);
    return name;
}

static int add_member(struct tar_walk *w, const uint8_t *h, uint64_t data, uint64_t size,
                      char type)
{
    struct ova *o = w->o;
    if (o->n >= OVA_MAX_MEMBERS) {
        seterr(w->err, w->errlen, "tar archive has more than %u members", OVA_MAX_MEMBERS);
        return IMGFMT_E_LIMIT;
    }
    if (o->n == w->cap) {
        uint32_t nc = w->cap ? w->cap * 2 : 16;
        struct ova_member *nm = realloc(o->m, nc * sizeof *nm);
        if (!nm) {
            seterr(w->err, w->errlen, "out of memory");
            return IMGFMT_E_NOMEM;
        }
        o->m = nm;
        w->cap = nc;
    }
    char *name = w->long_name ? w->long_name : header_name(h);
    w->long_name = NULL;
    if (!name) {
        seterr(w->err, w->errlen, "out of memory");
        return IMGFMT_E_NOMEM;
    }
    o->m[o->n].name = name;
    o->m[o->n].offset = data;
    o->m[o->n].size = size;
    o->m[o->n].type = type ? type : '0';
    o->n++;
    return 0;
}

int ova_list(struct ifmt_io *io, struct ova *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    struct tar_walk w = {.io = io, .o = o, .err = err, .errlen = errlen};
    uint8_t h[TAR_BLOCK];
    uint64_t pos = 0;
    int r;
    for (;;) {
        uint64_t size = 0;
        char type = 0;
        if ((r = read_header(&w, pos, h, &size, &type)) != 0)
            break;
        uint64_t data = pos + TAR_BLOCK;
        uint64_t padded = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
        if (type == 'L' || type == 'x') {
            if ((r = read_extended(&w, type, size, data, pos)) < 0)
                break;
            pos = data + padded;
            continue;
        }
        if (type != 'g' && type != 'K' && (r = add_member(&w, h, data, size, type)) < 0)
            break;
        w.pax_has_size = false;
        pos = data + padded;
        if (pos > io->size)
            pos = io->size;                  /* padding of the last member cut */
    }
    free(w.long_name);
    if (r < 0) {
        ova_free(o);
        return r;
    }
    return 0;
}

void ova_free(struct ova *o)
{
    if (!o)
        return;
    for (uint32_t i = 0; i < o->n; i++)
        free(o->m[i].name);
    free(o->m);
    o->m = NULL;
    o->n = 0;
}

const struct ova_member *ova_find(const struct ova *o, const char *name)
{
    for (uint32_t i = 0; i < o->n; i++)
        if (strcmp(o->m[i].name, name) == 0)
            return &o->m[i];
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    for (uint32_t i = 0; i < o->n; i++) {
        const char *mb = strrchr(o->m[i].name, '/');
        mb = mb ? mb + 1 : o->m[i].name;
        if (strcmp(mb, b) == 0)
            return &o->m[i];
    }
    return NULL;
}
