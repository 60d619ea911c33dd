/*
 * imgfmt-ls -- list files of a guest file system inside a disk image, in
 * the spirit of virt-ls, without an appliance VM.
 *
 *   imgfmt-ls [-l] [-R] [--checksum=sha256] [--output=human|json]
 *             [--fs=SPEC] [-f FMT] IMAGE [PATH]
 *   imgfmt-ls --fs=list IMAGE
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "fsopen.h"
#include "sha256.h"

#define MAX_WALK_DEPTH 1024u

struct ls {
    imgfmt_filesystem *fs;
    int long_fmt, recursive, checksum, json;
    unsigned printed;
    int status;
    struct { uint32_t dev; uint64_t subvol, ino; } ancestors[MAX_WALK_DEPTH];
    unsigned depth;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [-l] [-R] [--checksum=sha256] [--output=human|json] "
               "[--fs=SPEC] [-f FMT] IMAGE [PATH]\n"
               "       %s --fs=list [--output=human|json] IMAGE\n"
               "  PATH is read in the guest view (the OS root with its fstab mounts)\n"
               "  unless --fs names one volume: N (partition), 0 (whole disk), VG/LV.\n",
            prog, prog);
}

static void entry_error(struct ls *ls, const char *path)
{
    tool_error("%s: %s", path, imgfmt_fs_last_error(ls->fs)->msg);
    ls->status = EXIT_IMAGE;
}

static int file_sha256(struct ls *ls, const char *path, char hex[65])
{
    imgfmt_file *f;
    if (imgfmt_fs_open_file(ls->fs, path, &f) < 0)
        return -1;
    static unsigned char buf[1u << 20];
    struct sha256 s;
    sha256_init(&s);
    uint64_t off = 0;
    for (;;) {
        size_t got;
        if (imgfmt_file_pread(f, buf, sizeof buf, off, &got) < 0) {
            imgfmt_file_close(f);
            return -1;
        }
        if (got == 0)
            break;
        sha256_update(&s, buf, got);
        off += got;
    }
    imgfmt_file_close(f);
    sha256_final_hex(&s, hex);
    return 0;
}

static void mode_string(const imgfmt_stat *st, char out[11])
{
    static const char types[] = "?-dlcbps";
    const char *rwx = "rwxrwxrwx";
    out[0] = types[st->type <= IMGFMT_FILE_SOCK ? st->type : 0];
    for (int i = 0; i < 9; i++)
        out[1 + i] = st->mode & (0400u >> i) ? rwx[i] : '-';
    if (st->mode & 04000) out[3] = out[3] == 'x' ? 's' : 'S';
    if (st->mode & 02000) out[6] = out[6] == 'x' ? 's' : 'S';
    if (st->mode & 01000) out[9] = out[9] == 'x' ? 't' : 'T';
    out[10] = '\0';
}

static void print_json(struct ls *ls, const char *path, const imgfmt_stat *st,
                       const char *target, const char *sha)
{
    printf("%s\n  {\"path\": ", ls->printed ? "," : "");
    json_string(stdout, path);
    printf(", \"type\": \"%s\", \"mode\": %u, \"uid\": %u, \"gid\": %u, \"size\": %llu, "
           "\"mtime\": %lld, \"ino\": %llu, \"nlink\": %llu",
           imgfmt_file_type_name(st->type), st->mode & 07777u, st->uid, st->gid,
           (unsigned long long)st->size, (long long)st->mtime.sec,
           (unsigned long long)st->ino, (unsigned long long)st->nlink);
    if (st->type == IMGFMT_FILE_CHR || st->type == IMGFMT_FILE_BLK)
        printf(", \"rdev\": \"%u:%u\"", st->rdev_major, st->rdev_minor);
    if (target) {
        printf(", \"target\": ");
        json_string(stdout, target);
    }
    if (sha)
        printf(", \"sha256\": \"%s\"", sha);
    printf("}");
}

static void print_human(struct ls *ls, const char *path, const char *name,
                        const imgfmt_stat *st, const char *target, const char *sha)
{
    const char *shown = ls->recursive ? path : name;
    if (ls->long_fmt) {
        char mode[11], when[32];
        time_t t = (time_t)st->mtime.sec;
        struct tm tm;
        mode_string(st, mode);
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        else
            snprintf(when, sizeof when, "%lld", (long long)st->mtime.sec);
        printf("%s %3llu %5u %5u %12llu %s ", mode, (unsigned long long)st->nlink,
               st->uid, st->gid, (unsigned long long)st->size, when);
    }
    printf("%s", shown);
    if (target && ls->long_fmt)
        printf(" -> %s", target);
    if (sha)
        printf("  %s", sha);
    printf("\n");
}

/* Print one entry; *st gets its stat (NOFOLLOW).  -1 if it could not be read. */
static int show_entry(struct ls *ls, const char *path, const char *name, imgfmt_stat *st)
{
    const char *target = NULL;
    char hex[65], *sha = NULL;
    if (imgfmt_fs_stat(ls->fs, path, IMGFMT_NOFOLLOW, st) < 0) {
        entry_error(ls, path);
        return -1;
    }
    char *target_copy = NULL;
    if (st->type == IMGFMT_FILE_SYMLINK) {
        if (imgfmt_fs_readlink(ls->fs, path, &target) < 0)
            entry_error(ls, path);
        else
            target = target_copy = strdup(target);
    }
    if (ls->checksum && st->type == IMGFMT_FILE_REG) {
        if (file_sha256(ls, path, hex) < 0)
            entry_error(ls, path);
        else
            sha = hex;
    }
    if (ls->json)
        print_json(ls, path, st, target, sha);
    else
        print_human(ls, path, name, st, target, sha);
    ls->printed++;
    free(target_copy);
    return 0;
}

static char *join_path(const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    while (dl > 0 && dir[dl - 1] == '/')
        dl--;
    size_t nl = strlen(name);
    char *p = malloc(dl + nl + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

static int is_ancestor(const struct ls *ls, const imgfmt_stat *st)
{
    for (unsigned i = 0; i < ls->depth; i++)
        if (ls->ancestors[i].dev == st->dev && ls->ancestors[i].subvol == st->subvol &&
            ls->ancestors[i].ino == st->ino)
            return 1;
    return 0;
}

static void list_dir(struct ls *ls, const char *dir, const imgfmt_stat *dir_st);

static void list_child(struct ls *ls, const char *path, const char *name)
{
    imgfmt_stat st;
    if (show_entry(ls, path, name, &st) < 0 || !ls->recursive ||
        st.type != IMGFMT_FILE_DIR)
        return;
    if (is_ancestor(ls, &st)) {
        tool_error("%s: directory loop (inode %llu is its own ancestor)", path,
                   (unsigned long long)st.ino);
        ls->status = EXIT_IMAGE;
        return;
    }
    if (ls->depth >= MAX_WALK_DEPTH) {
        tool_error("%s: deeper than %u directories, not listed", path, MAX_WALK_DEPTH);
        ls->status = EXIT_IMAGE;
        return;
    }
    list_dir(ls, path, &st);
}

static void list_dir(struct ls *ls, const char *dir, const imgfmt_stat *dir_st)
{
    imgfmt_dir *d;
    if (imgfmt_fs_opendir(ls->fs, dir, &d) < 0) {
        entry_error(ls, dir);
        return;
    }
    ls->ancestors[ls->depth].dev = dir_st->dev;
    ls->ancestors[ls->depth].subvol = dir_st->subvol;
    ls->ancestors[ls->depth].ino = dir_st->ino;
    ls->depth++;
    imgfmt_dirent e;
    int r;
    while ((r = imgfmt_fs_readdir(d, &e)) > 0) {
        char *path = join_path(dir, e.name);
        if (!path) {
            tool_error("out of memory");
            ls->status = EXIT_IMAGE;
            break;
        }
        list_child(ls, path, e.name);
        free(path);
    }
    ls->depth--;
    imgfmt_fs_closedir(d);
}

static int run_listing(struct ls *ls, const char *path)
{
    imgfmt_stat st;
    if (imgfmt_fs_stat(ls->fs, path, 0, &st) < 0) {
        entry_error(ls, path);
        return EXIT_IMAGE;
    }
    if (ls->json)
        printf("[");
    if (st.type == IMGFMT_FILE_DIR)
        list_dir(ls, path, &st);
    else
        show_entry(ls, path, path, &st);
    if (ls->json)
        printf("\n]\n");
    return ls->status;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "checksum", required_argument, NULL, 'c' },
        { "output", required_argument, NULL, 'o' },
        { "fs", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct ls ls = { .status = EXIT_OK };
    const char *spec = NULL, *format = NULL;
    int c;
    prog = "imgfmt-ls";
    while ((c = getopt_long(argc, argv, "lRf:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': ls.long_fmt = 1; break;
        case 'R': ls.recursive = 1; break;
        case 'f': format = optarg; break;
        case 's': spec = optarg; break;
        case 'c':
            if (strcmp(optarg, "sha256") != 0) {
                tool_error("--checksum: only sha256 is known");
                return EXIT_USAGE;
            }
            ls.checksum = 1;
            break;
        case 'o':
            if (strcmp(optarg, "json") && strcmp(optarg, "human")) {
                tool_error("--output: human or json");
                return EXIT_USAGE;
            }
            ls.json = strcmp(optarg, "json") == 0;
            break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *image = argv[optind], *path = optind + 1 < argc ? argv[optind + 1] : "/";
    if (spec && strcmp(spec, "list") == 0)
        return tool_fs_list(image, format, ls.json);
    struct tool_fs t;
    int r = tool_fs_open(image, format, spec, &t);
    if (r != EXIT_OK) {
        tool_fs_close(&t);
        return r;
    }
    ls.fs = t.fs;
    r = run_listing(&ls, path);
    for (uint32_t i = 0; i < imgfmt_fs_nb_warnings(t.fs); i++)
        fprintf(stderr, "%s: warning: %s\n", prog, imgfmt_fs_warning(t.fs, i));
    tool_fs_close(&t);
    return r;
}
