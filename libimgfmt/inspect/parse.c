/*
 * parse.c -- guest configuration text, parsed from buffers.  Every loop is
 * bounded by the buffer; every copy by its destination.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inspect/parse.h"

/* The next line of text at *pos (without its newline). */
static bool next_line(const char *text, size_t len, size_t *pos, const char **line,
                      size_t *ll)
{
    if (*pos >= len)
        return false;
    const char *s = text + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    *ll = nl ? (size_t)(nl - s) : len - *pos;
    *line = s;
    *pos += *ll + 1;
    if (*ll && s[*ll - 1] == '\r')
        (*ll)--;
    return true;
}

static void copy_span(char *out, size_t cap, const char *s, size_t n)
{
    if (!cap)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static void copy_str(char *out, size_t cap, const char *s)
{
    copy_span(out, cap, s, strlen(s));
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Shell-style unquoting of [p, end) into out. */
static void unquote(const char *p, const char *end, char *out, size_t cap)
{
    size_t o = 0;
    char q = 0;
    while (p < end && o + 1 < cap) {
        char c = *p++;
        if (q == 0 && (c == '"' || c == '\'')) { q = c; continue; }
        if (q && c == q) { q = 0; continue; }
        if (q != '\'' && c == '\\' && p < end) c = *p++;
        else if (q == 0 && (c == ' ' || c == '\t' || c == '#')) break;
        out[o++] = c;
    }
    out[o] = '\0';
}

bool ifmt_kv_get(const char *text, size_t len, const char *key, char *out, size_t cap)
{
    size_t pos = 0, ll, kl = strlen(key);
    const char *line;
    while (next_line(text, len, &pos, &line, &ll)) {
        const char *p = skip_space(line, line + ll), *end = line + ll;
        if ((size_t)(end - p) > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            unquote(p + kl + 1, end, out, cap);
            return true;
        }
    }
    return false;
}

char ifmt_kconfig_get(const char *text, size_t len, const char *symbol)
{
    size_t pos = 0, ll, sl = strlen(symbol);
    const char *line;
    while (next_line(text, len, &pos, &line, &ll)) {
        if (ll > sl + 1 && strncmp(line, symbol, sl) == 0 && line[sl] == '=')
            return line[sl + 1] == 'y' ? 'y' : line[sl + 1] == 'm' ? 'm' : 'n';
    }
    return 'n';
}

char *ifmt_module_name(const char *path, char *out, size_t cap)
{
    static const char *const suffixes[] = { ".ko.zst", ".ko.xz", ".ko.gz", ".ko", ".o" };
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (n > sl && strcmp(base + n - sl, suffixes[i]) == 0) {
            n -= sl;
            break;
        }
    }
    copy_span(out, cap, base, n);
    for (char *p = out; *p; p++)
        if (*p == '-')
            *p = '_';
    return out;
}

bool ifmt_modules_dep_lookup(const char *text, size_t len, const char *name, char *deps,
                             size_t cap)
{
    size_t pos = 0, ll;
    const char *line;
    char path[512], mod[256];
    while (next_line(text, len, &pos, &line, &ll)) {
        const char *colon = memchr(line, ':', ll);
        if (!colon)
            continue;
        copy_span(path, sizeof path, line, (size_t)(colon - line));
        if (strcmp(ifmt_module_name(path, mod, sizeof mod), name) != 0)
            continue;
        const char *p = skip_space(colon + 1, line + ll);
        copy_span(deps, cap, p, (size_t)(line + ll - p));
        return true;
    }
    return false;
}

bool ifmt_modules_builtin_has(const char *text, size_t len, const char *name)
{
    size_t pos = 0, ll;
    const char *line;
    char path[512], mod[256];
    while (next_line(text, len, &pos, &line, &ll)) {
        copy_span(path, sizeof path, line, ll);
        if (strcmp(ifmt_module_name(path, mod, sizeof mod), name) == 0)
            return true;
    }
    return false;
}

/* ---- GRUB 2 ---- */

/* Split a grub.cfg command line into words (quotes removed).  Returns the
 * number of words (at most max). */
static int grub_words(const char *p, const char *end, char words[][512], int max)
{
    int n = 0;
    while (n < max) {
        p = skip_space(p, end);
        if (p >= end || *p == '#' || *p == '{')
            break;
        size_t o = 0;
        char q = 0;
        while (p < end && (q || (*p != ' ' && *p != '\t' && *p != '{'))) {
            char c = *p++;
            if (!q && (c == '"' || c == '\'')) { q = c; continue; }
            if (q && c == q) { q = 0; continue; }
            if (q != '\'' && c == '\\' && p < end) c = *p++;
            if (o + 1 < sizeof words[0])
                words[n][o++] = c;
        }
        words[n++][o] = '\0';
    }
    return n;
}

struct grub_state {
    struct ifmt_grub_menu *m;
    int depth;                 /* braces open */
    int entry_depth;           /* depth of the open menuentry, or -1 */
    int submenu_depth;         /* depth of the open submenu, or -1 */
    int top, sub;              /* counters */
    struct ifmt_grub_entry *cur;
};

static void grub_open_entry(struct grub_state *s, char words[][512], int n)
{
    struct ifmt_grub_menu *m = s->m;
    int in_sub = s->submenu_depth >= 0;
    if (m->nb >= IFMT_GRUB_MAX_ENTRIES) {
        s->cur = NULL;
        return;
    }
    struct ifmt_grub_entry *e = &m->entries[m->nb++];
    memset(e, 0, sizeof *e);
    copy_str(e->title, sizeof e->title, n > 1 ? words[1] : "");
    for (int i = 2; i + 1 < n; i++)
        if (strcmp(words[i], "--id") == 0 || strcmp(words[i], "$menuentry_id_option") == 0)
            copy_str(e->id, sizeof e->id, words[i + 1]);
    e->top = in_sub ? s->top - 1 : s->top++;
    e->sub = in_sub ? s->sub++ : -1;
    s->cur = e;
}

static void grub_command(struct grub_state *s, char words[][512], int n, bool opens)
{
    if (n == 0)
        return;
    const char *cmd = words[0];
    if (strcmp(cmd, "menuentry") == 0 && opens) {
        grub_open_entry(s, words, n);
        s->entry_depth = s->depth + 1;
    } else if (strcmp(cmd, "submenu") == 0 && opens) {
        s->submenu_depth = s->depth + 1;
        s->sub = 0;
        s->top++;
    } else if (strcmp(cmd, "set") == 0 && n > 1 && strncmp(words[1], "default=", 8) == 0 &&
               s->entry_depth < 0) {
        copy_str(s->m->default_value, sizeof s->m->default_value, words[1] + 8);
    } else if (strcmp(cmd, "blscfg") == 0) {
        s->m->blscfg = true;
    } else if (s->cur && s->entry_depth >= 0 && n > 1 &&
               (strcmp(cmd, "linux") == 0 || strcmp(cmd, "linux16") == 0 ||
                strcmp(cmd, "linuxefi") == 0)) {
        copy_str(s->cur->linux_path, sizeof s->cur->linux_path, words[1]);
        size_t o = 0;
        for (int i = 2; i < n && o < sizeof s->cur->options; i++)
            o += (size_t)snprintf(s->cur->options + o, sizeof s->cur->options - o, "%s%s",
                                  i > 2 ? " " : "", words[i]);
    } else if (s->cur && s->entry_depth >= 0 && n > 1 && !s->cur->initrd[0] &&
               (strcmp(cmd, "initrd") == 0 || strcmp(cmd, "initrd16") == 0 ||
                strcmp(cmd, "initrdefi") == 0)) {
        copy_str(s->cur->initrd, sizeof s->cur->initrd, words[n - 1]);
    }
}

static void grub_close_braces(struct grub_state *s, const char *p, const char *end)
{
    for (; p < end; p++) {
        if (*p != '}')
            continue;
        if (s->depth > 0)
            s->depth--;
        if (s->entry_depth > s->depth) {
            s->entry_depth = -1;
            s->cur = NULL;
        }
        if (s->submenu_depth > s->depth)
            s->submenu_depth = -1;
    }
}

void ifmt_grub_parse(const char *text, size_t len, struct ifmt_grub_menu *m)
{
    memset(m, 0, sizeof *m);
    struct grub_state s = { m, 0, -1, -1, 0, 0, NULL };
    size_t pos = 0, ll;
    const char *line;
    char words[16][512];
    char joined[4096];
    while (next_line(text, len, &pos, &line, &ll)) {
        size_t jl = 0;
        /* "\" at the end of a line continues it. */
        for (;;) {
            bool cont = ll && line[ll - 1] == '\\';
            size_t take = cont ? ll - 1 : ll;
            if (jl + take < sizeof joined) {
                memcpy(joined + jl, line, take);
                jl += take;
            }
            if (!cont || !next_line(text, len, &pos, &line, &ll))
                break;
        }
        const char *p = skip_space(joined, joined + jl), *end = joined + jl;
        int n = grub_words(p, end, words, 16);
        bool opens = memchr(p, '{', (size_t)(end - p)) != NULL && (n == 0 || words[0][0] != '#');
        grub_command(&s, words, n, opens);
        if (opens && n > 0 && words[0][0] != '#')
            s.depth++;
        if (n == 0 || words[0][0] != '#')
            grub_close_braces(&s, p, end);
    }
}

static int grub_find(const struct ifmt_grub_menu *m, const char *v)
{
    char *endp;
    long top = strtol(v, &endp, 10);
    if (endp != v && (*endp == '\0' || *endp == '>')) {
        long sub = *endp == '>' ? strtol(endp + 1, NULL, 10) : -1;
        for (unsigned i = 0; i < m->nb; i++)
            if (m->entries[i].top == top && m->entries[i].sub == sub)
                return (int)i;
        return -1;
    }
    const char *last = strrchr(v, '>');   /* "Advanced options>Debian, with Linux X" */
    for (unsigned i = 0; i < m->nb; i++)
        if (strcmp(m->entries[i].title, v) == 0 || (m->entries[i].id[0] &&
            strcmp(m->entries[i].id, v) == 0) ||
            (last && (strcmp(m->entries[i].title, last + 1) == 0 ||
                      strcmp(m->entries[i].id, last + 1) == 0)))
            return (int)i;
    return -1;
}

int ifmt_grub_default(const struct ifmt_grub_menu *m, const char *saved_entry, char *rule,
                      size_t rule_cap)
{
    const char *v = m->default_value;
    if (strcmp(v, "saved") == 0 || strcmp(v, "${saved_entry}") == 0 ||
        strcmp(v, "$saved_entry") == 0) {
        if (saved_entry && saved_entry[0]) {
            snprintf(rule, rule_cap, "grub.cfg: set default=%s, grubenv: saved_entry=%s", v,
                     saved_entry);
            return grub_find(m, saved_entry);
        }
        snprintf(rule, rule_cap, "grub.cfg: set default=%s, no saved_entry: first entry", v);
        return m->nb ? 0 : -1;
    }
    if (!v[0]) {
        snprintf(rule, rule_cap, "grub.cfg: no default: first entry");
        return m->nb ? 0 : -1;
    }
    snprintf(rule, rule_cap, "grub.cfg: set default=%s", v);
    return grub_find(m, v);
}

void ifmt_bls_parse(const char *text, size_t len, struct ifmt_bls_entry *e)
{
    memset(e, 0, sizeof *e);
    size_t pos = 0, ll;
    const char *line;
    static const struct { const char *key; size_t off, cap; } keys[] = {
        { "title", offsetof(struct ifmt_bls_entry, title), 256 },
        { "version", offsetof(struct ifmt_bls_entry, version), 128 },
        { "linux", offsetof(struct ifmt_bls_entry, linux_path), 512 },
        { "initrd", offsetof(struct ifmt_bls_entry, initrd), 512 },
        { "options", offsetof(struct ifmt_bls_entry, options), 1024 },
    };
    while (next_line(text, len, &pos, &line, &ll)) {
        const char *p = skip_space(line, line + ll), *end = line + ll;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t kl = strlen(keys[i].key);
            if ((size_t)(end - p) > kl && strncmp(p, keys[i].key, kl) == 0 &&
                (p[kl] == ' ' || p[kl] == '\t')) {
                char *dst = (char *)e + keys[i].off;
                if (dst[0] && strcmp(keys[i].key, "initrd") == 0)
                    break;   /* keep the first initrd */
                const char *v = skip_space(p + kl, end);
                copy_span(dst, keys[i].cap, v, (size_t)(end - v));
                break;
            }
        }
    }
}

int ifmt_version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        if (*a == '~' || *b == '~') {
            if (*a != '~') return 1;
            if (*b != '~') return -1;
            a++, b++;
            continue;
        }
        while (*a && !isalnum((unsigned char)*a) && *a != '~') a++;
        while (*b && !isalnum((unsigned char)*b) && *b != '~') b++;
        if (!*a || !*b)
            return *a ? 1 : *b ? -1 : 0;
        bool num = isdigit((unsigned char)*a);
        if (num != (bool)isdigit((unsigned char)*b))
            return num ? 1 : -1;
        const char *sa = a, *sb = b;
        while (*a && (num ? isdigit((unsigned char)*a) : isalpha((unsigned char)*a))) a++;
        while (*b && (num ? isdigit((unsigned char)*b) : isalpha((unsigned char)*b))) b++;
        if (num) {
            while (sa < a - 1 && *sa == '0') sa++;
            while (sb < b - 1 && *sb == '0') sb++;
            if (a - sa != b - sb)
                return a - sa > b - sb ? 1 : -1;
        }
        size_t la = (size_t)(a - sa), lb = (size_t)(b - sb);
        int c = strncmp(sa, sb, la < lb ? la : lb);
        if (c)
            return c;
        if (la != lb)
            return la > lb ? 1 : -1;
    }
    return 0;
}

enum ifmt_dpkg_state ifmt_dpkg_lookup(const char *text, size_t len, const char *package,
                                      char *version, size_t cap)
{
    size_t pos = 0, ll, pl = strlen(package);
    const char *line;
    bool in_pkg = false;
    enum ifmt_dpkg_state st = IFMT_DPKG_ABSENT;
    char status[128] = "";
    if (cap)
        version[0] = '\0';
    while (next_line(text, len, &pos, &line, &ll)) {
        if (ll == 0) {                      /* paragraph end */
            if (in_pkg)
                break;
            continue;
        }
        if (ll > 9 && strncmp(line, "Package: ", 9) == 0) {
            const char *v = skip_space(line + 9, line + ll);
            in_pkg = (size_t)(line + ll - v) == pl && strncmp(v, package, pl) == 0;
            if (in_pkg)
                st = IFMT_DPKG_OTHER;
        } else if (in_pkg && ll > 8 && strncmp(line, "Status: ", 8) == 0) {
            copy_span(status, sizeof status, line + 8, ll - 8);
        } else if (in_pkg && ll > 9 && strncmp(line, "Version: ", 9) == 0) {
            copy_span(version, cap, line + 9, ll - 9);
        }
    }
    if (st == IFMT_DPKG_ABSENT)
        return st;
    const char *state = strrchr(status, ' ');
    state = state ? state + 1 : status;
    if (strcmp(state, "installed") == 0)
        return strncmp(status, "install ", 8) == 0 || strncmp(status, "hold ", 5) == 0
                   ? IFMT_DPKG_INSTALLED : IFMT_DPKG_OTHER;
    if (strcmp(state, "config-files") == 0 || strcmp(state, "not-installed") == 0)
        return IFMT_DPKG_REMOVED;
    return IFMT_DPKG_OTHER;
}

/* Append a YAML scalar (quotes removed) to out as ", X". */
static void append_item(char *out, size_t cap, const char *s, const char *end)
{
    s = skip_space(s, end);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == ','))
        end--;
    if (end - s >= 2 && (*s == '"' || *s == '\'') && end[-1] == *s)
        s++, end--;
    if (end <= s)
        return;
    size_t o = strlen(out);
    snprintf(out + o, cap - o, "%s%.*s", o ? ", " : "", (int)(end - s), s);
}

bool ifmt_cloudcfg_datasources(const char *text, size_t len, char *out, size_t cap)
{
    size_t pos = 0, ll;
    const char *line;
    bool found = false, block = false;
    out[0] = '\0';
    while (next_line(text, len, &pos, &line, &ll)) {
        const char *end = line + ll, *hash = memchr(line, '#', ll);
        if (hash)
            end = hash;
        const char *p = skip_space(line, end);
        if (block) {
            if (p < end && *p == '-') {
                append_item(out, cap, p + 1, end);
                continue;
            }
            if (p == end)
                continue;
            block = false;
        }
        if (p != line || (size_t)(end - p) < 16 || strncmp(p, "datasource_list:", 16) != 0)
            continue;
        found = true;
        out[0] = '\0';
        p = skip_space(p + 16, end);
        const char *open = memchr(p, '[', (size_t)(end - p));
        if (!open) {
            block = true;
            continue;
        }
        const char *close = memchr(open, ']', (size_t)(end - open));
        const char *q = open + 1, *stop = close ? close : end;
        while (q < stop) {
            const char *comma = memchr(q, ',', (size_t)(stop - q));
            const char *e = comma ? comma : stop;
            append_item(out, cap, q, e);
            q = e + 1;
        }
    }
    return found;
}
