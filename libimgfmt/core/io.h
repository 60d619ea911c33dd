/*
 * io.h -- byte sources: a file (path or fd) or a memory buffer.
 * Everything is positional (pread): no shared file offset.
 */
#ifndef IMGFMT_IO_H
#define IMGFMT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "imgfmt.h"

struct ifmt_io {
    int fd;                    /* -1 for memory */
    const uint8_t *mem;        /* memory source, else NULL */
    uint64_t size;             /* length in bytes at open time */
    uint64_t base;             /* window start inside the file (tar members) */
    char *path;                /* as opened (owned), "<memory>" or "<fd N>" */
    char *dir;                 /* directory for relative names (owned), NULL = refuse */
    uint64_t dev, ino;         /* identity for loop detection (0 for memory) */
    uint64_t allocated;        /* st_blocks * 512 at open time */
    int seek_data_ok;          /* SEEK_DATA/SEEK_HOLE usable */
};

/* Open path read-only.  On failure fills err (IO) and returns its code. */
int ifmt_io_open_path(const char *path, struct ifmt_io **out, imgfmt_error *err);
/* Dup fd and use it read-only. */
int ifmt_io_open_fd(int fd, struct ifmt_io **out, imgfmt_error *err);
int ifmt_io_open_memory(const void *buf, size_t len, struct ifmt_io **out,
                        imgfmt_error *err);
/* A view of [base, base+size) of io (duplicated fd / same memory). */
int ifmt_io_open_window(const struct ifmt_io *io, uint64_t base, uint64_t size,
                        struct ifmt_io **out, imgfmt_error *err);
void ifmt_io_close(struct ifmt_io *io);

/* Read exactly len bytes at off.  Returns 0, or IMGFMT_E_RANGE if the range
 * runs past io->size (nothing useful read), or IMGFMT_E_IO (errno in *sys_errno). */
int ifmt_io_pread(struct ifmt_io *io, void *buf, size_t len, uint64_t off,
                  int *sys_errno);

/* Find the next data / hole at or after off (like lseek SEEK_DATA/SEEK_HOLE,
 * clamped to io->size).  Returns 0 and sets *out; if the source cannot tell,
 * reports data up to the end.  *out == io->size means "none before the end". */
int ifmt_io_next_data(struct ifmt_io *io, uint64_t off, uint64_t *out);
int ifmt_io_next_hole(struct ifmt_io *io, uint64_t off, uint64_t *out);

#endif
