/*
 * imgfmt-info -- what `qemu-img info` says about an image, without qemu.
 *
 *   imgfmt-info [-f FMT] [--output=human|json] [--backing-chain]
 *               [--vhd-size-rule=legacy|qemu10|chs|current] [--no-external]
 *               [--measure [-O qcow2] [-c] [-o OPTS] [--fast]] IMAGE
 */
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: %s [-f FMT] [--output=human|json] [--backing-chain]\n"
        "          [--vhd-size-rule=legacy|qemu10|chs|current] [--no-external] IMAGE\n"
        "\n"
        "Print the format, virtual size (as qemu-img reports it), file length,\n"
        "allocated size and format details of a disk image.\n"
        "  -f FMT            force the format: raw, vpc (vhd), qcow2, vmdk\n"
        "  --output=json     qemu-img's JSON keys, plus ours under \"imgfmt\"\n"
        "  --backing-chain   describe every image of the backing chain\n"
        "  --vhd-size-rule   VHD virtual size rule: qemu <= 9.2 (legacy, default),\n"
        "                    qemu >= 10 (qemu10), chs, current\n"
        "  --no-external     refuse backing, parent and extent files\n"
        "  --measure         add the exact length of the qcow2 that imgfmt-convert\n"
        "                    -O qcow2 (and qemu-img convert -O qcow2) produces, and\n"
        "                    the fast upper bound; JSON adds qemu-img measure's\n"
        "                    \"required\" (ours: the exact length) and\n"
        "                    \"fully-allocated\", and \"qemu-required\" (qemu-img\n"
        "                    measure's own estimate).  Reads every\n"
        "                    allocated cluster (zero detection)\n"
        "  -O qcow2          output format measured (only qcow2)\n"
        "  -c                measure compressed output: this compresses every\n"
        "                    cluster, as long as the conversion itself\n"
        "  -o OPTS           cluster_size=N,compat=0.10|1.1,refcount_bits=N,\n"
        "                    compression_type=zlib|zstd\n"
        "  --fast            metadata only: the upper bound, no data read\n",
        prog);
}

/* ---- measure ------------------------------------------------------ */

static int measure_on;
static imgfmt_measure measure_res;

static void print_measure_human(void)
{
    if (!measure_on)
        return;
    const imgfmt_measure *m = &measure_res;
    printf("qcow2 conversion (measure):\n");
    if (m->mode == IMGFMT_MEASURE_EXACT)
        printf("    converted size: %" PRIu64 " (exact)\n", m->length);
    else
        printf("    converted size: at most %" PRIu64 " (fast: upper bound)\n", m->length);
    printf("    upper bound: %" PRIu64 "\n", m->upper_bound);
    printf("    data clusters: %" PRIu64 "\n", m->data_clusters);
    if (m->compressed_clusters)
        printf("    compressed clusters: %" PRIu64 "\n", m->compressed_clusters);
    printf("    qemu-img measure would say (required): %" PRIu64 "\n", m->required);
    printf("    fully allocated size: %" PRIu64 "\n", m->fully_allocated);
}

static void print_measure_json(const char *ind)
{
    if (!measure_on)
        return;
    const imgfmt_measure *m = &measure_res;
    /* qemu-img measure's keys, so its users' scripts keep working; but our
     * "required" is the exact length (qemu's estimate: "qemu-required"). */
    printf(",\n%s\"required\": %" PRIu64, ind, m->length);
    printf(",\n%s\"fully-allocated\": %" PRIu64, ind, m->fully_allocated);
    printf(",\n%s\"converted-size\": %" PRIu64, ind, m->length);
    printf(",\n%s\"converted-size-exact\": %s", ind,
           m->mode == IMGFMT_MEASURE_EXACT ? "true" : "false");
    printf(",\n%s\"converted-size-upper-bound\": %" PRIu64, ind, m->upper_bound);
    printf(",\n%s\"converted-data-clusters\": %" PRIu64, ind, m->data_clusters);
    printf(",\n%s\"qemu-required\": %" PRIu64, ind, m->required);
}

static const char *rule_name(enum imgfmt_vhd_size_rule r)
{
    switch (r) {
    case IMGFMT_VHD_RULE_QEMU_LEGACY: return "qemu-legacy";
    case IMGFMT_VHD_RULE_QEMU10: return "qemu10";
    case IMGFMT_VHD_RULE_CHS: return "chs";
    case IMGFMT_VHD_RULE_CURRENT_SIZE: return "current-size";
    }
    return "?";
}

static const char *vhd_type_name(enum imgfmt_vhd_disk_type t)
{
    switch (t) {
    case IMGFMT_VHD_FIXED:        return "fixed";
    case IMGFMT_VHD_DYNAMIC:      return "dynamic";
    case IMGFMT_VHD_DIFFERENCING: return "differencing";
    }
    return "unknown";
}

/* ---- human -------------------------------------------------------- */

/* qemu's bdrv_snapshot_dump() layout. */
static void human_snapshots(imgfmt_image *img, const imgfmt_info *in)
{
    printf("Snapshot list:\n");
    printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE",
           "VM CLOCK", "ICOUNT");
    for (uint32_t i = 0; i < in->qcow2.nb_snapshots; i++) {
        imgfmt_snapshot s;
        if (imgfmt_qcow2_get_snapshot(img, i, &s) < 0)
            break;
        char vs[32], date[32] = "", clock[48], icount[24] = "";
        human_size(s.vm_state_size, vs, sizeof vs);
        time_t ti = (time_t)s.date_sec;
        struct tm tm;
        if (localtime_r(&ti, &tm))
            strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
        uint64_t secs = s.vm_clock_nsec / 1000000000u;
        snprintf(clock, sizeof clock, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64,
                 secs / 3600, (secs / 60) % 60, secs % 60,
                 (s.vm_clock_nsec / 1000000u) % 1000);
        if (s.icount != UINT64_MAX)
            snprintf(icount, sizeof icount, "%" PRIu64, s.icount);
        printf("%-9s %-16s %8s%20s%13s%11s\n", s.id, s.name, vs, date, clock, icount);
    }
}

static void human_bitmaps(imgfmt_image *img, const imgfmt_qcow2_info *q)
{
    printf("    bitmaps:\n");
    for (uint32_t i = 0; i < q->nb_bitmaps; i++) {
        imgfmt_qcow2_bitmap bm;
        if (imgfmt_qcow2_get_bitmap(img, i, &bm) < 0)
            break;
        printf("        [%" PRIu32 "]:\n            flags:\n", i);
        int nf = 0;
        if (bm.flags & IMGFMT_QCOW2_BITMAP_IN_USE)
            printf("                [%d]: in-use\n", nf++);
        if (bm.flags & IMGFMT_QCOW2_BITMAP_AUTO)
            printf("                [%d]: auto\n", nf++);
        printf("            name: %s\n", bm.name);
        printf("            granularity: %" PRIu64 "\n", bm.granularity);
    }
}

static void human_qcow2(imgfmt_image *img, const imgfmt_info *in)
{
    const imgfmt_qcow2_info *q = &in->qcow2;
    printf("Format specific information:\n");
    /* qemu prints the v3-only keys for version 3 images only. */
    printf("    compat: %s\n", q->compat ? q->compat : "?");
    printf("    compression type: %s\n", q->compression_type ? q->compression_type : "zlib");
    if (q->version >= 3)
        printf("    lazy refcounts: %s\n", q->lazy_refcounts ? "true" : "false");
    if (q->nb_bitmaps)
        human_bitmaps(img, q);
    printf("    refcount bits: %" PRIu32 "\n", q->refcount_bits);
    if (q->version >= 3) {
        if (q->data_file)
            printf("    data file: %s\n", q->data_file);
        if (q->incompatible_features & 0x4u)   /* has an external data file */
            printf("    data file raw: %s\n", q->data_file_raw ? "true" : "false");
        printf("    corrupt: %s\n", in->corrupt ? "true" : "false");
        printf("    extended l2: %s\n", q->extended_l2 ? "true" : "false");
    }
}

static void human_vmdk(imgfmt_image *img, const imgfmt_info *in)
{
    const imgfmt_vmdk_info *v = &in->vmdk;
    printf("Format specific information:\n");
    printf("    cid: %" PRIu32 "\n", v->cid);
    printf("    parent cid: %" PRIu32 "\n", v->parent_cid);
    printf("    create type: %s\n", v->create_type ? v->create_type : "");
    printf("    extents:\n");
    for (uint32_t i = 0; i < v->nb_extents; i++) {
        imgfmt_vmdk_extent e;
        if (imgfmt_vmdk_get_extent(img, i, &e) < 0)
            break;
        printf("        [%" PRIu32 "]:\n", i);
        if (e.compressed)
            printf("            compressed: true\n");
        printf("            virtual size: %" PRIu64 "\n", e.virtual_size);
        printf("            filename: %s\n", e.filename);
        if (e.cluster_size)
            printf("            cluster size: %" PRIu32 "\n", e.cluster_size);
        printf("            format: %s\n", e.format);
    }
}

static void human_vhd(const imgfmt_vhd_info *v)
{
    printf("    vhd disk type: %s (%u)\n", vhd_type_name(v->disk_type),
           (unsigned)v->disk_type);
    printf("    creator app: \"%s\" (%02x %02x %02x %02x)\n", v->creator_app,
           v->app_raw[0], v->app_raw[1], v->app_raw[2], v->app_raw[3]);
    printf("    creator os: \"%s\"\n", v->creator_os);
    printf("    uuid: %s\n", v->uuid);
    printf("    geometry (CHS): %" PRIu32 "/%" PRIu32 "/%" PRIu32 " = %" PRIu64 " bytes\n",
           v->cylinders, v->heads, v->sectors_per_track, v->chs_size);
    printf("    current size: %" PRIu64 "\n", v->current_size);
    printf("    size rule: %s\n", rule_name(v->rule));
    if (v->size_legacy != v->size_qemu10)
        printf("    virtual size by qemu <= 9.2: %" PRIu64 ", by qemu >= 10: %" PRIu64 "\n",
               v->size_legacy, v->size_qemu10);
    if (v->block_size)
        printf("    block size: %" PRIu32 "\n", v->block_size);
    if (v->qemu_probe_raw_size)
        printf("    qemu-img without -f vpc: raw, virtual size %" PRIu64 "\n",
               v->qemu_probe_raw_size);
    if (v->parent_name)
        printf("    parent: %s (uuid %s)\n", v->parent_name, v->parent_uuid);
}

static void print_human(imgfmt_image *img, const imgfmt_info *in)
{
    char a[32], b[32];
    human_size(in->virtual_size, a, sizeof a);
    printf("image: %s\n", in->filename);
    printf("file format: %s\n", in->format_name);
    printf("virtual size: %s (%" PRIu64 " bytes)\n", a, in->virtual_size);
    human_size(in->actual_size, b, sizeof b);
    printf("disk size: %s\n", b);
    if (in->cluster_size)
        printf("cluster_size: %" PRIu32 "\n", in->cluster_size);
    if (in->dirty)
        printf("cleanly shut down: no\n");   /* qemu's wording */
    if (in->backing_filename) {
        printf("backing file: %s", in->backing_filename);
        if (in->full_backing_filename &&
            strcmp(in->full_backing_filename, in->backing_filename) != 0)
            printf(" (actual path: %s)", in->full_backing_filename);
        printf("\n");
        if (in->backing_format)
            printf("backing file format: %s\n", in->backing_format);
    }
    if (in->format == IMGFMT_FMT_QCOW2 && in->qcow2.nb_snapshots)
        human_snapshots(img, in);
    if (in->format == IMGFMT_FMT_QCOW2)
        human_qcow2(img, in);
    else if (in->format == IMGFMT_FMT_VMDK)
        human_vmdk(img, in);
    /* Ours, beyond what qemu-img prints. */
    printf("imgfmt:\n");
    printf("    file length: %" PRIu64 "\n", in->file_length);
    if (in->subformat)
        printf("    subformat: %s\n", in->subformat);
    if (in->format == IMGFMT_FMT_VHD)
        human_vhd(&in->vhd);
    for (uint32_t i = 0; i < in->nb_warnings; i++)
        printf("    warning: %s\n", imgfmt_warning(img, i));
    print_measure_human();
}

/* ---- json --------------------------------------------------------- */

static void jkey(const char *ind, const char *k)
{
    printf(",\n%s\"%s\": ", ind, k);
}

static void jbool(const char *ind, const char *k, int v)
{
    jkey(ind, k);
    printf("%s", v ? "true" : "false");
}

static void jstr(const char *ind, const char *k, const char *v)
{
    jkey(ind, k);
    json_string(stdout, v);
}

/* The flat members of a struct, printed from a table in the table's order. */
enum jtype {
    J_U64,          /* uint64_t */
    J_U32,          /* uint32_t */
    J_STR,          /* const char * */
    J_CHARS,        /* char[] */
    J_BOOL          /* int */
};
#define J_OMIT_ZERO 0x1u   /* leave the key out when the member is 0 / NULL */
struct jfield {
    const char *key;
    enum jtype type;
    size_t off;
    unsigned flags;
};
#define JF(key, type, st, member, flags) {key, type, offsetof(st, member), flags}

static void print_fields(const char *ind, const void *base, const struct jfield *f, size_t n)
{
    const char *b = base;
    for (size_t i = 0; i < n; i++) {
        const void *m = b + f[i].off;
        uint64_t v = 0;
        const char *str = NULL;
        switch (f[i].type) {
        case J_U64:   v = *(const uint64_t *)m; break;
        case J_U32:   v = *(const uint32_t *)m; break;
        case J_BOOL:  v = *(const int *)m != 0; break;
        case J_STR:   str = *(const char *const *)m; v = str != NULL; break;
        case J_CHARS: str = m; v = 1; break;
        }
        if ((f[i].flags & J_OMIT_ZERO) && !v)
            continue;
        if (str)
            jstr(ind, f[i].key, str);
        else if (f[i].type == J_BOOL)
            jbool(ind, f[i].key, (int)v);
        else {
            jkey(ind, f[i].key);
            printf("%" PRIu64, v);
        }
    }
}
#define PRINT_FIELDS(ind, base, table) print_fields(ind, base, table, sizeof table / sizeof table[0])

static const struct jfield info_fields[] = {
    JF("filename", J_STR, imgfmt_info, filename, 0),
    JF("cluster-size", J_U32, imgfmt_info, cluster_size, J_OMIT_ZERO),
    JF("format", J_STR, imgfmt_info, format_name, 0),
    JF("actual-size", J_U64, imgfmt_info, actual_size, 0),
};
static const struct jfield backing_fields[] = {
    JF("backing-filename", J_STR, imgfmt_info, backing_filename, 0),
    JF("full-backing-filename", J_STR, imgfmt_info, full_backing_filename, J_OMIT_ZERO),
    JF("backing-filename-format", J_STR, imgfmt_info, backing_format, J_OMIT_ZERO),
};
static const struct jfield snapshot_fields[] = {
    JF("name", J_STR, imgfmt_snapshot, name, 0),
    JF("vm-state-size", J_U64, imgfmt_snapshot, vm_state_size, 0),
    JF("date-sec", J_U32, imgfmt_snapshot, date_sec, 0),
    JF("date-nsec", J_U32, imgfmt_snapshot, date_nsec, 0),
};
static const struct jfield vmdk_extent_fields[] = {
    JF("filename", J_STR, imgfmt_vmdk_extent, filename, 0),
    JF("cluster-size", J_U32, imgfmt_vmdk_extent, cluster_size, J_OMIT_ZERO),
    JF("format", J_STR, imgfmt_vmdk_extent, format, 0),
};
static const struct jfield vhd_ids[] = {
    JF("vhd-creator-app", J_CHARS, imgfmt_vhd_info, creator_app, 0),
    JF("vhd-creator-os", J_CHARS, imgfmt_vhd_info, creator_os, 0),
    JF("vhd-uuid", J_CHARS, imgfmt_vhd_info, uuid, 0),
};
static const struct jfield vhd_sizes[] = {
    JF("vhd-chs-size", J_U64, imgfmt_vhd_info, chs_size, 0),
    JF("vhd-current-size", J_U64, imgfmt_vhd_info, current_size, 0),
};
static const struct jfield vhd_rule_sizes[] = {
    JF("vhd-size-qemu-legacy", J_U64, imgfmt_vhd_info, size_legacy, 0),
    JF("vhd-size-qemu10", J_U64, imgfmt_vhd_info, size_qemu10, 0),
    JF("qemu-probe-raw-size", J_U64, imgfmt_vhd_info, qemu_probe_raw_size, J_OMIT_ZERO),
};

/* Indents of the nesting levels below the caller's: ind[0] is the caller's. */
struct jind {
    char i[6][64];
};
static void jind_init(struct jind *j, const char *base)
{
    snprintf(j->i[0], sizeof j->i[0], "%s", base);
    for (int k = 1; k < 6; k++)
        snprintf(j->i[k], sizeof j->i[k], "%s    ", j->i[k - 1]);
}

static void json_snapshots(imgfmt_image *img, const imgfmt_info *in, const struct jind *j)
{
    jkey(j->i[1], "snapshots");
    printf("[");
    for (uint32_t i = 0; i < in->qcow2.nb_snapshots; i++) {
        imgfmt_snapshot s;
        if (imgfmt_qcow2_get_snapshot(img, i, &s) < 0)
            break;
        printf("%s\n%s{\n%s\"id\": ", i ? "," : "", j->i[2], j->i[3]);
        json_string(stdout, s.id);
        PRINT_FIELDS(j->i[3], &s, snapshot_fields);
        jkey(j->i[3], "vm-clock-sec");
        printf("%" PRIu64, s.vm_clock_nsec / 1000000000u);
        jkey(j->i[3], "vm-clock-nsec");
        printf("%" PRIu64, s.vm_clock_nsec % 1000000000u);
        if (s.icount != UINT64_MAX) {
            jkey(j->i[3], "icount");
            printf("%" PRIu64, s.icount);
        }
        printf("\n%s}", j->i[2]);
    }
    printf("\n%s]", j->i[1]);
}

static void json_bitmaps(imgfmt_image *img, const imgfmt_qcow2_info *q, const struct jind *j)
{
    jkey(j->i[3], "bitmaps");
    printf("[");
    for (uint32_t i = 0; i < q->nb_bitmaps; i++) {
        imgfmt_qcow2_bitmap bm;
        if (imgfmt_qcow2_get_bitmap(img, i, &bm) < 0)
            break;
        printf("%s\n%s{\n%s\"flags\": [", i ? "," : "", j->i[4], j->i[5]);
        const char *sep = "";
        if (bm.flags & IMGFMT_QCOW2_BITMAP_IN_USE) {
            printf("\"in-use\"");
            sep = ", ";
        }
        if (bm.flags & IMGFMT_QCOW2_BITMAP_AUTO)
            printf("%s\"auto\"", sep);
        printf("]");
        jstr(j->i[5], "name", bm.name);
        jkey(j->i[5], "granularity");
        printf("%" PRIu64 "\n%s}", bm.granularity, j->i[4]);
    }
    printf("\n%s]", j->i[3]);
}

static void json_qcow2(imgfmt_image *img, const imgfmt_info *in, const struct jind *j)
{
    const imgfmt_qcow2_info *q = &in->qcow2;
    if (q->nb_snapshots)
        json_snapshots(img, in, j);
    jkey(j->i[1], "format-specific");
    printf("{\n%s\"type\": \"qcow2\",\n%s\"data\": {\n%s\"compat\": ", j->i[2], j->i[2],
           j->i[3]);
    json_string(stdout, q->compat ? q->compat : "");
    jstr(j->i[3], "compression-type", q->compression_type ? q->compression_type : "zlib");
    if (q->version >= 3)
        jbool(j->i[3], "lazy-refcounts", q->lazy_refcounts);
    if (q->nb_bitmaps)
        json_bitmaps(img, q, j);
    jkey(j->i[3], "refcount-bits");
    printf("%" PRIu32, q->refcount_bits);
    if (q->version >= 3) {
        if (q->data_file)
            jstr(j->i[3], "data-file", q->data_file);
        if (q->incompatible_features & 0x4u)
            jbool(j->i[3], "data-file-raw", q->data_file_raw);
        jbool(j->i[3], "corrupt", in->corrupt);
        jbool(j->i[3], "extended-l2", q->extended_l2);
    }
    printf("\n%s}\n%s}", j->i[2], j->i[1]);
}

static void json_vmdk(imgfmt_image *img, const imgfmt_info *in, const struct jind *j)
{
    const imgfmt_vmdk_info *v = &in->vmdk;
    jkey(j->i[1], "format-specific");
    printf("{\n%s\"type\": \"vmdk\",\n%s\"data\": {\n%s\"cid\": %" PRIu32, j->i[2], j->i[2],
           j->i[3], v->cid);
    jkey(j->i[3], "parent-cid");
    printf("%" PRIu32, v->parent_cid);
    jstr(j->i[3], "create-type", v->create_type ? v->create_type : "");
    jkey(j->i[3], "extents");
    printf("[");
    for (uint32_t i = 0; i < v->nb_extents; i++) {
        imgfmt_vmdk_extent e;
        if (imgfmt_vmdk_get_extent(img, i, &e) < 0)
            break;
        /* qemu's key order: compressed (if true) first */
        printf("%s\n%s{\n%s", i ? "," : "", j->i[4], j->i[5]);
        if (e.compressed)
            printf("\"compressed\": true,\n%s", j->i[5]);
        printf("\"virtual-size\": %" PRIu64, e.virtual_size);
        PRINT_FIELDS(j->i[5], &e, vmdk_extent_fields);
        printf("\n%s}", j->i[4]);
    }
    printf("\n%s]\n%s}\n%s}", j->i[3], j->i[2], j->i[1]);
}

static void json_vhd(const imgfmt_vhd_info *v, const char *ind)
{
    jstr(ind, "vhd-disk-type", vhd_type_name(v->disk_type));
    PRINT_FIELDS(ind, v, vhd_ids);
    jkey(ind, "vhd-geometry");
    printf("{\"cylinders\": %" PRIu32 ", \"heads\": %" PRIu32 ", \"sectors\": %" PRIu32 "}",
           v->cylinders, v->heads, v->sectors_per_track);
    PRINT_FIELDS(ind, v, vhd_sizes);
    jstr(ind, "vhd-size-rule", rule_name(v->rule));
    PRINT_FIELDS(ind, v, vhd_rule_sizes);
    if (v->parent_name) {
        jstr(ind, "vhd-parent", v->parent_name);
        jstr(ind, "vhd-parent-uuid", v->parent_uuid);
    }
}

/* Ours, under "imgfmt". */
static void json_ours(imgfmt_image *img, const imgfmt_info *in, const struct jind *j)
{
    jkey(j->i[1], "imgfmt");
    printf("{\n%s\"file-length\": %" PRIu64, j->i[2], in->file_length);
    if (in->subformat)
        jstr(j->i[2], "subformat", in->subformat);
    if (in->format == IMGFMT_FMT_VHD)
        json_vhd(&in->vhd, j->i[2]);
    jkey(j->i[2], "warnings");
    printf("[");
    for (uint32_t i = 0; i < in->nb_warnings; i++) {
        printf(i ? ", " : "");
        json_string(stdout, imgfmt_warning(img, i));
    }
    printf("]\n%s}", j->i[1]);
}

static void print_json(imgfmt_image *img, const imgfmt_info *in, const char *ind)
{
    struct jind j;
    jind_init(&j, ind);
    printf("%s{\n%s\"virtual-size\": %" PRIu64, ind, j.i[1], in->virtual_size);
    PRINT_FIELDS(j.i[1], in, info_fields);
    if (in->backing_filename)
        PRINT_FIELDS(j.i[1], in, backing_fields);
    if (in->format == IMGFMT_FMT_QCOW2)
        json_qcow2(img, in, &j);
    else if (in->format == IMGFMT_FMT_VMDK)
        json_vmdk(img, in, &j);
    jbool(j.i[1], "dirty-flag", in->dirty);
    print_measure_json(j.i[1]);
    json_ours(img, in, &j);
    printf("\n%s}", ind);
}

struct args {
    imgfmt_open_opts o;
    imgfmt_qcow2_opts qo;
    int json, chain, fast;
    const char *path;
};

static int parse_rule(const char *v, enum imgfmt_vhd_size_rule *out)
{
    static const struct {
        const char *name;
        enum imgfmt_vhd_size_rule rule;
    } rules[] = {
        {"legacy", IMGFMT_VHD_RULE_QEMU_LEGACY}, {"qemu10", IMGFMT_VHD_RULE_QEMU10},
        {"chs", IMGFMT_VHD_RULE_CHS},            {"current", IMGFMT_VHD_RULE_CURRENT_SIZE},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(v, rules[i].name) == 0) {
            *out = rules[i].rule;
            return 0;
        }
    tool_error("--vhd-size-rule must be legacy, qemu10, chs or current");
    return -1;
}

enum { OPT_OUTPUT = 256, OPT_CHAIN, OPT_RULE, OPT_NOEXT, OPT_MEASURE, OPT_FAST };

/* One option; -1 on a usage error. */
static int take_option(struct args *a, int c)
{
    switch (c) {
    case 'f':
        a->o.format = imgfmt_format_from_name(optarg);
        if (a->o.format == IMGFMT_FMT_UNKNOWN) {
            tool_error("unknown format '%s'", optarg);
            return -1;
        }
        return 0;
    case OPT_OUTPUT:
        if (strcmp(optarg, "json") != 0 && strcmp(optarg, "human") != 0) {
            tool_error("--output must be human or json");
            return -1;
        }
        a->json = strcmp(optarg, "json") == 0;
        return 0;
    case OPT_CHAIN: a->chain = 1; return 0;
    case OPT_MEASURE: measure_on = 1; return 0;
    case OPT_FAST: a->fast = 1; return 0;
    case 'O':
        if (strcmp(optarg, "qcow2") != 0) {
            tool_error("--measure: only -O qcow2 is supported");
            return -1;
        }
        return 0;
    case 'c': a->qo.compress = 1; return 0;
    case 'o': return parse_qcow2_opts(optarg, &a->qo) < 0 ? -1 : 0;
    case OPT_NOEXT: a->o.flags |= IMGFMT_OPEN_NO_EXTERNAL; return 0;
    case OPT_RULE: return parse_rule(optarg, &a->o.vhd_size_rule);
    default: usage(stderr); return -1;
    }
}

/* 1: run; 0: done (help); -1: usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    imgfmt_open_opts_init(&a->o);
    imgfmt_qcow2_opts_init(&a->qo);
    static const struct option lopts[] = {
        {"measure", no_argument, NULL, OPT_MEASURE},
        {"fast", no_argument, NULL, OPT_FAST},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"backing-chain", no_argument, NULL, OPT_CHAIN},
        {"vhd-size-rule", required_argument, NULL, OPT_RULE},
        {"no-external", no_argument, NULL, OPT_NOEXT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "f:hO:co:", lopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (take_option(a, c) < 0)
            return -1;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return -1;
    }
    a->path = argv[optind];
    return 1;
}

/* Info of img (and of its backing chain with --backing-chain). */
static int print_all(imgfmt_image *img, const struct args *a)
{
    int first = 1;
    if (a->json && a->chain)
        printf("[\n");
    for (imgfmt_image *cur = img; cur; cur = a->chain ? imgfmt_backing(cur) : NULL) {
        imgfmt_info in;
        in.struct_size = sizeof in;
        if (imgfmt_get_info(cur, &in) < 0) {
            tool_error("%s", imgfmt_last_error(cur)->msg);
            return EXIT_IMAGE;
        }
        if (!first)
            printf(a->json ? ",\n" : "\n");
        if (a->json)
            print_json(cur, &in, a->chain ? "    " : "");
        else
            print_human(cur, &in);
        first = 0;
    }
    if (a->json)
        printf(a->chain ? "\n]\n" : "\n");
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_IMAGE;
}

int main(int argc, char **argv)
{
    prog = "imgfmt-info";
    struct args a = {0};
    int r = parse_args(argc, argv, &a);
    if (r <= 0)
        return r == 0 ? EXIT_OK : EXIT_USAGE;
    imgfmt_image *img = tool_open(a.path, &a.o);
    if (!img)
        return EXIT_IMAGE;
    if (measure_on) {
        a.qo.threads = tool_ncpus();
        measure_res.struct_size = sizeof measure_res;
        if (imgfmt_measure_qcow2(img, &a.qo, a.fast ? IMGFMT_MEASURE_FAST
                                                    : IMGFMT_MEASURE_EXACT,
                                 NULL, NULL, &measure_res) < 0) {
            tool_error("%s", imgfmt_last_error(img)->msg);
            imgfmt_close(img);
            return EXIT_IMAGE;
        }
    }
    r = print_all(img, &a);
    imgfmt_close(img);
    return r;
}
