/*
 * fsopen.h -- what imgfmt-ls, -cat and -reg share: open an image and the
 * file system --fs=SPEC names (the guest view by default), and list the
 * volumes (--fs=list).
 */
#ifndef IMGFMT_TOOLS_FSOPEN_H
#define IMGFMT_TOOLS_FSOPEN_H

#include "imgfmt.h"

struct tool_fs {
    imgfmt_image *img;
    imgfmt_volume_list *vols;
    imgfmt_filesystem *fs;
};

/* Open image (format forced unless NULL) and the file system of spec:
 * NULL = the guest view (or, on a disk with one file system and no OS
 * root, that file system); "N" partition N, "0" the whole disk, "VG/LV".
 * Prints the error; returns EXIT_OK or EXIT_IMAGE / EXIT_USAGE. */
int tool_fs_open(const char *image, const char *format, const char *spec,
                 struct tool_fs *t);
void tool_fs_close(struct tool_fs *t);

/* --fs=list: the volumes of image, human or JSON.  Returns an exit status. */
int tool_fs_list(const char *image, const char *format, int json);

#endif
