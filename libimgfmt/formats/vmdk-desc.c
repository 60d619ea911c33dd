/*
 * vmdk-desc.c -- the VMDK text descriptor, read the way qemu 7.2 reads it
 * (docs/formats.md, VMDK descriptor).  Pure: text in, struct out.
 *
 * qemu matches each extent line with
 *   sscanf(p, "%10s %lld %10s \"%511[^\n\r\"]\" %lld", ...)
 * starting at every line start.  sscanf's %s and %d skip any white space,
 * newlines included, so a match that starts on a blank line continues on
 * the next line: that extent is then counted once per blank line before it,
 * plus once for its own line.  We reproduce this scanner here, not with
 * sscanf (which needs a NUL-terminated copy and a locale), but with the same
 * rules: C-locale white space, widths, saturating decimal conversion.
 */
#define IMGFMT_BUILDING 1
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "imgfmt.h"
#include "formats/vmdk.h"

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The text up to len or the first NUL (what C string functions see). */
static size_t text_len(const char *t, size_t len)
{
    const char *z = memchr(t, '\0', len);
    return z ? (size_t)(z - t) : len;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

bool vmdk_desc_has_version(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        if (*p == '#') {
            while (p < end && *p != '\n')
                p++;
            p++;
            continue;
        }
        if (*p == ' ') {
            while (p < end && *p == ' ')
                p++;
            if (p < end && *p == '\r')
                p++;
            if (p == end || *p != '\n')
                return false;
            p++;
            continue;
        }
        size_t left = (size_t)(end - p);
        for (char v = '1'; v <= '3'; v++) {
            char lf[] = "version=X\n", crlf[] = "version=X\r\n";
            lf[8] = crlf[8] = v;
            if (left >= 10 && memcmp(p, lf, 10) == 0)
                return true;
            if (left >= 11 && memcmp(p, crlf, 11) == 0)
                return true;
        }
        return false;
    }
    return false;
}

/* ---- a tiny sscanf for one extent line ------------------------------ */

struct scan {
    const char *p, *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && is_ws(*s->p))
        s->p++;
}

/* %Ns: white space skipped, then 1..width non-space characters. */
static bool scan_word(struct scan *s, char *out, size_t width)
{
    skip_ws(s);
    size_t n = 0;
    while (s->p < s->end && !is_ws(*s->p) && n < width)
        out[n++] = *s->p++;
    out[n] = '\0';
    return n > 0;
}

/* %lld: white space, optional sign, decimal digits; saturates like glibc. */
static bool scan_i64(struct scan *s, int64_t *out)
{
    skip_ws(s);
    const char *p = s->p;
    bool neg = false;
    if (p < s->end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    if (p >= s->end || *p < '0' || *p > '9')
        return false;
    uint64_t v = 0;
    bool over = false;
    while (p < s->end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
        p++;
    }
    s->p = p;
    if (neg)
        *out = (over || v > (uint64_t)INT64_MAX + 1) ? INT64_MIN
               : (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v);
    else
        *out = (over || v > (uint64_t)INT64_MAX) ? INT64_MAX : (int64_t)v;
    return true;
}

static bool scan_lit(struct scan *s, char c)
{
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

/* %511[^\n\r"] */
static bool scan_name(struct scan *s, char *out)
{
    size_t n = 0;
    while (s->p < s->end && *s->p != '\n' && *s->p != '\r' && *s->p != '"' &&
           n < VMDK_MAX_NAME)
        out[n++] = *s->p++;
    out[n] = '\0';
    return n > 0;
}

struct line_match {
    char access[11], type[11], fname[VMDK_MAX_NAME + 1];
    int64_t sectors, offset;
};

static int scan_extent_line(const char *p, const char *end, struct line_match *m)
{
    struct scan s = {p, end};
    m->offset = -1;
    if (!scan_word(&s, m->access, 10))
        return 0;
    if (!scan_i64(&s, &m->sectors))
        return 1;
    if (!scan_word(&s, m->type, 10))
        return 2;
    skip_ws(&s);
    if (!scan_lit(&s, '"') || !scan_name(&s, m->fname))
        return 3;
    if (!scan_lit(&s, '"'))
        return 4;
    if (!scan_i64(&s, &m->offset))
        return 4;
    return 5;
}

static const char *next_line(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl + 1 : end;
}

/* The line at p without its newline, at most cap chars. */
static void copy_line(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    while (p + n < end && p[n] != '\n' && n + 1 < cap)
        n++;
    memcpy(out, p, n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)      /* keep messages printable */
        if ((unsigned char)out[i] < 0x20)
            out[i] = ' ';
}

static bool parse_create_type(const char *t, size_t n, struct vmdk_desc *d)
{
    const char *key = "createType";
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen <= n; i++) {
        if (memcmp(t + i, key, klen) != 0)
            continue;
        size_t pos = i + klen + 2;          /* qemu skips `="` blindly */
        if (pos >= n)
            return false;
        size_t e = pos;
        while (e < n && t[e] != '"')
            e++;
        if (e == n || e - pos + 1 > sizeof d->create_type)
            return false;
        memcpy(d->create_type, t + pos, e - pos);
        d->create_type[e - pos] = '\0';
        return true;
    }
    return false;
}

static const struct {
    const char *name;
    enum vmdk_ext_type type;
} ext_types[] = {
    {"FLAT", VMDK_EXT_FLAT},         {"SPARSE", VMDK_EXT_SPARSE},
    {"VMFS", VMDK_EXT_VMFS},         {"VMFSSPARSE", VMDK_EXT_VMFSSPARSE},
    {"SESPARSE", VMDK_EXT_SESPARSE},
};

/* A line qemu skips: not RW (counted, its data lost), or RW ZERO. */
static void note_skipped(struct vmdk_desc *d, const struct line_match *m, int matches,
                         const char *p, const char *end)
{
    if (matches >= 4) {
        if (d->n_not_rw++ == 0)
            copy_line(p, end, d->not_rw_first, sizeof d->not_rw_first);
        if (m->sectors > 0 && (uint64_t)m->sectors < UINT64_MAX / 2 - d->not_rw_sectors)
            d->not_rw_sectors += (uint64_t)m->sectors;
    } else if (matches == 3 && strcmp(m->access, "RW") == 0 && strcmp(m->type, "ZERO") == 0) {
        if (d->n_ignored++ == 0)
            copy_line(p, end, d->ignored_first, sizeof d->ignored_first);
    }
}

/* Append the extent of an accepted line (type index t). */
static int add_extent(struct vmdk_desc *d, uint32_t *cap, const struct line_match *m, int t,
                      unsigned line, const char *p, const char *end, char *err, size_t errlen)
{
    if (d->n_ext >= VMDK_MAX_EXTENTS) {
        seterr(err, errlen, "more than %u extents in the descriptor (line %u)",
               VMDK_MAX_EXTENTS, line);
        return IMGFMT_E_LIMIT;
    }
    if (d->n_ext == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 8;
        struct vmdk_desc_extent *ne = realloc(d->ext, nc * sizeof *ne);
        if (!ne) {
            seterr(err, errlen, "out of memory");
            return IMGFMT_E_NOMEM;
        }
        d->ext = ne;
        *cap = nc;
    }
    struct vmdk_desc_extent *e = &d->ext[d->n_ext];
    memset(e, 0, sizeof *e);
    e->type = ext_types[t].type;
    memcpy(e->type_name, m->type, sizeof e->type_name);
    e->sectors = m->sectors;
    e->offset = m->offset < 0 ? 0 : m->offset;
    e->line = line;
    e->fname = strdup(m->fname);
    e->line_text = malloc(121);
    if (!e->fname || !e->line_text) {
        free(e->fname);
        free(e->line_text);
        seterr(err, errlen, "out of memory");
        return IMGFMT_E_NOMEM;
    }
    copy_line(p, end, e->line_text, 121);
    d->n_ext++;
    return 0;
}

/* The fields qemu requires of an RW line of this type (FLAT needs an
 * offset, VMFS and the others must have none). */
static bool extent_fields_ok(struct line_match *m, int matches)
{
    if (strcmp(m->type, "FLAT") == 0)
        return matches == 5 && m->offset >= 0;
    if (strcmp(m->type, "VMFS") == 0)
        m->offset = 0;
    return matches == 4;
}

int vmdk_desc_parse(const char *text, size_t len, struct vmdk_desc *d,
                    char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    size_t n = text_len(text, len);
    const char *end = text + n;
    d->has_create_type = parse_create_type(text, n, d);

    struct line_match *m = malloc(sizeof *m);
    if (!m) {
        seterr(err, errlen, "out of memory");
        return IMGFMT_E_NOMEM;
    }
    uint32_t cap = 0;
    unsigned line = 1;
    int ret = 0;
    for (const char *p = text; p < end && ret == 0; p = next_line(p, end), line++) {
        int matches = scan_extent_line(p, end, m);
        if (matches < 4 || strcmp(m->access, "RW") != 0) {
            note_skipped(d, m, matches, p, end);
            continue;
        }
        if (!extent_fields_ok(m, matches)) {
            char l[128];
            copy_line(p, end, l, sizeof l);
            seterr(err, errlen, "Invalid extent line %u: %s", line, l);
            ret = IMGFMT_E_CORRUPT;
            break;
        }
        int t = -1;
        for (size_t i = 0; i < sizeof ext_types / sizeof ext_types[0]; i++)
            if (strcmp(m->type, ext_types[i].name) == 0)
                t = (int)i;
        if (m->sectors <= 0 || t < 0) {
            if (d->n_ignored++ == 0)
                copy_line(p, end, d->ignored_first, sizeof d->ignored_first);
            continue;
        }
        ret = add_extent(d, &cap, m, t, line, p, end, err, errlen);
    }
    free(m);
    if (ret < 0)
        vmdk_desc_free(d);
    return ret;
}

void vmdk_desc_free(struct vmdk_desc *d)
{
    if (!d)
        return;
    for (uint32_t i = 0; i < d->n_ext; i++) {
        free(d->ext[i].fname);
        free(d->ext[i].line_text);
    }
    free(d->ext);
    d->ext = NULL;
    d->n_ext = 0;
}

static const char *find(const char *t, size_t n, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(t + i, key, k) == 0)
            return t + i;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool vmdk_desc_cid(const char *text, size_t len, bool parent, uint32_t *cid)
{
    /* qemu: desc[DESC_SIZE - 1] = '\0' on a DESC_SIZE buffer. */
    if (len > VMDK_DESC_SIZE - 1)
        len = VMDK_DESC_SIZE - 1;
    size_t n = text_len(text, len);
    const char *key = parent ? "parentCID" : "CID";
    const char *p = find(text, n, key);
    if (!p)
        return false;
    p += strlen(key) + 1;                /* qemu skips sizeof(key) chars */
    const char *end = text + n;
    if (p > end)
        return false;
    while (p < end && is_ws(*p))
        p++;
    bool neg = false;
    if (p < end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    if (p >= end || hexval(*p) < 0)
        return false;
    if (p + 1 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        p += 2;                          /* "0x" prefix; "0x" alone reads 0 */
    uint64_t v = 0;
    bool over = false;
    while (p < end && hexval(*p) >= 0) {
        if (v >> 60)
            over = true;
        v = v << 4 | (uint64_t)hexval(*p);
        p++;
    }
    if (over)
        v = UINT64_MAX;                  /* strtoul saturates */
    if (neg)
        v = (uint64_t)0 - v;
    *cid = (uint32_t)v;                  /* stored through an unsigned int */
    return true;
}

int vmdk_desc_parent_hint(const char *text, size_t len, char **out)
{
    *out = NULL;
    if (len > VMDK_DESC_SIZE)
        len = VMDK_DESC_SIZE;
    size_t n = text_len(text, len);
    const char *key = "parentFileNameHint";
    const char *p = find(text, n, key);
    if (!p)
        return 0;
    p += strlen(key) + 2;                /* qemu skips `="` blindly */
    const char *end = text + n;
    if (p > end)
        return IMGFMT_E_CORRUPT;
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (!q || q - p > 4095)
        return IMGFMT_E_CORRUPT;
    char *s = malloc((size_t)(q - p) + 1);
    if (!s)
        return IMGFMT_E_NOMEM;
    memcpy(s, p, (size_t)(q - p));
    s[q - p] = '\0';
    *out = s;
    return 1;
}

void vmdk4_header_decode(const uint8_t *b, struct vmdk4_header *h)
{
    h->version = ifmt_le32(b + 4);
    h->flags = ifmt_le32(b + 8);
    h->capacity = ifmt_le64(b + 12);
    h->granularity = ifmt_le64(b + 20);
    h->desc_offset = ifmt_le64(b + 28);
    h->desc_size = ifmt_le64(b + 36);
    h->num_gtes_per_gt = ifmt_le32(b + 44);
    h->rgd_offset = ifmt_le64(b + 48);
    h->gd_offset = ifmt_le64(b + 56);
    h->grain_offset = ifmt_le64(b + 64);
    h->unclean = b[72];
    h->compress_algorithm = ifmt_le16(b + 77);
}

void vmdk3_header_decode(const uint8_t *b, struct vmdk3_header *h)
{
    h->version = ifmt_le32(b + 4);
    h->flags = ifmt_le32(b + 8);
    h->disk_sectors = ifmt_le32(b + 12);
    h->granularity = ifmt_le32(b + 16);
    h->l1dir_offset = ifmt_le32(b + 20);
    h->l1dir_size = ifmt_le32(b + 24);
    h->file_sectors = ifmt_le32(b + 28);
}
