/*
 * lvm-meta.c -- the LVM2 text metadata format, parsed into a tree.
 *
 * The text is a list of members: `key = value` or `name { members }`.
 * Values are strings ("..." with \" and \\ escapes), integers, floats, or
 * arrays of strings and numbers ("[ "pv0", 0, "pv1", 0 ]").  `#` starts a
 * comment to the end of the line.  A NUL byte ends the text (the stored
 * copy is NUL-terminated).
 *
 * Hostile text is expected: nesting depth is capped, numbers that do not
 * fit 64 bits are errors, every node and string comes out of one arena
 * whose size is capped, and the scanner never reads past len.
 */
#define IMGFMT_BUILDING 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "disk/lvm.h"

#define ARENA_BLOCK (64u << 10)

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

struct lvm_meta {
    struct arena_block *blocks;
    uint64_t bytes, cap;
    struct lvm_node root;
};

struct parser {
    const char *p, *end;
    uint32_t line;
    struct lvm_meta *m;
    imgfmt_error *err;
};

uint32_t ifmt_lvm_crc(uint32_t crc, const uint8_t *buf, size_t len)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {   /* idempotent: racing threads write equal values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    while (len--)
        crc = table[(crc ^ *buf++) & 0xff] ^ (crc >> 8);
    return crc;
}

static void *arena_alloc(struct parser *ps, size_t n)
{
    struct lvm_meta *m = ps->m;
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    struct arena_block *b = m->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        uint64_t total = m->bytes + sizeof *b + cap;
        if (total > m->cap) {
            ifmt_seterr(ps->err, IMGFMT_E_LIMIT, 0,
                        "lvm: metadata needs more than %llu bytes of memory (line %u)",
                        (unsigned long long)m->cap, ps->line);
            return NULL;
        }
        b = malloc(sizeof *b + cap);
        if (!b) {
            ifmt_seterr(ps->err, IMGFMT_E_NOMEM, 0, "lvm: out of memory for metadata");
            return NULL;
        }
        b->next = m->blocks;
        b->used = 0;
        b->cap = cap;
        m->blocks = b;
        m->bytes = total;
    }
    void *r = (char *)b->data + b->used;
    b->used += n;
    return r;
}

static int syntax(struct parser *ps, const char *what)
{
    return ifmt_seterr(ps->err, IMGFMT_E_CORRUPT, 0, "lvm: metadata line %u: %s",
                       ps->line, what);
}

/* Skip blanks, newlines and comments; true if a byte is left (not NUL). */
static bool skip_space(struct parser *ps)
{
    while (ps->p < ps->end && *ps->p) {
        char c = *ps->p;
        if (c == '\n') {
            ps->line++;
            ps->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p && *ps->p != '\n')
                ps->p++;
        } else {
            return true;
        }
    }
    return false;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '+' || c == '-';
}

static const char *copy_text(struct parser *ps, const char *s, size_t n)
{
    char *r = arena_alloc(ps, n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

static const char *parse_name(struct parser *ps)
{
    const char *s = ps->p;
    while (ps->p < ps->end && is_name_char(*ps->p))
        ps->p++;
    if (ps->p == s) {
        syntax(ps, "name expected");
        return NULL;
    }
    return copy_text(ps, s, (size_t)(ps->p - s));
}

/* "..." at ps->p: the text with \x escapes undone. */
static int parse_string(struct parser *ps, struct lvm_node *n)
{
    const char *s = ++ps->p;
    size_t len = 0;
    uint32_t start_line = ps->line;
    for (const char *q = s;; q++) {          /* measure first */
        if (q >= ps->end || *q == '\0') {
            ps->line = start_line;
            return syntax(ps, "unterminated string");
        }
        if (*q == '"')
            break;
        if (*q == '\\' && q + 1 < ps->end && q[1])
            q++;
        len++;
    }
    char *out = arena_alloc(ps, len + 1);
    if (!out)
        return ps->err->code;
    size_t o = 0;
    while (*ps->p != '"') {
        if (*ps->p == '\\' && ps->p + 1 < ps->end && ps->p[1])
            ps->p++;
        if (*ps->p == '\n')
            ps->line++;
        out[o++] = *ps->p++;
    }
    out[o] = '\0';
    ps->p++;
    n->kind = LVM_STRING;
    n->str = out;
    return IMGFMT_OK;
}

static int parse_number(struct parser *ps, struct lvm_node *n)
{
    char buf[64];
    size_t len = 0;
    while (ps->p < ps->end && (is_name_char(*ps->p)) && len < sizeof buf - 1)
        buf[len++] = *ps->p++;
    buf[len] = '\0';
    if (len == sizeof buf - 1 || len == 0)
        return syntax(ps, len ? "number too long" : "value expected");
    char *e;
    errno = 0;
    long long v = strtoll(buf, &e, 10);
    if (*e == '.' || *e == 'e' || *e == 'E') {
        (void)strtod(buf, &e);
        if (*e)
            return syntax(ps, "malformed number");
        n->kind = LVM_FLOAT;
        return IMGFMT_OK;
    }
    if (*e || e == buf)
        return syntax(ps, "malformed number");
    if (errno == ERANGE)
        return syntax(ps, "number does not fit 64 bits");
    n->kind = LVM_NUMBER;
    n->num = v;
    return IMGFMT_OK;
}

static int parse_scalar(struct parser *ps, struct lvm_node *n)
{
    if (!skip_space(ps))
        return syntax(ps, "value expected");
    n->line = ps->line;
    if (*ps->p == '"')
        return parse_string(ps, n);
    return parse_number(ps, n);
}

static void append(struct lvm_node *parent, struct lvm_node **tail, struct lvm_node *n)
{
    if (*tail)
        (*tail)->next = n;
    else
        parent->first = n;
    *tail = n;
    parent->count++;
}

static int parse_array(struct parser *ps, struct lvm_node *arr)
{
    struct lvm_node *tail = NULL;
    arr->kind = LVM_ARRAY;
    ps->p++;                                   /* '[' */
    for (;;) {
        if (!skip_space(ps))
            return syntax(ps, "unterminated array");
        if (*ps->p == ']') {
            ps->p++;
            return IMGFMT_OK;
        }
        if (arr->count && *ps->p == ',') {
            ps->p++;
            if (!skip_space(ps))
                return syntax(ps, "unterminated array");
        } else if (arr->count) {
            return syntax(ps, "',' or ']' expected in array");
        }
        struct lvm_node *e = arena_alloc(ps, sizeof *e);
        if (!e)
            return ps->err->code;
        memset(e, 0, sizeof *e);
        int r = parse_scalar(ps, e);
        if (r < 0)
            return r;
        append(arr, &tail, e);
    }
}

static int parse_members(struct parser *ps, struct lvm_node *sec, unsigned depth);

static int parse_member(struct parser *ps, struct lvm_node *n, unsigned depth)
{
    n->line = ps->line;
    if (!(n->key = parse_name(ps)))
        return ps->err->code;
    if (!skip_space(ps))
        return syntax(ps, "'=' or '{' expected");
    if (*ps->p == '{') {
        if (depth >= LVM_META_MAX_DEPTH)
            return ifmt_seterr(ps->err, IMGFMT_E_LIMIT, 0,
                               "lvm: metadata line %u: sections nested deeper than %u",
                               ps->line, LVM_META_MAX_DEPTH);
        ps->p++;
        n->kind = LVM_SECTION;
        return parse_members(ps, n, depth + 1);
    }
    if (*ps->p != '=')
        return syntax(ps, "'=' or '{' expected");
    ps->p++;
    if (!skip_space(ps))
        return syntax(ps, "value expected");
    if (*ps->p == '[')
        return parse_array(ps, n);
    return parse_scalar(ps, n);
}

/* Members until '}' (depth > 0) or the end of the text (depth 0). */
static int parse_members(struct parser *ps, struct lvm_node *sec, unsigned depth)
{
    struct lvm_node *tail = NULL;
    uint32_t open_line = ps->line;
    for (;;) {
        if (!skip_space(ps)) {
            if (depth == 0)
                return IMGFMT_OK;
            ps->line = open_line;
            return syntax(ps, "section not closed");
        }
        if (*ps->p == '}') {
            if (depth == 0)
                return syntax(ps, "'}' without a section");
            ps->p++;
            return IMGFMT_OK;
        }
        struct lvm_node *n = arena_alloc(ps, sizeof *n);
        if (!n)
            return ps->err->code;
        memset(n, 0, sizeof *n);
        int r = parse_member(ps, n, depth);
        if (r < 0)
            return r;
        append(sec, &tail, n);
    }
}

int ifmt_lvm_meta_parse(const char *text, size_t len, uint64_t mem_cap,
                        struct lvm_meta **out, imgfmt_error *err)
{
    imgfmt_error local;
    if (!err)
        err = &local;
    *out = NULL;
    struct lvm_meta *m = calloc(1, sizeof *m);
    if (!m)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "lvm: out of memory for metadata");
    m->cap = mem_cap;
    m->bytes = sizeof *m;
    m->root.kind = LVM_SECTION;
    m->root.line = 1;
    struct parser ps = {text, text + len, 1, m, err};
    int r = m->bytes > mem_cap
                ? ifmt_seterr(err, IMGFMT_E_LIMIT, 0, "lvm: metadata memory cap too small")
                : parse_members(&ps, &m->root, 0);
    if (r < 0) {
        ifmt_lvm_meta_free(m);
        return r;
    }
    *out = m;
    return IMGFMT_OK;
}

void ifmt_lvm_meta_free(struct lvm_meta *m)
{
    if (!m)
        return;
    while (m->blocks) {
        struct arena_block *b = m->blocks;
        m->blocks = b->next;
        free(b);
    }
    free(m);
}

const struct lvm_node *ifmt_lvm_meta_root(const struct lvm_meta *m)
{
    return &m->root;
}

uint64_t ifmt_lvm_meta_bytes(const struct lvm_meta *m)
{
    return m->bytes;
}

const struct lvm_node *ifmt_lvm_get(const struct lvm_node *sec, const char *key)
{
    if (!sec || sec->kind != LVM_SECTION)
        return NULL;
    for (const struct lvm_node *n = sec->first; n; n = n->next)
        if (strcmp(n->key, key) == 0)
            return n;
    return NULL;
}

bool ifmt_lvm_get_num(const struct lvm_node *sec, const char *key, int64_t *out)
{
    const struct lvm_node *n = ifmt_lvm_get(sec, key);
    if (!n || n->kind != LVM_NUMBER)
        return false;
    *out = n->num;
    return true;
}

const char *ifmt_lvm_get_str(const struct lvm_node *sec, const char *key)
{
    const struct lvm_node *n = ifmt_lvm_get(sec, key);
    return n && n->kind == LVM_STRING ? n->str : NULL;
}

const struct lvm_node *ifmt_lvm_get_section(const struct lvm_node *sec, const char *key)
{
    const struct lvm_node *n = ifmt_lvm_get(sec, key);
    return n && n->kind == LVM_SECTION ? n : NULL;
}

bool ifmt_lvm_array_has(const struct lvm_node *sec, const char *key, const char *s)
{
    const struct lvm_node *n = ifmt_lvm_get(sec, key);
    if (!n || n->kind != LVM_ARRAY)
        return false;
    for (const struct lvm_node *e = n->first; e; e = e->next)
        if (e->kind == LVM_STRING && strcmp(e->str, s) == 0)
            return true;
    return false;
}
