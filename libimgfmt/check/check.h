/*
 * check.h -- private to libimgfmt: the pre-flight check's result object,
 * the finding recorder, the table of refused formats and the rules.
 * Public side: the "Import pre-flight check" section of imgfmt.h.
 */
#ifndef IMGFMT_CHECK_CHECK_H
#define IMGFMT_CHECK_CHECK_H

#include "core/driver.h"
#include "core/image.h"

struct ifmt_finding {
    enum imgfmt_check_code code;
    enum imgfmt_check_id check;
    enum imgfmt_check_status status;
    char *message;                /* owned */
    char *fix;                    /* owned; "" unless FAIL or WARN */
    uint64_t measured, limit;     /* IMGFMT_CHECK_NO_VALUE if not a size rule */
};

struct imgfmt_check_result {
    struct ifmt_finding *f;
    uint32_t n, cap;
    bool nomem;                   /* a finding could not be recorded */
    enum imgfmt_check_os os;      /* the rules applied */
    imgfmt_error read_err;        /* first read error that stopped a rule */
};

/* One run: the options, the image and what the rules share. */
struct ifmt_check {
    imgfmt_check_result *res;
    imgfmt_check_opts opts;
    imgfmt_image *img;            /* NULL when the file could not be opened */
    imgfmt_info info;
    imgfmt_partition_table *table;   /* NULL if unreadable */
};

/* check.c */
/* Append a finding; fix is kept for FAIL and WARN only.  Returns the finding
 * (to set measured/limit), or NULL after an allocation failure (recorded). */
struct ifmt_finding *ifmt_check_add(imgfmt_check_result *r, enum imgfmt_check_code code,
                                    enum imgfmt_check_id check,
                                    enum imgfmt_check_status status, const char *fix,
                                    const char *fmt, ...) IFMT_PRINTF(6, 7);
/* Remember the first read error that left a rule NOT_CHECKED. */
void ifmt_check_read_failed(imgfmt_check_result *r, const imgfmt_error *e);

/* refused.c: formats the import refuses, by their first and last bytes. */
#define IFMT_REFUSED_HEAD IFMT_UNREAD_HEAD   /* ISO9660 descriptors start at 32 KiB */
#define IFMT_REFUSED_TAIL 512u               /* a DMG trailer */
struct ifmt_refused {
    const char *name;             /* "VHDX", "gzip archive", ... (static) */
    const char *fix;              /* static */
    bool vmdk_descriptor;         /* a text VMDK descriptor (data in other files) */
};
/* True, with *out, if the bytes show a format the import refuses. */
bool ifmt_refused_format(const struct ifmt_probe_bytes *b, struct ifmt_refused *out);
/* The entry for a tar (OVA) archive. */
struct ifmt_refused ifmt_refused_tar(void);

/* guest.c: RootPartitionNotFound, VirtioNotInstall and CloudInitNotInstalled
 * from the guest's files (Linux). */
void ifmt_check_guest_linux(struct ifmt_check *c);
/* The Windows system volume (RootPartitionNotFound under the Windows rules). */
void ifmt_check_guest_windows_root(struct ifmt_check *c);
/* VirtioNotInstall and CloudInitNotInstalled under the Windows rules. */
void ifmt_check_guest_windows(struct ifmt_check *c);

/* rules.c */
/* All rules on an opened, accepted-looking image (c->img, c->info set). */
void ifmt_check_rules(struct ifmt_check *c);
/* The findings for a file in a refused format.  c->img is the image when it
 * could be opened (a VMDK descriptor: its warnings are reported), else NULL
 * and open_err says why. */
void ifmt_check_refused(struct ifmt_check *c, const struct ifmt_refused *why,
                        const imgfmt_error *open_err);
/* The findings for a file that could not be opened (not a refused format). */
void ifmt_check_unopenable(struct ifmt_check *c, const imgfmt_error *open_err);

#endif
