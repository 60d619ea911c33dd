/*
 * error.h -- recording errors: on an image handle, or in a caller's
 * imgfmt_error before a handle exists.  Every function returns the code it
 * was given, so `return ifmt_error(img, CODE, "...")` fits on one line.
 */
#ifndef IMGFMT_CORE_ERROR_H
#define IMGFMT_CORE_ERROR_H

#ifndef IMGFMT_BUILDING
#error "core/error.h is private to libimgfmt"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "imgfmt.h"

#if defined(__GNUC__) || defined(__clang__)
#define IFMT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define IFMT_PRINTF(a, b)
#endif

int ifmt_error(imgfmt_image *img, int code, const char *fmt, ...) IFMT_PRINTF(3, 4);
int ifmt_error_errno(imgfmt_image *img, int code, int sys_errno,
                     const char *fmt, ...) IFMT_PRINTF(4, 5);
int ifmt_seterr(imgfmt_error *e, int code, int sys_errno, const char *fmt, ...)
    IFMT_PRINTF(4, 5);
int ifmt_vseterr(imgfmt_error *e, int code, int sys_errno, const char *fmt, va_list ap);
/* The struct_size rule (include/imgfmt.h, Conventions) for every versioned
 * struct: OK, or INVAL in e naming type ("imgfmt_info"). */
int ifmt_check_struct_size(imgfmt_error *e, const char *type, uint32_t size,
                           size_t expected);

#endif
