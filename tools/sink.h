/*
 * sink.h -- where imgfmt-convert writes: a regular file (written under a
 * temporary name in the same directory, fsync'd, renamed only on success)
 * or standard output (strictly sequential, no seeks).
 */
#ifndef IMGFMT_TOOLS_SINK_H
#define IMGFMT_TOOLS_SINK_H

#include <stddef.h>
#include <stdint.h>

struct sink_async;

struct sink {
    int fd;
    int is_pipe;          /* stdout: no seeks, no rename */
    int can_skip;         /* holes may be left with lseek */
    uint64_t pos;         /* bytes written or skipped so far */
    char *dst;            /* final path (NULL for stdout) */
    char *tmp;            /* temporary path while writing */
    struct sink_async *as;  /* background writer for sink_pwrite, or NULL */
};

/* Open "-" (stdout) or a file path.  src_path is refused as destination if
 * it is the same file.  Returns 0 or -1 after printing an error. */
int sink_open(struct sink *s, const char *dst, const char *src_path);
/* Append len bytes.  0 or -1 (error printed; errno kept). */
int sink_write(struct sink *s, const void *buf, size_t len);
/* Write len bytes at offset off (files only; the length grows to cover
 * them).  The bytes are copied and written by a background thread, in
 * order, so reading the source overlaps writing the output; an error shows
 * at a later call or at sink_commit.  0 or -1 (error printed; errno kept). */
int sink_pwrite(struct sink *s, const void *buf, size_t len, uint64_t off);
/* Append len zero bytes: a hole in a file, written zeros in a pipe. */
int sink_zero(struct sink *s, uint64_t len);
/* Finish: set the length, fsync, rename into place.  0 or -1. */
int sink_commit(struct sink *s);
/* Give up: remove the temporary file.  Safe to call twice. */
void sink_abort(struct sink *s);

/* Set by SIGINT/SIGTERM/SIGHUP/SIGPIPE handlers installed by sink_open. */
extern volatile int sink_interrupted;

#endif
