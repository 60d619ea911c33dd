/*
 * imgfmt-reg -- print a registry key of a Windows guest, and every key
 * below it, in the .reg export format of regedit, without Windows:
 *
 *   imgfmt-reg [--fs=SPEC] [-f FMT] IMAGE 'HKLM\SYSTEM\ControlSet001\Services\viostor'
 *   imgfmt-reg --hive=FILE 'HKLM\SYSTEM\Select'      (a local hive file)
 *   imgfmt-reg --hive=FILE '\Select'                 (no HKLM prefix printed)
 *
 * HKLM (HKEY_LOCAL_MACHINE) \ SYSTEM, SOFTWARE, SAM, SECURITY, DEFAULT are
 * the files Windows/System32/config/<NAME> of the guest, found
 * case-insensitively.  In SYSTEM, CurrentControlSet is the set that
 * Select\Current names (the hive file has no CurrentControlSet key); the
 * output names the set read ("ControlSet001").
 *
 * Output: "Windows Registry Editor Version 5.00", then per key a "[path]"
 * line, its values, a blank line; subkeys follow in stored order.  Values:
 * "name"="text" for a REG_SZ whose data is exactly UTF-16 text ending in
 * one NUL (no other NUL or control character), dword:xxxxxxxx for a
 * 4-byte REG_DWORD, hex:.. (REG_BINARY) or hex(N):.. for everything else,
 * bytes wrapped as regedit does (lines of at most 80 characters ending in
 * ",\", continued after two spaces).  @ is the default value.  UTF-8 text,
 * LF line ends.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "fsopen.h"

#define REG_WRAP_COLUMN 77   /* after "xx," at this column or beyond: wrap */

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [--fs=SPEC] [-f FMT] IMAGE KEY\n"
               "       %s --hive=FILE KEY\n"
               "  KEY: HKLM\\SYSTEM\\..., HKLM\\SOFTWARE\\..., HKLM\\SAM, HKLM\\SECURITY;\n"
               "  with --hive also \\path (printed without a prefix).\n",
            prog, prog);
}

struct out {
    FILE *f;
    int col;
};

static void put(struct out *o, const char *s)
{
    fputs(s, o->f);
    o->col += (int)strlen(s);
}

/* The key or value name, " and \ escaped. */
static void put_quoted(struct out *o, const char *s)
{
    put(o, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            put(o, "\\");
        char c[2] = {*s, 0};
        put(o, c);
    }
    put(o, "\"");
}

static void put_hex(struct out *o, const uint8_t *d, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char b[4];
        snprintf(b, sizeof b, "%02x", d[i]);
        put(o, b);
        if (i + 1 == len)
            break;
        put(o, ",");
        if (o->col >= REG_WRAP_COLUMN) {
            put(o, "\\\n  ");
            o->col = 2;
        }
    }
}

/* True if d is UTF-16LE text (no NUL, no control character, surrogates
 * paired) followed by exactly one NUL: "name"="text" then says it all. */
static int clean_text(const uint8_t *d, size_t len)
{
    if (len < 2 || len % 2 || d[len - 2] || d[len - 1])
        return 0;
    size_t n = len / 2 - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned c = d[2 * i] | (unsigned)d[2 * i + 1] << 8;
        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c >= 0xD800 && c < 0xDC00) {
            unsigned lo = i + 1 < n ? (d[2 * i + 2] | (unsigned)d[2 * i + 3] << 8) : 0;
            if (lo < 0xDC00 || lo >= 0xE000)
                return 0;
            i++;
        } else if (c >= 0xDC00 && c < 0xE000) {
            return 0;
        }
    }
    return 1;
}

static int put_value(struct out *o, imgfmt_hive *h, imgfmt_hive_value v)
{
    imgfmt_hive_value_info vi;
    const uint8_t *d;
    size_t len;
    if (imgfmt_hive_value_stat(h, v, &vi) < 0 || imgfmt_hive_value_data(h, v, &d, &len) < 0)
        return -1;
    o->col = 0;
    if (vi.name[0])
        put_quoted(o, vi.name);
    else
        put(o, "@");
    put(o, "=");
    if (vi.type == IMGFMT_REG_SZ && clean_text(d, len)) {
        const char *s;
        if (imgfmt_hive_value_string(h, v, &s) < 0)
            return -1;
        put_quoted(o, s);
    } else if (vi.type == IMGFMT_REG_DWORD && len == 4) {
        fprintf(o->f, "dword:%08x", d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24);
    } else {
        char t[24];
        if (vi.type == IMGFMT_REG_BINARY)
            snprintf(t, sizeof t, "hex:");
        else
            snprintf(t, sizeof t, "hex(%x):", vi.type);
        put(o, t);
        put_hex(o, d, len);
    }
    put(o, "\n");
    return 0;
}

/* Key k (path printed as path) and everything below it. */
static int export_key(struct out *o, imgfmt_hive *h, imgfmt_hive_key k, const char *path,
                      unsigned depth)
{
    if (depth > IMGFMT_HIVE_MAX_DEPTH) {
        tool_error("%s: keys nested deeper than %u", path, IMGFMT_HIVE_MAX_DEPTH);
        return -1;
    }
    fprintf(o->f, "[%s]\n", path);
    imgfmt_hive_iter *it;
    uint32_t x;
    int r = imgfmt_hive_values(h, k, &it);
    while (r == 0 && (r = imgfmt_hive_next(it, &x)) == 1)
        r = put_value(o, h, x);
    imgfmt_hive_iter_free(it);
    fprintf(o->f, "\n");
    if (r < 0 || (r = imgfmt_hive_subkeys(h, k, &it)) < 0) {
        tool_error("%s: %s", path, imgfmt_hive_last_error(h)->msg);
        return -1;
    }
    while (r == 0 && (r = imgfmt_hive_next(it, &x)) == 1) {
        imgfmt_hive_key_info ki;
        if ((r = imgfmt_hive_key_stat(h, x, &ki)) < 0)
            break;
        size_t n = strlen(path) + strlen(ki.name) + 2;
        char *sub = malloc(n);
        if (!sub) {
            r = -1;
            break;
        }
        snprintf(sub, n, "%s%s%s", path, path[strlen(path) - 1] == '\\' ? "" : "\\", ki.name);
        r = export_key(o, h, x, sub, depth + 1);
        free(sub);
    }
    imgfmt_hive_iter_free(it);
    if (r < 0 && imgfmt_hive_last_error(h)->code)
        tool_error("%s: %s", path, imgfmt_hive_last_error(h)->msg);
    return r < 0 ? -1 : 0;
}

/* A KEY argument split: the hive's name ("SYSTEM"; "" for a bare path)
 * and the path inside it. */
struct key_arg {
    char hive[16];
    const char *rest;
};

static int parse_key(const char *key, struct key_arg *k)
{
    static const char *const roots[] = {"HKLM\\", "HKEY_LOCAL_MACHINE\\"};
    static const char *const hives[] = {"SYSTEM", "SOFTWARE", "SAM", "SECURITY", "DEFAULT"};
    k->hive[0] = '\0';
    k->rest = key;
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(roots[i]);
        if (strncasecmp(key, roots[i], n) != 0)
            continue;
        const char *h = key + n;
        for (size_t j = 0; j < sizeof hives / sizeof *hives; j++) {
            size_t m = strlen(hives[j]);
            if (strncasecmp(h, hives[j], m) == 0 && (h[m] == '\0' || h[m] == '\\')) {
                snprintf(k->hive, sizeof k->hive, "%s", hives[j]);
                k->rest = h + m;
                return 0;
            }
        }
        return -1;
    }
    return key[0] == '\\' ? 0 : -1;
}

/* Look the path up component by component, building the printed path
 * from the stored names; CurrentControlSet resolved in SYSTEM. */
static int resolve(imgfmt_hive *h, const struct key_arg *k, imgfmt_hive_key *out,
                   char *path, size_t cap)
{
    imgfmt_hive_key key = imgfmt_hive_root(h);
    size_t used = (size_t)snprintf(path, cap, "%s%s", k->hive[0] ? "HKEY_LOCAL_MACHINE\\" : "\\",
                                   k->hive);
    const char *p = k->rest;
    while (*p) {
        while (*p == '\\')
            p++;
        size_t n = strcspn(p, "\\");
        if (!n)
            break;
        char comp[512];
        snprintf(comp, sizeof comp, "%.*s", (int)(n < 511 ? n : 511), p);
        if (strcmp(k->hive, "SYSTEM") == 0 && key == imgfmt_hive_root(h) &&
            strcasecmp(comp, "CurrentControlSet") == 0) {
            imgfmt_hive_key sel;
            imgfmt_hive_value cur;
            uint32_t c;
            if (imgfmt_hive_lookup(h, key, "Select", &sel) < 0 ||
                imgfmt_hive_get_value(h, sel, "Current", &cur) < 0 ||
                imgfmt_hive_value_dword(h, cur, &c) < 0) {
                tool_error("CurrentControlSet: %s", imgfmt_hive_last_error(h)->msg);
                return -1;
            }
            snprintf(comp, sizeof comp, "ControlSet%03u", c);
        }
        if (imgfmt_hive_lookup(h, key, comp, &key) < 0) {
            tool_error("%s: %s", comp, imgfmt_hive_last_error(h)->msg);
            return -1;
        }
        imgfmt_hive_key_info ki;
        imgfmt_hive_key_stat(h, key, &ki);
        int w = snprintf(path + used, cap - used, "%s%s", used > 1 ? "\\" : "", ki.name);
        if (w < 0 || (size_t)w >= cap - used) {
            tool_error("key path too long");
            return -1;
        }
        used += (size_t)w;
        p += n;
    }
    *out = key;
    return 0;
}

/* Windows/System32/config/<hive> of the guest, each component matched
 * case-insensitively (file systems other than NTFS compare exactly). */
static int find_hive_file(imgfmt_filesystem *fs, const char *hive, char *out, size_t cap)
{
    const char *comps[] = {"Windows", "System32", "config", hive};
    snprintf(out, cap, "%s", "");
    for (size_t i = 0; i < 4; i++) {
        imgfmt_dir *d;
        imgfmt_dirent e;
        const char *dir = out[0] ? out : "/";
        if (imgfmt_fs_opendir(fs, dir, &d) < 0) {
            tool_error("%s: %s", dir, imgfmt_fs_last_error(fs)->msg);
            return -1;
        }
        int r, found = 0;
        while (!found && (r = imgfmt_fs_readdir(d, &e)) == 1)
            if (strcasecmp(e.name, comps[i]) == 0) {
                size_t n = strlen(out);
                snprintf(out + n, cap - n, "/%s", e.name);
                found = 1;
            }
        imgfmt_fs_closedir(d);
        if (!found) {
            tool_error("no %s in %s (looking for Windows/System32/config/%s)", comps[i], dir,
                       hive);
            return -1;
        }
    }
    return 0;
}

static int open_guest_hive(const char *image, const char *format, const char *spec,
                           const char *hive, struct tool_fs *t, imgfmt_hive **h)
{
    char path[4096];
    imgfmt_error err = {0};
    int r = tool_fs_open(image, format, spec, t);
    if (r != EXIT_OK)
        return r;
    if (find_hive_file(t->fs, hive, path, sizeof path) < 0)
        return EXIT_IMAGE;
    if (imgfmt_hive_open_file(t->fs, path, h, &err) < 0) {
        tool_error("%s: %s", path, err.msg);
        return EXIT_IMAGE;
    }
    return EXIT_OK;
}

static int open_local_hive(const char *file, imgfmt_hive **h)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        tool_error("%s: cannot open", file);
        return EXIT_USAGE;
    }
    size_t cap = 1 << 20, len = 0, n;
    uint8_t *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap && cap < IMGFMT_HIVE_MAX_SIZE) {
            uint8_t *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    imgfmt_error err = {0};
    int r = buf ? imgfmt_hive_open_memory(buf, len, h, &err) : IMGFMT_E_NOMEM;
    free(buf);
    if (r < 0) {
        tool_error("%s: %s", file, buf ? err.msg : "out of memory");
        return EXIT_IMAGE;
    }
    return EXIT_OK;
}

static int run(imgfmt_hive *h, const struct key_arg *k)
{
    for (uint32_t i = 0; i < imgfmt_hive_nb_warnings(h); i++)
        fprintf(stderr, "%s: warning: %s\n", prog, imgfmt_hive_warning(h, i));
    char path[8192];
    imgfmt_hive_key key;
    if (resolve(h, k, &key, path, sizeof path) < 0)
        return EXIT_IMAGE;
    struct out o = {stdout, 0};
    printf("Windows Registry Editor Version 5.00\n\n");
    int r = export_key(&o, h, key, path, 0);
    if (fflush(stdout) != 0)
        r = -1;
    return r < 0 ? EXIT_IMAGE : EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "fs", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'f' },
        { "hive", required_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *spec = NULL, *format = NULL, *hive_file = NULL;
    int c;
    prog = "imgfmt-reg";
    while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 's': spec = optarg; break;
        case 'H': hive_file = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    struct key_arg k;
    if (argc - optind != (hive_file ? 1 : 2) || parse_key(argv[argc - 1], &k) < 0 ||
        (!hive_file && !k.hive[0])) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct tool_fs t = {0};
    imgfmt_hive *h = NULL;
    int r = hive_file ? open_local_hive(hive_file, &h)
                      : open_guest_hive(argv[optind], format, spec, k.hive, &t, &h);
    if (r == EXIT_OK)
        r = run(h, &k);
    imgfmt_hive_close(h);
    if (!hive_file)
        tool_fs_close(&t);
    return r;
}
