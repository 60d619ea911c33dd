/*
 * testutil.h -- helpers for the check suites.
 */
#ifndef IMGFMT_TESTUTIL_H
#define IMGFMT_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgfmt.h"

/* Path of a file in testdata/ (static buffer, one at a time). */
static inline const char *td_path(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("IMGFMT_TESTDATA");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "testdata", name);
    return buf;
}

/* Write len bytes to a new temporary file; returns its malloc'ed path. */
static inline char *tmp_file(const void *data, size_t len)
{
    const char *dir = getenv("TMPDIR");
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/imgfmt-test-XXXXXX", dir ? dir : "/tmp");
    int fd = mkstemp(p);
    ck_assert_int_ge(fd, 0);
    if (len)
        ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return p;
}

/* Open from memory with default options; asserts success. */
static inline imgfmt_image *open_mem_ok(const void *buf, size_t len)
{
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open_memory(buf, len, NULL, &img, &err);
    ck_assert_msg(r == 0, "open failed: %d %s", r, err.msg);
    return img;
}

/* Open from memory expecting failure with code; returns the message. */
static inline void open_mem_fails(const void *buf, size_t len, enum imgfmt_format f,
                                  int code, const char *needle)
{
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.format = f;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open_memory(buf, len, &o, &img, &err);
    ck_assert_msg(r == code, "expected %d, got %d (%s)", code, r, err.msg);
    ck_assert_ptr_null(img);
    ck_assert_int_eq(err.code, code);
    if (needle)
        ck_assert_msg(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

/* Run a suite; the exit status for main(). */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
