/*
 * imgfmt-cat -- write a file of a guest file system inside a disk image to
 * stdout, in the spirit of virt-cat, without an appliance VM.
 *
 *   imgfmt-cat [--fs=SPEC] [-f FMT] IMAGE PATH
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "fsopen.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [--fs=SPEC] [-f FMT] IMAGE PATH\n"
               "  PATH is read in the guest view (the OS root with its fstab mounts)\n"
               "  unless --fs names one volume: N (partition), 0 (whole disk), VG/LV.\n",
            prog);
}

static int copy_out(imgfmt_filesystem *fs, const char *path)
{
    imgfmt_file *f;
    if (imgfmt_fs_open_file(fs, path, &f) < 0) {
        tool_error("%s: %s", path, imgfmt_fs_last_error(fs)->msg);
        return EXIT_IMAGE;
    }
    static unsigned char buf[1u << 20];
    uint64_t off = 0;
    int status = EXIT_OK;
    for (;;) {
        size_t got;
        if (imgfmt_file_pread(f, buf, sizeof buf, off, &got) < 0) {
            tool_error("%s: %s", path, imgfmt_fs_last_error(fs)->msg);
            status = EXIT_IMAGE;
            break;
        }
        if (got == 0)
            break;
        if (fwrite(buf, 1, got, stdout) != got) {
            tool_error("writing stdout: %s", strerror(errno));
            status = EXIT_IMAGE;
            break;
        }
        off += got;
    }
    imgfmt_file_close(f);
    if (fflush(stdout) != 0 && status == EXIT_OK) {
        tool_error("writing stdout: %s", strerror(errno));
        status = EXIT_IMAGE;
    }
    return status;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "fs", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *spec = NULL, *format = NULL;
    int c;
    prog = "imgfmt-cat";
    while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 's': spec = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct tool_fs t;
    int r = tool_fs_open(argv[optind], format, spec, &t);
    if (r == EXIT_OK)
        r = copy_out(t.fs, argv[optind + 1]);
    tool_fs_close(&t);
    return r;
}
