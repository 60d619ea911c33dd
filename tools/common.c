/*
 * common.c -- see common.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

const char *prog = "imgfmt";

void tool_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void human_size(uint64_t v, char *buf, size_t len)
{
    /* As qemu's size_to_str(): the unit changes at 1000 of the smaller one,
     * three significant digits ("0.977 MiB", "1 GiB", "584 KiB"). */
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double x = (double)v * 1.024;
    int i = 0;
    while (i < 6 && x >= (double)(1ull << (10 * (i + 1))))
        i++;
    snprintf(buf, len, "%0.3g %s", (double)v / (double)(1ull << (10 * i)), units[i]);
}

int parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    case 'p': case 'P': mul = 1024.0 * 1024 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'i' && mul > 1)
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return -1;
    double r = v * mul;
    if (r >= 18446744073709551615.0)
        return -1;
    *out = (uint64_t)r;
    return 0;
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

imgfmt_image *tool_open(const char *path, const imgfmt_open_opts *o)
{
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    if (imgfmt_open(path, o, &img, &err) < 0) {
        tool_error("%s", err.msg[0] ? err.msg : imgfmt_strerror(err.code));
        return NULL;
    }
    return img;
}

void progress_update(enum progress_mode m, uint64_t done, uint64_t total, int final)
{
    static struct timespec last;
    struct timespec now;
    if (m == PROGRESS_NONE)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000;
    if (!final && ms < 200)
        return;
    last = now;
    if (m == PROGRESS_JSON) {
        fprintf(stderr, "{\"done\": %" PRIu64 ", \"total\": %" PRIu64 "}\n", done, total);
        return;
    }
    double pct = total ? 100.0 * (double)done / (double)total : 100.0;
    int width = 40, fill = (int)(pct * width / 100.0);
    fprintf(stderr, "\r    (%6.2f/100%%) [", pct);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : ' ', stderr);
    fputc(']', stderr);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

int parse_qcow2_opts(const char *s, imgfmt_qcow2_opts *o)
{
    char *dup = strdup(s), *save = NULL;
    if (!dup) {
        tool_error("out of memory");
        return -1;
    }
    int rc = 0;
    for (char *kv = strtok_r(dup, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *v = strchr(kv, '=');
        if (!v) {
            tool_error("-o: '%s' is not key=value", kv);
            rc = -1;
            break;
        }
        *v++ = 0;
        uint64_t n;
        if (strcmp(kv, "cluster_size") == 0) {
            if (parse_size(v, &n) < 0 || n > UINT32_MAX) {
                tool_error("-o cluster_size: bad size '%s'", v);
                rc = -1;
                break;
            }
            o->cluster_size = (uint32_t)n;
        } else if (strcmp(kv, "compat") == 0) {
            if (strcmp(v, "1.1") == 0 || strcmp(v, "v3") == 0)
                o->compat_v3 = 1;
            else if (strcmp(v, "0.10") == 0 || strcmp(v, "v2") == 0)
                o->compat_v3 = 0;
            else {
                tool_error("-o compat: '%s' is not 0.10 or 1.1", v);
                rc = -1;
                break;
            }
        } else if (strcmp(kv, "refcount_bits") == 0) {
            char *end;
            unsigned long b = strtoul(v, &end, 10);
            if (*end || b == 0 || b > 64) {
                tool_error("-o refcount_bits: bad value '%s'", v);
                rc = -1;
                break;
            }
            o->refcount_bits = (uint32_t)b;
        } else if (strcmp(kv, "compression_type") == 0) {
            if (strcmp(v, "zlib") == 0)
                o->compression_type = IMGFMT_QCOW2_ZLIB;
            else if (strcmp(v, "zstd") == 0)
                o->compression_type = IMGFMT_QCOW2_ZSTD;
            else {
                tool_error("-o compression_type: '%s' is not zlib or zstd", v);
                rc = -1;
                break;
            }
        } else {
            tool_error("-o: unknown option '%s' (cluster_size, compat, refcount_bits, "
                       "compression_type)", kv);
            rc = -1;
            break;
        }
    }
    free(dup);
    return rc;
}

unsigned tool_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > 64 ? 64u : (unsigned)n;
}
