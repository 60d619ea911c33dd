/*
 * guestfile.c -- small reads of guest files for the inspection steps.
 */
#define IMGFMT_BUILDING 1
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"

int ifmt_guest_read(imgfmt_filesystem *fs, const char *path, size_t cap, char **buf,
                    size_t *len)
{
    imgfmt_file *f;
    *buf = NULL;
    *len = 0;
    int r = imgfmt_fs_open_file(fs, path, &f);
    if (r < 0)
        return r;
    uint64_t size = imgfmt_file_stat(f)->size;
    if (size > cap) {
        imgfmt_file_close(f);
        return IMGFMT_E_LIMIT;
    }
    char *b = malloc((size_t)size + 1);
    if (!b) {
        imgfmt_file_close(f);
        return IMGFMT_E_NOMEM;
    }
    size_t got = 0;
    r = imgfmt_file_pread(f, b, (size_t)size, 0, &got);
    imgfmt_file_close(f);
    if (r < 0) {
        free(b);
        return r;
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    return IMGFMT_OK;
}

bool ifmt_guest_exists(imgfmt_filesystem *fs, const char *path)
{
    imgfmt_stat st;
    return imgfmt_fs_stat(fs, path, IMGFMT_NOFOLLOW, &st) == 0;
}

bool ifmt_guest_is_dir(imgfmt_filesystem *fs, const char *path)
{
    imgfmt_stat st;
    return imgfmt_fs_stat(fs, path, 0, &st) == 0 && st.type == IMGFMT_FILE_DIR;
}

void ifmt_append(char *dst, size_t cap, const char *sep, const char *fmt, ...)
{
    size_t n = strlen(dst);
    if (n + 1 >= cap)
        return;
    if (n && sep) {
        snprintf(dst + n, cap - n, "%s", sep);
        n = strlen(dst);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst + n, cap - n, fmt, ap);
    va_end(ap);
}

void ifmt_copy(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}
