/*
 * error.c -- error codes, their static texts, and the helpers that write a
 * message into an imgfmt_error where the problem is found.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <string.h>

#include "core/image.h"

const char *imgfmt_strerror(int code)
{
    switch (code) {
    case IMGFMT_OK:               return "success";
    case IMGFMT_E_INVAL:          return "invalid argument";
    case IMGFMT_E_NOMEM:          return "out of memory";
    case IMGFMT_E_IO:             return "I/O error";
    case IMGFMT_E_UNKNOWN_FORMAT: return "unknown image format";
    case IMGFMT_E_CORRUPT:        return "corrupt image";
    case IMGFMT_E_UNSUPPORTED:    return "unsupported image feature";
    case IMGFMT_E_RANGE:          return "request outside the virtual disk";
    case IMGFMT_E_LIMIT:          return "safety limit exceeded";
    case IMGFMT_E_BACKING:        return "backing or extent file problem";
    case IMGFMT_E_NOT_FOUND:      return "no such file or directory";
    case IMGFMT_E_NOT_DIR:        return "not a directory";
    case IMGFMT_E_WRITE:          return "the write callback failed";
    default:                      return "unknown error";
    }
}

int ifmt_vseterr(imgfmt_error *e, int code, int sys_errno, const char *fmt, va_list ap)
{
    if (e) {
        e->code = code;
        e->sys_errno = sys_errno;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    }
    return code;
}

int ifmt_seterr(imgfmt_error *e, int code, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ifmt_vseterr(e, code, sys_errno, fmt, ap);
    va_end(ap);
    return code;
}

int ifmt_error(imgfmt_image *img, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ifmt_vseterr(&img->err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int ifmt_error_errno(imgfmt_image *img, int code, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ifmt_vseterr(&img->err, code, sys_errno, fmt, ap);
    va_end(ap);
    return code;
}

int ifmt_check_struct_size(imgfmt_error *e, const char *type, uint32_t size,
                           size_t expected)
{
    /* Every struct is at its first version: exactly one size is known.  When
     * one grows, the sizes it had before are accepted here too, and the
     * fields they lack take their defaults. */
    if (size == expected)
        return IMGFMT_OK;
    return ifmt_seterr(e, IMGFMT_E_INVAL, 0,
                       "%s: struct_size %u, expected %zu (set it to sizeof(%s)%s)", type,
                       (unsigned)size, expected, type,
                       strstr(type, "opts") ? ", or call the _init function" : "");
}
