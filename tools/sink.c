/*
 * sink.c -- see sink.h.
 */
#define _GNU_SOURCE 1          /* sync_file_range (Linux) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* pwrite all of it; 0 or an errno value. */
static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    while (len > 0) {
        if (sink_interrupted)
            return EINTR;
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/*
 * The background writer: a ring of slots filled by sink_pwrite (a copy)
 * and written in order by one thread.  Page-cache reads of the source and
 * page-cache writes of the output are both memory copies; on two cores
 * they overlap instead of taking turns.
 */
#define AS_SLOTS     4
#define AS_SLOT_SIZE (4u << 20)

struct sink_async {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    struct { uint8_t *buf; size_t len; uint64_t off; } slot[AS_SLOTS];
    unsigned head, count;   /* next slot to write, slots queued */
    int err;                /* first errno of the thread */
    int stop;
};

static void *as_main(void *arg)
{
    struct sink_async *a = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);     /* signals go to the main thread */
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->count && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        if (!a->count)
            break;
        unsigned i = a->head;
        int skip = a->err != 0;
        pthread_mutex_unlock(&a->mu);
        int e = skip ? 0 : pwrite_all(a->fd, a->slot[i].buf, a->slot[i].len, a->slot[i].off);
#ifdef SYNC_FILE_RANGE_WRITE
        /* Start writeback now (it does not wait): the fsync at the end then
         * finds most of the file on disk already instead of all of it dirty. */
        if (!e)
            (void)sync_file_range(a->fd, (off_t)a->slot[i].off, (off_t)a->slot[i].len,
                                  SYNC_FILE_RANGE_WRITE);
#endif
        pthread_mutex_lock(&a->mu);
        if (e && !a->err)
            a->err = e;
        a->head = (a->head + 1) % AS_SLOTS;
        a->count--;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static int as_start(struct sink *s)
{
    struct sink_async *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    a->fd = s->fd;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->th, NULL, as_main, a) != 0) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a);
        return -1;
    }
    s->as = a;
    return 0;
}

/* Wait until the queue is empty (everything written); the thread's errno. */
static int as_drain(struct sink_async *a)
{
    pthread_mutex_lock(&a->mu);
    while (a->count)
        pthread_cond_wait(&a->cv, &a->mu);
    int e = a->err;
    pthread_mutex_unlock(&a->mu);
    return e;
}

static void as_stop(struct sink *s)
{
    struct sink_async *a = s->as;
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    a->err = a->err ? a->err : ECANCELED;      /* abandon what is queued */
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    for (unsigned i = 0; i < AS_SLOTS; i++)
        free(a->slot[i].buf);
    free(a);
    s->as = NULL;
}

static int pwrite_failed(struct sink *s, int e)
{
    if (e == EINTR)
        tool_error("interrupted");
    else
        tool_error("%s: write failed: %s", s->dst, strerror(e));
    errno = e;
    return -1;
}

int sink_pwrite(struct sink *s, const void *buf, size_t len, uint64_t off)
{
    if (s->is_pipe) {
        errno = ESPIPE;
        tool_error("stdout: positioned write on a stream");
        return -1;
    }
    if (sink_interrupted)
        return pwrite_failed(s, EINTR);
    if (off + len > s->pos)
        s->pos = off + len;
    if (!s->as && as_start(s) < 0) {
        int e = pwrite_all(s->fd, buf, len, off);   /* no thread: write here */
        return e ? pwrite_failed(s, e) : 0;
    }
    struct sink_async *a = s->as;
    if (len > AS_SLOT_SIZE) {
        /* Rare (only clusters of 2 MiB come close): in order, after the queue. */
        int e = as_drain(a);
        if (!e)
            e = pwrite_all(s->fd, buf, len, off);
        return e ? pwrite_failed(s, e) : 0;
    }
    pthread_mutex_lock(&a->mu);
    while (a->count == AS_SLOTS && !a->err)
        pthread_cond_wait(&a->cv, &a->mu);
    int e = a->err;
    unsigned i = (a->head + a->count) % AS_SLOTS;     /* free: only this thread adds */
    pthread_mutex_unlock(&a->mu);
    if (e)
        return pwrite_failed(s, e);
    if (!a->slot[i].buf && !(a->slot[i].buf = malloc(AS_SLOT_SIZE))) {
        tool_error("out of memory");
        errno = ENOMEM;
        return -1;
    }
    memcpy(a->slot[i].buf, buf, len);
    a->slot[i].len = len;
    a->slot[i].off = off;
    pthread_mutex_lock(&a->mu);
    a->count++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
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
    if (s->as) {
        int e = as_drain(s->as);
        as_stop(s);
        if (e)
            return pwrite_failed(s, e);
    }
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
    as_stop(s);
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
