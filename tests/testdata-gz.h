/*
 * testdata-gz.h -- committed images (testdata/NAME.gz) unpacked into a
 * scratch directory for the tests that need real files (backing chains,
 * extent files).  Include after testutil.h; link zlib.
 */
#ifndef IMGFMT_TESTDATA_GZ_H
#define IMGFMT_TESTDATA_GZ_H

#include <zlib.h>

#include "testutil.h"

static char td_tmpdir[4096];

/* A fresh directory under $TMPDIR named after prefix. */
static inline void td_make_tmpdir(const char *prefix)
{
    const char *t = getenv("TMPDIR");
    snprintf(td_tmpdir, sizeof td_tmpdir, "%s/%s-XXXXXX", t ? t : "/tmp", prefix);
    ck_assert_ptr_nonnull(mkdtemp(td_tmpdir));
}

static inline void td_rm_tmpdir(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", td_tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Gunzip testdata/NAME.gz to the scratch directory; returns the path
 * (static: valid until the next call). */
static inline const char *td_unpack(const char *name)
{
    static char out[4200];
    char gzname[512];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    gzFile in = gzopen(td_path(gzname), "rb");
    ck_assert_msg(in != NULL, "cannot open %s", td_path(gzname));
    snprintf(out, sizeof out, "%s/%s", td_tmpdir, name);
    FILE *f = fopen(out, "wb");
    ck_assert_ptr_nonnull(f);
    char buf[65536];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0)
        ck_assert_int_eq(fwrite(buf, 1, (size_t)n, f), (size_t)n);
    ck_assert_int_eq(n, 0);
    gzclose(in);
    fclose(f);
    return out;
}

static inline imgfmt_image *open_path_ok(const char *path)
{
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open(path, NULL, &img, &err);
    ck_assert_msg(r == 0, "open %s failed: %d %s", path, r, err.msg);
    return img;
}

#endif
