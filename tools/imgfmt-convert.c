/*
 * imgfmt-convert -- export an image's content to another format.
 *
 *   imgfmt-convert [-f FMT] -O qcow2|raw [-c] [-p] [--progress=json]
 *                  [-o cluster_size=N,compat=V,refcount_bits=N,compression_type=T]
 *                  [--threads=N] SRC DST|-
 *
 * DST "-" writes to standard output, strictly sequentially (a pipe), with
 * the library's streaming writer (two read passes).  A file DST gets the
 * one-pass seekable writer; it is written under a temporary name and
 * renamed on success; a failure or a signal leaves no DST and no temporary
 * file behind.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "sink.h"

#define CHUNK (2u << 20)   /* read size: 2 MiB */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: %s [-f FMT] -O qcow2|raw [-c] [-p] [--progress=json] [-o OPTS]\n"
        "          [--threads=N] [--no-external] SRC DST|-\n"
        "\n"
        "Convert a disk image.  DST '-' writes to standard output (no seeks).\n"
        "The qcow2 output is laid out as `qemu-img convert -O qcow2` lays it out and\n"
        "has the length `imgfmt-info --measure` predicts.  Into a file the source\n"
        "is read once (data written at their final offsets, metadata last); into\n"
        "a pipe twice (a planning pass, then the copy in file order).\n"
        "  -f FMT            source format: raw, vpc (vhd), qcow2, vmdk (default: probe)\n"
        "  -O FMT            output format: qcow2 or raw\n"
        "  -c                compress every cluster (qcow2; zlib as qemu-img -c)\n"
        "  -o OPTS           qcow2 options: cluster_size=512..2M (default 64k),\n"
        "                    compat=0.10|1.1, refcount_bits=1..64,\n"
        "                    compression_type=zlib|zstd\n"
        "  --threads=N       compression threads (default: number of CPUs)\n"
        "  -p                progress bar on the terminal (stderr)\n"
        "  --progress=json   progress as JSON lines on stderr\n"
        "  --no-external     refuse backing, parent and extent files\n",
        prog);
}

static int block_is_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Write a buffer; in a file, 4 KiB blocks of zeros become holes. */
static int emit(struct sink *s, const uint8_t *buf, size_t n)
{
    if (!s->can_skip)
        return sink_write(s, buf, n);
    size_t i = 0;
    while (i < n) {
        size_t blk = n - i < 4096 ? n - i : 4096;
        int zero = block_is_zero(buf + i, blk);
        size_t j = i + blk;
        while (j < n) {
            size_t b = n - j < 4096 ? n - j : 4096;
            if (block_is_zero(buf + j, b) != zero)
                break;
            j += b;
        }
        if ((zero ? sink_zero(s, j - i) : sink_write(s, buf + i, j - i)) < 0)
            return -1;
        i = j;
    }
    return 0;
}

/* Raw export: ZERO extents and all-zero 4 KiB blocks become holes in a file
 * (zeros in a pipe); everything else is copied. */
static int convert_raw(imgfmt_image *img, struct sink *s, enum progress_mode pm)
{
    uint64_t size = imgfmt_virtual_size(img), pos = 0;
    uint8_t *buf = malloc(CHUNK);
    if (!buf) {
        tool_error("out of memory");
        return -1;
    }
    int rc = -1;
    while (pos < size) {
        imgfmt_extent e;
        if (imgfmt_block_status(img, pos, size - pos, &e) < 0) {
            tool_error("%s", imgfmt_last_error(img)->msg);
            goto out;
        }
        if (e.flags & IMGFMT_EXTENT_ZERO) {
            if (sink_zero(s, e.length) < 0)
                goto out;
            pos += e.length;
        } else {
            uint64_t end = pos + e.length;
            while (pos < end) {
                size_t n = (size_t)(end - pos < CHUNK ? end - pos : CHUNK);
                if (imgfmt_pread(img, buf, n, pos) < 0) {
                    tool_error("%s", imgfmt_last_error(img)->msg);
                    goto out;
                }
                if (emit(s, buf, n) < 0)
                    goto out;
                pos += n;
                progress_update(pm, pos, size, 0);
            }
        }
        progress_update(pm, pos, size, 0);
    }
    progress_update(pm, pos, size, 1);
    rc = 0;
out:
    free(buf);
    return rc;
}

static int qcow2_write_cb(void *opaque, const void *buf, size_t len)
{
    struct sink *s = opaque;
    return emit(s, buf, len);
}

static int qcow2_pwrite_cb(void *opaque, const void *buf, size_t len, uint64_t off)
{
    return sink_pwrite(opaque, buf, len, off);
}

/* qcow2 export through the library's writer: one read pass into a file,
 * the streaming (two-pass) writer into a pipe. */
static int convert_qcow2(imgfmt_image *img, const imgfmt_qcow2_opts *qo, struct sink *s,
                         enum progress_mode pm)
{
    imgfmt_qcow2_writer *w = NULL;
    imgfmt_error err = {0};
    int r = s->is_pipe ? imgfmt_qcow2_writer_new(img, qo, qcow2_write_cb, s, &w, &err)
                       : imgfmt_qcow2_writer_new_seekable(img, qo, qcow2_pwrite_cb, s, &w, &err);
    if (r < 0) {
        tool_error("%s", err.msg[0] ? err.msg : imgfmt_strerror(err.code));
        return -1;
    }
    uint64_t done = 0, total = 0;
    while ((r = imgfmt_qcow2_writer_step(w, &done, &total)) == 0) {
        if (sink_interrupted) {
            tool_error("interrupted");
            imgfmt_qcow2_writer_free(w);
            return -1;
        }
        progress_update(pm, done, total, 0);
    }
    if (r < 0) {
        /* A failed write (IMGFMT_E_WRITE: our callback said no) was
         * already reported by the sink. */
        if (!sink_interrupted && r != IMGFMT_E_WRITE)
            tool_error("%s", imgfmt_qcow2_writer_error(w)->msg);
        imgfmt_qcow2_writer_free(w);
        return -1;
    }
    progress_update(pm, done, total, 1);
    imgfmt_qcow2_writer_free(w);
    return 0;
}

struct args {
    imgfmt_open_opts o;
    imgfmt_qcow2_opts qo;
    const char *ofmt, *src, *dst;
    enum progress_mode pm;
    int have_o;
};

enum { OPT_PROGRESS = 256, OPT_NOEXT, OPT_THREADS };

/* One option; -1 on a usage error. */
static int take_option(struct args *a, int c)
{
    char *end;
    unsigned long t;
    switch (c) {
    case 'f':
        a->o.format = imgfmt_format_from_name(optarg);
        if (a->o.format == IMGFMT_FMT_UNKNOWN) {
            tool_error("unknown format '%s'", optarg);
            return -1;
        }
        return 0;
    case 'O': a->ofmt = optarg; return 0;
    case 'c': a->qo.compress = 1; return 0;
    case 'o':
        a->have_o = 1;
        return parse_qcow2_opts(optarg, &a->qo) < 0 ? -1 : 0;
    case OPT_THREADS:
        t = strtoul(optarg, &end, 10);
        if (*end || t < 1 || t > 256) {
            tool_error("--threads takes 1..256");
            return -1;
        }
        a->qo.threads = (unsigned)t;
        return 0;
    case 'p': a->pm = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_NONE; return 0;
    case OPT_PROGRESS:
        if (strcmp(optarg, "json") != 0) {
            tool_error("--progress takes 'json'");
            return -1;
        }
        a->pm = PROGRESS_JSON;
        return 0;
    case OPT_NOEXT: a->o.flags |= IMGFMT_OPEN_NO_EXTERNAL; return 0;
    default: usage(stderr); return -1;
    }
}

/* The output format and the options that need it. */
static int check_output(const struct args *a)
{
    if (!a->ofmt) {
        tool_error("-O is required (qcow2 or raw)");
        return -1;
    }
    int is_qcow2 = strcmp(a->ofmt, "qcow2") == 0;
    if (!is_qcow2 && strcmp(a->ofmt, "raw") != 0) {
        tool_error("output format '%s' is not supported (qcow2, raw)", a->ofmt);
        return -1;
    }
    if (!is_qcow2 && (a->qo.compress || a->have_o)) {
        tool_error("-c and -o apply to -O qcow2 only");
        return -1;
    }
    return 0;
}

/* 1: run; 0: done (help); -1: usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    imgfmt_open_opts_init(&a->o);
    imgfmt_qcow2_opts_init(&a->qo);
    a->qo.threads = tool_ncpus();
    a->pm = PROGRESS_NONE;
    static const struct option lopts[] = {
        {"threads", required_argument, NULL, OPT_THREADS},
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {"no-external", no_argument, NULL, OPT_NOEXT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "f:O:pco:h", lopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (take_option(a, c) < 0)
            return -1;
    }
    if (optind != argc - 2) {
        usage(stderr);
        return -1;
    }
    if (check_output(a) < 0)
        return -1;
    a->src = argv[optind];
    a->dst = argv[optind + 1];
    return 1;
}

int main(int argc, char **argv)
{
    prog = "imgfmt-convert";
    struct args a = {0};
    int r = parse_args(argc, argv, &a);
    if (r <= 0)
        return r == 0 ? EXIT_OK : EXIT_USAGE;
    imgfmt_image *img = tool_open(a.src, &a.o);
    if (!img)
        return EXIT_IMAGE;
    struct sink s;
    if (sink_open(&s, a.dst, a.src) < 0) {
        imgfmt_close(img);
        return EXIT_IMAGE;
    }
    r = strcmp(a.ofmt, "qcow2") == 0 ? convert_qcow2(img, &a.qo, &s, a.pm)
                                     : convert_raw(img, &s, a.pm);
    if (r == 0)
        r = sink_commit(&s);
    if (r < 0)
        sink_abort(&s);
    imgfmt_close(img);
    return r < 0 ? EXIT_IMAGE : EXIT_OK;
}
