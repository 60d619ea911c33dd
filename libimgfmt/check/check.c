/*
 * check.c -- the public side of the import pre-flight check: options,
 * names, the result object and its accessors, and the two entry points
 * (an open image, or a path that may not open at all).  The rules are in
 * rules.c, the refused formats in refused.c.
 */
#define IMGFMT_BUILDING 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"

/* ---- names -------------------------------------------------------------- */

#define NAME_AT(table, i) \
    ((size_t)(i) < sizeof(table) / sizeof(table)[0] && (table)[i] ? (table)[i] : "unknown")

const char *imgfmt_check_status_name(enum imgfmt_check_status s)
{
    static const char *const names[] = {"pass", "fail", "warn", "not-checked"};
    return NAME_AT(names, s);
}

const char *imgfmt_check_code_name(enum imgfmt_check_code c)
{
    static const char *const names[] = {
        [IMGFMT_CODE_INVALID_FORMAT_SIZE] = "InvalidFormatSize",
        [IMGFMT_CODE_PARTITION_NOT_PRESENT] = "PartitionNotPresent",
        [IMGFMT_CODE_ROOT_PARTITION_NOT_FOUND] = "RootPartitionNotFound",
        [IMGFMT_CODE_VIRTIO_NOT_INSTALL] = "VirtioNotInstall",
        [IMGFMT_CODE_CLOUD_INIT_NOT_INSTALLED] = "CloudInitNotInstalled",
        [IMGFMT_CODE_EXTERNAL_FILES] = "ExternalFiles",
        [IMGFMT_CODE_VHD_SIZE_RULE] = "VhdSizeRule",
        [IMGFMT_CODE_IMAGE_STATE] = "ImageState",
        [IMGFMT_CODE_IMAGE_WARNING] = "ImageWarning",
        [IMGFMT_CODE_WINDOWS_DISK_LAYOUT] = "WindowsDiskLayout",
        [IMGFMT_CODE_OS_NOT_LISTED] = "OsNotListed",
        [IMGFMT_CODE_DEVICE_NAMES] = "DeviceNames",
    };
    return NAME_AT(names, c);
}

const char *imgfmt_check_id_name(enum imgfmt_check_id id)
{
    static const char *const names[] = {
        [IMGFMT_CHECK_ID_FORMAT] = "format",
        [IMGFMT_CHECK_ID_VIRTUAL_SIZE] = "virtual-size",
        [IMGFMT_CHECK_ID_CONVERTED_SIZE] = "converted-size",
        [IMGFMT_CHECK_ID_EXTERNAL_FILES] = "external-files",
        [IMGFMT_CHECK_ID_CORRUPT] = "corrupt",
        [IMGFMT_CHECK_ID_DIRTY] = "dirty",
        [IMGFMT_CHECK_ID_IMAGE_WARNING] = "image-warning",
        [IMGFMT_CHECK_ID_VHD_SIZE] = "vhd-size",
        [IMGFMT_CHECK_ID_PARTITION_TABLE] = "partition-table",
        [IMGFMT_CHECK_ID_PARTITION_WARNING] = "partition-warning",
        [IMGFMT_CHECK_ID_ROOT_PARTITION] = "root-partition",
        [IMGFMT_CHECK_ID_WINDOWS_TABLE] = "windows-table",
        [IMGFMT_CHECK_ID_WINDOWS_DYNAMIC_DISK] = "windows-dynamic-disk",
        [IMGFMT_CHECK_ID_WINDOWS_LVM] = "windows-lvm",
        [IMGFMT_CHECK_ID_WINDOWS_SYSTEM] = "windows-system",
        [IMGFMT_CHECK_ID_VIRTIO_DRIVERS] = "virtio-drivers",
        [IMGFMT_CHECK_ID_CLOUD_INIT] = "cloud-init",
        [IMGFMT_CHECK_ID_OS_LIST] = "os-list",
        [IMGFMT_CHECK_ID_DEVICE_NAMES] = "device-names",
    };
    return NAME_AT(names, id);
}

const char *imgfmt_check_os_name(enum imgfmt_check_os os)
{
    static const char *const names[] = {"auto", "linux", "windows"};
    return NAME_AT(names, os);
}

/* ---- options ------------------------------------------------------------ */

void imgfmt_check_opts_init(imgfmt_check_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->os = IMGFMT_CHECK_OS_AUTO;
    o->max_virtual_size = 500ull << 30;
    o->max_converted_size = 50ull << 30;
    o->accepted_formats = IMGFMT_CHECK_FORMAT_BIT(IMGFMT_FMT_RAW) |
                          IMGFMT_CHECK_FORMAT_BIT(IMGFMT_FMT_VHD) |
                          IMGFMT_CHECK_FORMAT_BIT(IMGFMT_FMT_QCOW2) |
                          IMGFMT_CHECK_FORMAT_BIT(IMGFMT_FMT_VMDK);
}

/* The caller's options, checked (imgfmt.h Conventions: struct_size). */
static int take_opts(const imgfmt_check_opts *in, imgfmt_check_opts *o, imgfmt_error *err)
{
    imgfmt_check_opts_init(o);
    if (!in)
        return IMGFMT_OK;
    int r = ifmt_check_struct_size(err, "imgfmt_check_opts", in->struct_size, sizeof *o);
    if (r < 0)
        return r;
    *o = *in;
    if ((unsigned)o->os > IMGFMT_CHECK_OS_WINDOWS)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_check_opts: unknown os %u",
                           (unsigned)o->os);
    imgfmt_check_opts defaults;
    imgfmt_check_opts_init(&defaults);
    if (!o->accepted_formats || (o->accepted_formats & ~defaults.accepted_formats))
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_check_opts: accepted_formats 0x%x "
                           "names no format, or one libimgfmt does not know",
                           (unsigned)o->accepted_formats);
    return IMGFMT_OK;
}

/* ---- the result --------------------------------------------------------- */

static char *vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

struct ifmt_finding *ifmt_check_add(imgfmt_check_result *r, enum imgfmt_check_code code,
                                    enum imgfmt_check_id check,
                                    enum imgfmt_check_status status, const char *fix,
                                    const char *fmt, ...)
{
    if (r->n == r->cap) {
        uint32_t ncap = r->cap ? r->cap * 2 : 32;
        struct ifmt_finding *nf = ncap > r->cap ? realloc(r->f, ncap * sizeof *nf) : NULL;
        if (!nf) {
            r->nomem = true;
            return NULL;
        }
        r->f = nf;
        r->cap = ncap;
    }
    struct ifmt_finding *f = &r->f[r->n];
    va_list ap;
    va_start(ap, fmt);
    f->message = vformat(fmt, ap);
    va_end(ap);
    bool keep_fix = fix && (status == IMGFMT_CHECK_FAIL || status == IMGFMT_CHECK_WARN);
    f->fix = strdup(keep_fix ? fix : "");
    if (!f->message || !f->fix) {
        free(f->message);
        free(f->fix);
        r->nomem = true;
        return NULL;
    }
    f->code = code;
    f->check = check;
    f->status = status;
    f->measured = f->limit = IMGFMT_CHECK_NO_VALUE;
    r->n++;
    return f;
}

void ifmt_check_read_failed(imgfmt_check_result *r, const imgfmt_error *e)
{
    if (r->read_err.code == IMGFMT_OK)
        r->read_err = *e;
    if (r->read_err.code == IMGFMT_OK)
        r->read_err.code = IMGFMT_E_IO;
}

void imgfmt_check_result_free(imgfmt_check_result *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n; i++) {
        free(r->f[i].message);
        free(r->f[i].fix);
    }
    free(r->f);
    free(r);
}

uint32_t imgfmt_check_count(const imgfmt_check_result *r)
{
    return r ? r->n : 0;
}

uint32_t imgfmt_check_count_status(const imgfmt_check_result *r, enum imgfmt_check_status s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; r && i < r->n; i++)
        n += r->f[i].status == s;
    return n;
}

enum imgfmt_check_os imgfmt_check_result_os(const imgfmt_check_result *r)
{
    return r ? r->os : IMGFMT_CHECK_OS_AUTO;
}

const imgfmt_error *imgfmt_check_read_error(const imgfmt_check_result *r)
{
    static const imgfmt_error none = {IMGFMT_OK, 0, ""};
    return r ? &r->read_err : &none;
}

int imgfmt_check_get(const imgfmt_check_result *r, uint32_t i, imgfmt_check_finding *out)
{
    if (!r || !out || ifmt_check_struct_size(NULL, "imgfmt_check_finding", out->struct_size,
                                             sizeof *out) < 0)
        return IMGFMT_E_INVAL;
    if (i >= r->n)
        return IMGFMT_E_RANGE;
    const struct ifmt_finding *f = &r->f[i];
    imgfmt_check_finding full = {
        .struct_size = sizeof full,
        .code = f->code,
        .check = f->check,
        .status = f->status,
        .code_name = imgfmt_check_code_name(f->code),
        .check_name = imgfmt_check_id_name(f->check),
        .status_name = imgfmt_check_status_name(f->status),
        .message = f->message,
        .measured = f->measured,
        .limit = f->limit,
        .fix = f->fix,
    };
    *out = full;
    return IMGFMT_OK;
}

/* ---- running ------------------------------------------------------------ */

/* A new result and run state; *out NULL and err set on failure. */
static int begin(struct ifmt_check *c, const imgfmt_check_opts *opts, imgfmt_error *err)
{
    memset(c, 0, sizeof *c);
    int r = take_opts(opts, &c->opts, err);
    if (r < 0)
        return r;
    c->res = calloc(1, sizeof *c->res);
    if (!c->res)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "check: out of memory");
    c->res->os = c->opts.os;
    return IMGFMT_OK;
}

static int finish(struct ifmt_check *c, imgfmt_check_result **out, imgfmt_error *err)
{
    imgfmt_partition_table_free(c->table);
    c->table = NULL;
    if (c->res->nomem) {
        imgfmt_check_result_free(c->res);
        return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "check: out of memory");
    }
    *out = c->res;
    if (err)
        ifmt_seterr(err, IMGFMT_OK, 0, "%s", "");
    return IMGFMT_OK;
}

/* Whether the first and last bytes of io show a refused format (*why). */
static int sniff_io(struct ifmt_io *io, bool *refused, struct ifmt_refused *why,
                    imgfmt_error *err)
{
    *refused = false;
    uint8_t *head = malloc(IFMT_REFUSED_HEAD), tail[IFMT_REFUSED_TAIL];
    if (!head)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "check: out of memory");
    size_t n = io->size < IFMT_REFUSED_HEAD ? (size_t)io->size : IFMT_REFUSED_HEAD;
    size_t tn = io->size < IFMT_REFUSED_TAIL ? (size_t)io->size : IFMT_REFUSED_TAIL;
    int e = 0, r = IMGFMT_OK;
    if (ifmt_io_pread(io, head, n, 0, &e) < 0 ||
        ifmt_io_pread(io, tail, tn, io->size - tn, &e) < 0) {
        r = ifmt_seterr(err, IMGFMT_E_IO, e, "%s: cannot read: %s", io->path,
                        e ? strerror(e) : "short read");
    } else {
        struct ifmt_probe_bytes b = {head, n, tail, tn, io->size};
        *refused = ifmt_refused_format(&b, why);
    }
    free(head);
    return r;
}

int imgfmt_check_run(imgfmt_image *img, const imgfmt_check_opts *opts,
                     imgfmt_check_result **out, imgfmt_error *err)
{
    if (out)
        *out = NULL;
    if (!img || !out)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_check_run: NULL argument");
    struct ifmt_check c;
    int r = begin(&c, opts, err);
    if (r < 0)
        return r;
    c.img = img;
    c.info.struct_size = sizeof c.info;
    struct ifmt_refused why;
    bool refused = false;
    r = imgfmt_get_info(img, &c.info);
    if (r < 0 && err)
        *err = *imgfmt_last_error(img);
    if (r == 0)
        r = sniff_io(img->io, &refused, &why, err);
    if (r < 0) {
        imgfmt_check_result_free(c.res);
        return r;
    }
    /* An OVA opens as the VMDK member inside: the import takes neither. */
    if (c.info.subformat && strncmp(c.info.subformat, "ova:", 4) == 0) {
        why = ifmt_refused_tar();
        refused = true;
    }
    if (refused)
        ifmt_check_refused(&c, &why, NULL);
    else
        ifmt_check_rules(&c);
    return finish(&c, out, err);
}

/* Whether the file at path is in a refused format (*why). */
static int sniff_path(const char *path, bool *refused, struct ifmt_refused *why,
                      imgfmt_error *err)
{
    struct ifmt_io *io = NULL;
    int r = ifmt_io_open_path(path, &io, err);
    if (r < 0)
        return r;
    r = sniff_io(io, refused, why, err);
    ifmt_io_close(io);
    return r;
}

int imgfmt_check_path(const char *path, const imgfmt_open_opts *open_opts,
                      const imgfmt_check_opts *opts, imgfmt_check_result **out,
                      imgfmt_error *err)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_check_path: NULL argument");
    imgfmt_image *img = NULL;
    imgfmt_error open_err = {0};
    int r = imgfmt_open(path, open_opts, &img, &open_err);
    if (r == 0) {
        r = imgfmt_check_run(img, opts, out, err);
        imgfmt_close(img);
        return r;
    }
    if (r == IMGFMT_E_IO || r == IMGFMT_E_NOMEM || r == IMGFMT_E_INVAL) {
        if (err)
            *err = open_err;
        return r;
    }
    struct ifmt_refused why;
    bool refused = false;
    r = sniff_path(path, &refused, &why, err);
    struct ifmt_check c;
    if (r == 0)
        r = begin(&c, opts, err);
    if (r < 0)
        return r;
    if (refused)
        ifmt_check_refused(&c, &why, &open_err);
    else
        ifmt_check_unopenable(&c, &open_err);
    return finish(&c, out, err);
}
