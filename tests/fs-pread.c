/*
 * fs-pread -- test helper: write bytes [OFFSET, OFFSET+LEN) of a file
 * inside the bare file system IMAGE to stdout (short at the end of the
 * file), so a cross-check can compare a few ranges of a huge sparse file
 * without streaming all of it.
 *   fs-pread IMAGE PATH OFFSET LEN
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "imgfmt.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: fs-pread IMAGE PATH OFFSET LEN\n");
        return 2;
    }
    uint64_t off = strtoull(argv[3], NULL, 0), len = strtoull(argv[4], NULL, 0);
    imgfmt_image *img = NULL;
    imgfmt_filesystem *fs = NULL;
    imgfmt_file *f = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open(argv[1], NULL, &img, &err);
    if (r == 0)
        r = imgfmt_fs_open(img, 0, 0, NULL, &fs, &err);
    if (r == 0 && (r = imgfmt_fs_open_file(fs, argv[2], &f)) < 0)
        err = *imgfmt_fs_last_error(fs);
    static char buf[1 << 20];
    while (r == 0 && len > 0) {
        size_t got, want = len < sizeof buf ? (size_t)len : sizeof buf;
        if ((r = imgfmt_file_pread(f, buf, want, off, &got)) < 0) {
            err = *imgfmt_fs_last_error(fs);
            break;
        }
        if (got == 0)
            break;
        fwrite(buf, 1, got, stdout);
        off += got;
        len -= got;
    }
    if (r < 0)
        fprintf(stderr, "fs-pread: %s\n", err.msg);
    imgfmt_file_close(f);
    imgfmt_fs_close(fs);
    imgfmt_close(img);
    return r < 0 ? 1 : 0;
}
