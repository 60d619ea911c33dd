/*
 * warning.c -- the one warnings list: every warning about an image (from
 * its driver at open, from the partition-table reader later) is kept on the
 * image handle with its numeric code.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"

/* A bound on the list: a hostile image cannot make it grow without end. */
#define MAX_WARNINGS 256u

static bool already_recorded(const imgfmt_image *img, enum imgfmt_warning_code code,
                             const char *msg)
{
    for (uint32_t i = 0; i < img->nb_warnings; i++)
        if (img->warnings[i].code == code && strcmp(img->warnings[i].msg, msg) == 0)
            return true;
    return false;
}

void ifmt_warn(imgfmt_image *img, enum imgfmt_warning_code code, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (img->nb_warnings >= MAX_WARNINGS || already_recorded(img, code, buf))
        return;
    struct ifmt_warning *w = realloc(img->warnings, (img->nb_warnings + 1) * sizeof *w);
    if (!w)
        return;
    img->warnings = w;
    char *msg = strdup(buf);
    if (!msg)
        return;
    w[img->nb_warnings].code = code;
    w[img->nb_warnings].msg = msg;
    img->nb_warnings++;
}

void ifmt_warnings_free(imgfmt_image *img)
{
    for (uint32_t i = 0; i < img->nb_warnings; i++)
        free(img->warnings[i].msg);
    free(img->warnings);
    img->warnings = NULL;
    img->nb_warnings = 0;
}

uint32_t imgfmt_nb_warnings(const imgfmt_image *img)
{
    return img ? img->nb_warnings : 0;
}

const char *imgfmt_warning(const imgfmt_image *img, uint32_t i)
{
    return img && i < img->nb_warnings ? img->warnings[i].msg : NULL;
}

enum imgfmt_warning_code imgfmt_warning_code(const imgfmt_image *img, uint32_t i)
{
    return img && i < img->nb_warnings ? img->warnings[i].code : IMGFMT_W_NONE;
}
