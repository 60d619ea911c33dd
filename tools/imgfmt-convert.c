/*
 * imgfmt-convert -- export an image's content to another format.
 *
 *   imgfmt-convert [-f FMT] -O raw [-p] [--progress=json] SRC DST|-
 *
 * DST "-" writes to standard output, strictly sequentially (a pipe).  A
 * file DST is written under a temporary name and renamed on success; a
 * failure or a signal leaves no DST and no temporary file behind.
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
        "usage: %s [-f FMT] -O raw [-p] [--progress=json] [--no-external] SRC DST|-\n"
        "\n"
        "Convert a disk image.  DST '-' writes to standard output (no seeks).\n"
        "  -f FMT            source format: raw, vpc (vhd), qcow2, vmdk (default: probe)\n"
        "  -O FMT            output format: raw\n"
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

int main(int argc, char **argv)
{
    prog = "imgfmt-convert";
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    const char *ofmt = NULL;
    enum progress_mode pm = PROGRESS_NONE;
    enum { OPT_PROGRESS = 256, OPT_NOEXT };
    static const struct option lopts[] = {
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {"no-external", no_argument, NULL, OPT_NOEXT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "f:O:ph", lopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o.format = imgfmt_format_from_name(optarg);
            if (o.format == IMGFMT_FMT_UNKNOWN) {
                tool_error("unknown format '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'O': ofmt = optarg; break;
        case 'p': pm = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_NONE; break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "json") != 0) {
                tool_error("--progress takes 'json'");
                return EXIT_USAGE;
            }
            pm = PROGRESS_JSON;
            break;
        case OPT_NOEXT: o.flags |= IMGFMT_OPEN_NO_EXTERNAL; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!ofmt) {
        tool_error("-O is required (raw)");
        return EXIT_USAGE;
    }
    if (strcmp(ofmt, "raw") != 0) {
        tool_error("output format '%s' is not supported (raw)", ofmt);
        return EXIT_USAGE;
    }
    const char *src = argv[optind], *dst = argv[optind + 1];
    imgfmt_image *img = tool_open(src, &o);
    if (!img)
        return EXIT_IMAGE;
    struct sink s;
    if (sink_open(&s, dst, src) < 0) {
        imgfmt_close(img);
        return EXIT_IMAGE;
    }
    int r = convert_raw(img, &s, pm);
    if (r == 0)
        r = sink_commit(&s);
    if (r < 0)
        sink_abort(&s);
    imgfmt_close(img);
    return r < 0 ? EXIT_IMAGE : EXIT_OK;
}
