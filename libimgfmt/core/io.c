/*
 * io.c -- byte sources.  Files are opened O_RDONLY and read with pread();
 * memory sources are read with memcpy.  A "window" is a sub-range of a
 * source (a member of a tar archive) that behaves like a file of its own.
 */
#define _GNU_SOURCE 1          /* SEEK_DATA / SEEK_HOLE */
#define IMGFMT_BUILDING 1
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/io.h"
#include "core/util.h"

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static int io_from_fd(int fd, const char *path, struct ifmt_io **out,
                      imgfmt_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ifmt_seterr(err, IMGFMT_E_IO, e, "%s: cannot stat: %s", path,
                           strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ifmt_seterr(err, IMGFMT_E_IO, EISDIR, "%s: is a directory", path);
    }
    struct ifmt_io *io = calloc(1, sizeof(*io));
    if (!io) {
        close(fd);
        return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "out of memory");
    }
    io->fd = fd;
    io->path = strdup(path);
    io->dir = dir_of(path);
    if (!io->path || !io->dir) {
        ifmt_io_close(io);
        return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "out of memory");
    }
    if (S_ISREG(st.st_mode)) {
        io->size = (uint64_t)st.st_size;
        io->seek_data_ok = 1;
    } else {
        /* Block devices: size by seeking to the end. */
        off_t end = lseek(fd, 0, SEEK_END);
        io->size = end > 0 ? (uint64_t)end : 0;
    }
    io->dev = (uint64_t)st.st_dev;
    io->ino = (uint64_t)st.st_ino;
    io->allocated = (uint64_t)st.st_blocks * 512u;
    *out = io;
    return IMGFMT_OK;
}

int ifmt_io_open_path(const char *path, struct ifmt_io **out, imgfmt_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ifmt_seterr(err, IMGFMT_E_IO, e,
                           "%s: cannot open: %s", path, strerror(e));
    }
    return io_from_fd(fd, path, out, err);
}

int ifmt_io_open_fd(int fd, struct ifmt_io **out, imgfmt_error *err)
{
    *out = NULL;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (nfd < 0) {
        int e = errno;
        return ifmt_seterr(err, IMGFMT_E_IO, e, "fd %d: %s", fd, strerror(e));
    }
    char name[32];
    snprintf(name, sizeof name, "<fd %d>", fd);
    int r = io_from_fd(nfd, name, out, err);
    if (r == 0) {
        free((*out)->dir);
        (*out)->dir = strdup(".");
        if (!(*out)->dir) {
            ifmt_io_close(*out);
            *out = NULL;
            return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "out of memory");
        }
    }
    return r;
}

int ifmt_io_open_memory(const void *buf, size_t len, struct ifmt_io **out,
                        imgfmt_error *err)
{
    *out = NULL;
    if (!buf && len)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "memory image: NULL buffer");
    struct ifmt_io *io = calloc(1, sizeof(*io));
    if (!io)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "out of memory");
    io->fd = -1;
    io->mem = buf;
    io->size = len;
    io->path = strdup("<memory>");
    if (!io->path) {
        free(io);
        return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "out of memory");
    }
    *out = io;
    return IMGFMT_OK;
}

int ifmt_io_open_window(const struct ifmt_io *io, uint64_t base, uint64_t size,
                        struct ifmt_io **out, imgfmt_error *err)
{
    *out = NULL;
    if (base > io->size || size > io->size - base)
        return ifmt_seterr(err, IMGFMT_E_CORRUPT, 0,
                           "%s: member at %llu (+%llu) beyond end of file",
                           io->path, (unsigned long long)base,
                           (unsigned long long)size);
    struct ifmt_io *w = calloc(1, sizeof(*w));
    if (!w)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "out of memory");
    *w = *io;
    w->path = strdup(io->path);
    w->dir = io->dir ? strdup(io->dir) : NULL;
    w->fd = -1;
    if (io->fd >= 0)
        w->fd = fcntl(io->fd, F_DUPFD_CLOEXEC, 0);
    if (!w->path || (io->dir && !w->dir) || (io->fd >= 0 && w->fd < 0)) {
        int e = errno;
        ifmt_io_close(w);
        return ifmt_seterr(err, IMGFMT_E_NOMEM, e, "out of memory");
    }
    w->base = io->base + base;
    w->size = size;
    w->allocated = 0;
    *out = w;
    return IMGFMT_OK;
}

void ifmt_io_close(struct ifmt_io *io)
{
    if (!io)
        return;
    if (io->fd >= 0)
        close(io->fd);
    free(io->path);
    free(io->dir);
    free(io);
}

int ifmt_io_pread(struct ifmt_io *io, void *buf, size_t len, uint64_t off,
                  int *sys_errno)
{
    if (sys_errno)
        *sys_errno = 0;
    if (off > io->size || len > io->size - off)
        return IMGFMT_E_RANGE;
    if (io->mem) {
        memcpy(buf, io->mem + io->base + off, len);
        return IMGFMT_OK;
    }
    uint8_t *p = buf;
    uint64_t pos = io->base + off;
    while (len > 0) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        ssize_t n = pread(io->fd, p, chunk, (off_t)pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (sys_errno)
                *sys_errno = errno;
            return IMGFMT_E_IO;
        }
        if (n == 0) {
            /* The file shrank under us. */
            if (sys_errno)
                *sys_errno = EIO;
            return IMGFMT_E_IO;
        }
        p += n;
        pos += (uint64_t)n;
        len -= (size_t)n;
    }
    return IMGFMT_OK;
}

static int io_seek(struct ifmt_io *io, uint64_t off, int whence, uint64_t *out)
{
    if (off >= io->size) {
        *out = io->size;
        return IMGFMT_OK;
    }
    if (io->fd < 0 || !io->seek_data_ok) {
        *out = whence == SEEK_DATA ? off : io->size;
        return IMGFMT_OK;
    }
#if defined(SEEK_DATA) && defined(SEEK_HOLE)
    off_t r = lseek(io->fd, (off_t)(io->base + off), whence);
    if (r < 0) {
        if (errno == ENXIO) {
            /* No more data after off (SEEK_DATA), i.e. a hole to the end. */
            *out = io->size;
            return IMGFMT_OK;
        }
        /* The file system cannot tell: everything is data. */
        io->seek_data_ok = 0;
        *out = whence == SEEK_DATA ? off : io->size;
        return IMGFMT_OK;
    }
    uint64_t pos = (uint64_t)r;
    pos = pos < io->base ? 0 : pos - io->base;
    *out = pos > io->size ? io->size : pos;
    return IMGFMT_OK;
#else
    *out = whence == SEEK_DATA ? off : io->size;
    return IMGFMT_OK;
#endif
}

int ifmt_io_next_data(struct ifmt_io *io, uint64_t off, uint64_t *out)
{
    return io_seek(io, off, SEEK_DATA, out);
}

int ifmt_io_next_hole(struct ifmt_io *io, uint64_t off, uint64_t *out)
{
    return io_seek(io, off, SEEK_HOLE, out);
}
