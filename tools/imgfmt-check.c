/*
 * imgfmt-check -- the import pre-flight: what a cloud image import would
 * refuse, in the provider's own error codes, before the upload.
 *
 *   imgfmt-check [--os=auto|linux|windows] [--max-actual=50G]
 *                [--max-virtual=500G] [--output=human|json] [-p] IMAGE
 *
 * One finding per line: code, pass/fail/warn/not-checked, what was measured
 * against which limit, and a one-sentence fix; then a verdict.  Exit 0 when
 * nothing fails, 1 when something fails, 2 on usage or I/O errors.
 *
 * The rules are the library's (imgfmt_check_path); this tool parses the
 * arguments and prints the findings.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

struct args {
    imgfmt_check_opts opts;
    enum progress_mode progress;
    int json;
    const char *path;
};

/* ---- progress of the exact measure -------------------------------------- */

struct progress_state {
    enum progress_mode mode;
    int called;
    uint64_t done, total;
};

static void on_progress(void *opaque, uint64_t done, uint64_t total)
{
    struct progress_state *p = opaque;
    p->called = 1;
    p->done = done;
    p->total = total;
    progress_update(p->mode, done, total, 0);
}

/* ---- output ------------------------------------------------------------- */

struct counts {
    uint32_t failed, warnings, not_checked;
};

static struct counts count(const imgfmt_check_result *r)
{
    struct counts n = {
        imgfmt_check_count_status(r, IMGFMT_CHECK_FAIL),
        imgfmt_check_count_status(r, IMGFMT_CHECK_WARN),
        imgfmt_check_count_status(r, IMGFMT_CHECK_NOT_CHECKED),
    };
    return n;
}

static int get_finding(const imgfmt_check_result *r, uint32_t i, imgfmt_check_finding *f)
{
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    return imgfmt_check_get(r, i, f);
}

static void print_human(const char *path, const imgfmt_check_result *r)
{
    printf("image: %s\n", path);
    printf("os: %s\n", imgfmt_check_os_name(imgfmt_check_result_os(r)));
    imgfmt_check_finding f;
    for (uint32_t i = 0; get_finding(r, i, &f) == 0; i++) {
        printf("%-22s %-11s %s", f.code_name, f.status_name, f.message);
        if (f.fix[0])
            printf("; fix: %s", f.fix);
        printf("\n");
    }
    struct counts n = count(r);
    printf("verdict: %s (%u failed, %u warnings, %u not checked)\n",
           n.failed ? "FAIL" : "PASS", n.failed, n.warnings, n.not_checked);
}

/* The members of a finding object, in order.  Optional members are left
 * out when empty ("") or IMGFMT_CHECK_NO_VALUE. */
enum member_kind { M_STRING, M_NUMBER };
struct member {
    const char *key;
    enum member_kind kind;
    size_t offset;          /* in imgfmt_check_finding */
    int optional;
};

static const struct member finding_members[] = {
    {"code", M_STRING, offsetof(imgfmt_check_finding, code_name), 0},
    {"check", M_STRING, offsetof(imgfmt_check_finding, check_name), 0},
    {"status", M_STRING, offsetof(imgfmt_check_finding, status_name), 0},
    {"message", M_STRING, offsetof(imgfmt_check_finding, message), 0},
    {"measured", M_NUMBER, offsetof(imgfmt_check_finding, measured), 1},
    {"limit", M_NUMBER, offsetof(imgfmt_check_finding, limit), 1},
    {"fix", M_STRING, offsetof(imgfmt_check_finding, fix), 1},
};

static void print_json_finding(const imgfmt_check_finding *f)
{
    const char *base = (const char *)f;
    const char *sep = "{";
    for (size_t k = 0; k < sizeof finding_members / sizeof finding_members[0]; k++) {
        const struct member *m = &finding_members[k];
        if (m->kind == M_STRING) {
            const char *s;
            memcpy(&s, base + m->offset, sizeof s);
            if (m->optional && !s[0])
                continue;
            printf("%s\"%s\": ", sep, m->key);
            json_string(stdout, s);
        } else {
            uint64_t v;
            memcpy(&v, base + m->offset, sizeof v);
            if (m->optional && v == IMGFMT_CHECK_NO_VALUE)
                continue;
            printf("%s\"%s\": %" PRIu64, sep, m->key, v);
        }
        sep = ", ";
    }
    printf("}");
}

static void print_json(const char *path, const imgfmt_check_result *r)
{
    printf("{\n  \"image\": ");
    json_string(stdout, path);
    printf(",\n  \"os\": ");
    json_string(stdout, imgfmt_check_os_name(imgfmt_check_result_os(r)));
    printf(",\n  \"findings\": [");
    imgfmt_check_finding f;
    for (uint32_t i = 0; get_finding(r, i, &f) == 0; i++) {
        printf("%s\n    ", i ? "," : "");
        print_json_finding(&f);
    }
    struct counts n = count(r);
    printf("\n  ],\n  \"failed\": %u,\n  \"warnings\": %u,\n  \"not-checked\": %u,\n"
           "  \"verdict\": \"%s\"\n}\n", n.failed, n.warnings, n.not_checked,
           n.failed ? "fail" : "pass");
}

/* ---- arguments ---------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: %s [--os=auto|linux|windows] [--max-actual=50G] [--max-virtual=500G]\n"
        "          [--os-list=FILE] [--output=human|json] [-p] IMAGE\n"
        "\n"
        "Check a disk image against the cloud import rules before uploading it.\n"
        "Findings use the import service's error codes (InvalidFormatSize,\n"
        "PartitionNotPresent, RootPartitionNotFound, VirtioNotInstall,\n"
        "CloudInitNotInstalled) plus ExternalFiles, VhdSizeRule, ImageState,\n"
        "ImageWarning and WindowsDiskLayout for what the service does not say.\n"
        "  --os=OS            rules to apply: auto (from the file systems), linux, windows\n"
        "  --max-actual=SIZE  limit on the converted QCOW2 length (default 50G, binary units)\n"
        "  --max-virtual=SIZE limit on the virtual size (default 500G)\n"
        "  --os-list=FILE     the provider's OS list: lines \"linux ID\" (os-release ID)\n"
        "                     and \"windows PRODUCT\" (default: CentOS, Ubuntu, Debian,\n"
        "                     CoreOS, openSUSE, SUSE, Windows Server 2008 R2/2012 R2)\n"
        "  --output=json      machine-readable findings\n"
        "  -p                 show progress of the exact measure on stderr\n"
        "Exit status: 0 nothing fails, 1 something fails, 2 usage or I/O error.\n",
        prog);
}

static int parse_os(const char *s, enum imgfmt_check_os *out)
{
    static const enum imgfmt_check_os all[] = {
        IMGFMT_CHECK_OS_AUTO, IMGFMT_CHECK_OS_LINUX, IMGFMT_CHECK_OS_WINDOWS,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, imgfmt_check_os_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

/* --os-list=FILE: the file's text becomes opts.os_list (at most 64 KiB). */
static int read_os_list(const char *path, struct args *a)
{
    static char text[65536];
    FILE *f = fopen(path, "r");
    if (!f) {
        tool_error("%s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(text, 1, sizeof text - 1, f);
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad) {
        tool_error("%s: unreadable or over 64 KiB", path);
        return -1;
    }
    text[n] = '\0';
    a->opts.os_list = text;
    return 0;
}

/* One option; returns -1 (message printed) on a bad value. */
static int take_option(int ch, struct args *a)
{
    switch (ch) {
    case 'o':
        if (parse_os(optarg, &a->opts.os) < 0) {
            tool_error("--os must be auto, linux or windows");
            return -1;
        }
        return 0;
    case 'a':
    case 'v':
        if (parse_size(optarg, ch == 'a' ? &a->opts.max_converted_size
                                         : &a->opts.max_virtual_size) < 0) {
            tool_error("invalid size '%s'", optarg);
            return -1;
        }
        return 0;
    case 'O':
        a->json = strcmp(optarg, "json") == 0;
        if (!a->json && strcmp(optarg, "human") != 0) {
            tool_error("--output must be human or json");
            return -1;
        }
        return 0;
    case 'p':
        a->progress = isatty(2) ? PROGRESS_BAR : PROGRESS_JSON;
        return 0;
    case 'L':
        return read_os_list(optarg, a);
    default:
        usage(stderr);
        return -1;
    }
}

#define ARGS_HELP (-1)   /* --help was printed */

/* EXIT_OK to go on, ARGS_HELP, or the exit status of a usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option lopts[] = {
        {"os", required_argument, NULL, 'o'},
        {"max-actual", required_argument, NULL, 'a'},
        {"max-virtual", required_argument, NULL, 'v'},
        {"output", required_argument, NULL, 'O'},
        {"os-list", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "ph", lopts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return ARGS_HELP;
        }
        if (take_option(ch, a) < 0)
            return EXIT_USAGE;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    a->path = argv[optind];
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    prog = "imgfmt-check";
    struct args a;
    memset(&a, 0, sizeof a);
    imgfmt_check_opts_init(&a.opts);
    int rc = parse_args(argc, argv, &a);
    if (rc == ARGS_HELP)
        return EXIT_OK;
    if (rc != EXIT_OK)
        return rc;
    struct progress_state ps = {a.progress, 0, 0, 0};
    if (a.progress != PROGRESS_NONE) {
        a.opts.progress = on_progress;
        a.opts.progress_opaque = &ps;
    }
    imgfmt_check_result *r = NULL;
    imgfmt_error err = {0};
    if (imgfmt_check_path(a.path, NULL, &a.opts, &r, &err) < 0) {
        tool_error("%s", err.msg[0] ? err.msg : imgfmt_strerror(err.code));
        return EXIT_USAGE;
    }
    if (ps.called)
        progress_update(ps.mode, ps.done, ps.total, 1);
    if (a.json)
        print_json(a.path, r);
    else
        print_human(a.path, r);
    rc = imgfmt_check_read_error(r)->code != IMGFMT_OK ? EXIT_USAGE
         : imgfmt_check_count_status(r, IMGFMT_CHECK_FAIL) ? EXIT_IMAGE : EXIT_OK;
    imgfmt_check_result_free(r);
    return rc;
}
