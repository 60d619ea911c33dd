/*
 * common.h -- small helpers shared by the imgfmt tools.
 */
#ifndef IMGFMT_TOOLS_COMMON_H
#define IMGFMT_TOOLS_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "imgfmt.h"

/* Exit statuses of every tool. */
enum { EXIT_OK = 0, EXIT_IMAGE = 1, EXIT_USAGE = 2 };

extern const char *prog;   /* set by main() */

/* "prog: message" on stderr, one line. */
void tool_error(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* qemu-style human size: "1 MiB", "1.5 GiB", "584 KiB", "512 B". */
void human_size(uint64_t v, char *buf, size_t len);

/* Parse "123", "64k", "2M", "1.5G", "50G" (binary units; suffix B allowed).
 * Returns 0 on success. */
int parse_size(const char *s, uint64_t *out);

/* Print s as a JSON string (with quotes). */
void json_string(FILE *f, const char *s);

/* Open an image per the common options; prints the error and returns NULL. */
imgfmt_image *tool_open(const char *path, const imgfmt_open_opts *o);

/* Progress display: a bar on a terminal (human) or JSON lines. */
enum progress_mode { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_JSON };
void progress_update(enum progress_mode m, uint64_t done, uint64_t total, int final);

/* Parse qemu-img style "-o cluster_size=64k,compat=1.1,refcount_bits=16,
 * compression_type=zlib" into o (on top of what it holds).  Prints the error
 * and returns -1 on a bad option. */
int parse_qcow2_opts(const char *s, imgfmt_qcow2_opts *o);

/* Number of online CPUs (at least 1), for compression threads. */
unsigned tool_ncpus(void);

#endif
