/*
 * sink.c -- see sink.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "sink.h"

volatile int sink_interrupted;

static void on_signal(int sig)
{
    sink_interrupted = sig;
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocked write returns EINTR and we clean up. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
}

int sink_open(struct sink *s, const char *dst, const char *src_path)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    install_handlers();
    if (strcmp(dst, "-") == 0) {
        s->fd = STDOUT_FILENO;
        s->is_pipe = 1;
        struct stat st;
        /* Even when stdout is a regular file, write sequentially. */
        (void)fstat(s->fd, &st);
        return 0;
    }
    struct stat sst, dstst;
    if (src_path && stat(src_path, &sst) == 0 && stat(dst, &dstst) == 0 &&
        sst.st_dev == dstst.st_dev && sst.st_ino == dstst.st_ino) {
        tool_error("%s: refusing to overwrite the source image", dst);
        return -1;
    }
    s->dst = strdup(dst);
    size_t n = strlen(dst) + 32;
    s->tmp = malloc(n);
    if (!s->dst || !s->tmp) {
        tool_error("out of memory");
        sink_abort(s);
        return -1;
    }
    /* Same directory, so the final rename is atomic. */
    const char *slash = strrchr(dst, '/');
    int dirlen = slash ? (int)(slash - dst + 1) : 0;
    snprintf(s->tmp, n, "%.*s.%s.tmp-XXXXXX", dirlen, dst, slash ? slash + 1 : dst);
    s->fd = mkstemp(s->tmp);
    if (s->fd < 0) {
        int e = errno;
        tool_error("%s: cannot create: %s", dst, strerror(e));
        free(s->tmp);
        s->tmp = NULL;
        sink_abort(s);
        return -1;
    }
    fchmod(s->fd, 0644 & ~(mode_t)0);
    s->can_skip = 1;
    return 0;
}

int sink_write(struct sink *s, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        if (sink_interrupted) {
            errno = EINTR;
            tool_error("interrupted");
            return -1;
        }
        ssize_t n = write(s->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            tool_error("%s: write failed: %s", s->dst ? s->dst : "stdout", strerror(e));
            errno = e;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        s->pos += (uint64_t)n;
    }
    return 0;
}

int sink_pwrite(struct sink *s, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    if (s->is_pipe) {
        errno = ESPIPE;
        tool_error("stdout: positioned write on a stream");
        return -1;
    }
    while (len > 0) {
        if (sink_interrupted) {
            errno = EINTR;
            tool_error("interrupted");
            return -1;
        }
        ssize_t n = pwrite(s->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            tool_error("%s: write failed: %s", s->dst, strerror(e));
            errno = e;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
        if (off > s->pos)
            s->pos = off;
    }
    return 0;
}

int sink_zero(struct sink *s, uint64_t len)
{
    if (s->can_skip) {
        if (lseek(s->fd, (off_t)len, SEEK_CUR) < 0) {
            tool_error("%s: seek failed: %s", s->dst, strerror(errno));
            return -1;
        }
        s->pos += len;
        return 0;
    }
    static const uint8_t zeros[65536];
    while (len > 0) {
        size_t n = len > sizeof zeros ? sizeof zeros : (size_t)len;
        if (sink_write(s, zeros, n) < 0)
            return -1;
        len -= n;
    }
    return 0;
}

int sink_commit(struct sink *s)
{
    if (sink_interrupted) {
        tool_error("interrupted");
        return -1;
    }
    if (s->is_pipe)
        return 0;
    /* Trailing holes: set the length explicitly. */
    if (ftruncate(s->fd, (off_t)s->pos) < 0 || fsync(s->fd) < 0) {
        tool_error("%s: %s", s->dst, strerror(errno));
        return -1;
    }
    if (close(s->fd) < 0) {
        s->fd = -1;
        tool_error("%s: %s", s->dst, strerror(errno));
        return -1;
    }
    s->fd = -1;
    if (rename(s->tmp, s->dst) < 0) {
        tool_error("%s: cannot rename into place: %s", s->dst, strerror(errno));
        return -1;
    }
    free(s->tmp);
    s->tmp = NULL;
    free(s->dst);
    s->dst = NULL;
    return 0;
}

void sink_abort(struct sink *s)
{
    if (!s->is_pipe && s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    if (s->tmp)
        unlink(s->tmp);
    free(s->tmp);
    s->tmp = NULL;
    free(s->dst);
    s->dst = NULL;
}
