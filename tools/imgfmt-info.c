/*
 * imgfmt-info -- what `qemu-img info` says about an image, without qemu.
 *
 *   imgfmt-info [-f FMT] [--output=human|json] [--backing-chain]
 *               [--vhd-size-rule=legacy|qemu10|chs|current] [--no-external]
 *               [--measure [-O qcow2] [-c] [-o OPTS] [--fast]] IMAGE
 */
#include <getopt.h>
#include <inttypes.h>
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
    if (in->format == IMGFMT_FMT_QCOW2 && in->qcow2.nb_snapshots) {
        printf("Snapshot list:\n");
        /* qemu's bdrv_snapshot_dump() layout. */
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

    if (in->format == IMGFMT_FMT_QCOW2) {
        const imgfmt_qcow2_info *q = &in->qcow2;
        printf("Format specific information:\n");
        /* qemu prints the v3-only keys for version 3 images only. */
        printf("    compat: %s\n", q->compat ? q->compat : "?");
        printf("    compression type: %s\n", q->compression_type ? q->compression_type : "zlib");
        if (q->version >= 3)
            printf("    lazy refcounts: %s\n", q->lazy_refcounts ? "true" : "false");
        if (q->nb_bitmaps) {
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
        printf("    refcount bits: %" PRIu32 "\n", q->refcount_bits);
        if (q->version >= 3) {
            if (q->data_file)
                printf("    data file: %s\n", q->data_file);
            if (q->incompatible_features & 0x4u)   /* has an external data file */
                printf("    data file raw: %s\n", q->data_file_raw ? "true" : "false");
            printf("    corrupt: %s\n", in->corrupt ? "true" : "false");
            printf("    extended l2: %s\n", q->extended_l2 ? "true" : "false");
        }
    } else if (in->format == IMGFMT_FMT_VMDK) {
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

    /* Ours, beyond what qemu-img prints. */
    printf("imgfmt:\n");
    printf("    file length: %" PRIu64 "\n", in->file_length);
    if (in->subformat)
        printf("    subformat: %s\n", in->subformat);
    if (in->format == IMGFMT_FMT_VHD) {
        const imgfmt_vhd_info *v = &in->vhd;
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

static void print_json(imgfmt_image *img, const imgfmt_info *in, const char *ind)
{
    char ind2[64], ind3[64], ind4[64];
    snprintf(ind2, sizeof ind2, "%s    ", ind);
    snprintf(ind3, sizeof ind3, "%s        ", ind);
    snprintf(ind4, sizeof ind4, "%s            ", ind);
    printf("%s{\n%s    \"virtual-size\": %" PRIu64, ind, ind, in->virtual_size);
    jstr(ind2, "filename", in->filename);
    if (in->cluster_size) {
        jkey(ind2, "cluster-size");
        printf("%" PRIu32, in->cluster_size);
    }
    jstr(ind2, "format", in->format_name);
    jkey(ind2, "actual-size");
    printf("%" PRIu64, in->actual_size);
    if (in->backing_filename) {
        jstr(ind2, "backing-filename", in->backing_filename);
        if (in->full_backing_filename)
            jstr(ind2, "full-backing-filename", in->full_backing_filename);
        if (in->backing_format)
            jstr(ind2, "backing-filename-format", in->backing_format);
    }
    if (in->format == IMGFMT_FMT_QCOW2) {
        if (in->qcow2.nb_snapshots) {
            jkey(ind2, "snapshots");
            printf("[");
            for (uint32_t i = 0; i < in->qcow2.nb_snapshots; i++) {
                imgfmt_snapshot s;
                if (imgfmt_qcow2_get_snapshot(img, i, &s) < 0)
                    break;
                printf("%s\n%s{\n%s\"id\": ", i ? "," : "", ind3, ind4);
                json_string(stdout, s.id);
                jstr(ind4, "name", s.name);
                jkey(ind4, "vm-state-size");
                printf("%" PRIu64, s.vm_state_size);
                jkey(ind4, "date-sec");
                printf("%" PRIu32, s.date_sec);
                jkey(ind4, "date-nsec");
                printf("%" PRIu32, s.date_nsec);
                jkey(ind4, "vm-clock-sec");
                printf("%" PRIu64, s.vm_clock_nsec / 1000000000u);
                jkey(ind4, "vm-clock-nsec");
                printf("%" PRIu64, s.vm_clock_nsec % 1000000000u);
                if (s.icount != UINT64_MAX) {
                    jkey(ind4, "icount");
                    printf("%" PRIu64, s.icount);
                }
                printf("\n%s}", ind3);
            }
            printf("\n%s]", ind2);
        }
        const imgfmt_qcow2_info *q = &in->qcow2;
        jkey(ind2, "format-specific");
        printf("{\n%s\"type\": \"qcow2\",\n%s\"data\": {\n%s\"compat\": ", ind3, ind3, ind4);
        json_string(stdout, q->compat ? q->compat : "");
        jstr(ind4, "compression-type", q->compression_type ? q->compression_type : "zlib");
        if (q->version >= 3)
            jbool(ind4, "lazy-refcounts", q->lazy_refcounts);
        if (q->nb_bitmaps) {
            jkey(ind4, "bitmaps");
            printf("[");
            for (uint32_t i = 0; i < q->nb_bitmaps; i++) {
                imgfmt_qcow2_bitmap bm;
                if (imgfmt_qcow2_get_bitmap(img, i, &bm) < 0)
                    break;
                printf("%s\n%s    {\n%s        \"flags\": [", i ? "," : "", ind4, ind4);
                const char *sep = "";
                if (bm.flags & IMGFMT_QCOW2_BITMAP_IN_USE) {
                    printf("\"in-use\"");
                    sep = ", ";
                }
                if (bm.flags & IMGFMT_QCOW2_BITMAP_AUTO)
                    printf("%s\"auto\"", sep);
                printf("]");
                char ind5[80];
                snprintf(ind5, sizeof ind5, "%s        ", ind4);
                jstr(ind5, "name", bm.name);
                jkey(ind5, "granularity");
                printf("%" PRIu64 "\n%s    }", bm.granularity, ind4);
            }
            printf("\n%s]", ind4);
        }
        jkey(ind4, "refcount-bits");
        printf("%" PRIu32, q->refcount_bits);
        if (q->version >= 3) {
            if (q->data_file)
                jstr(ind4, "data-file", q->data_file);
            if (q->incompatible_features & 0x4u)
                jbool(ind4, "data-file-raw", q->data_file_raw);
            jbool(ind4, "corrupt", in->corrupt);
            jbool(ind4, "extended-l2", q->extended_l2);
        }
        printf("\n%s}\n%s}", ind3, ind2);
    } else if (in->format == IMGFMT_FMT_VMDK) {
        const imgfmt_vmdk_info *v = &in->vmdk;
        jkey(ind2, "format-specific");
        printf("{\n%s\"type\": \"vmdk\",\n%s\"data\": {\n%s\"cid\": %" PRIu32, ind3, ind3,
               ind4, v->cid);
        jkey(ind4, "parent-cid");
        printf("%" PRIu32, v->parent_cid);
        jstr(ind4, "create-type", v->create_type ? v->create_type : "");
        jkey(ind4, "extents");
        printf("[");
        for (uint32_t i = 0; i < v->nb_extents; i++) {
            imgfmt_vmdk_extent e;
            if (imgfmt_vmdk_get_extent(img, i, &e) < 0)
                break;
            char ind5[80];
            snprintf(ind5, sizeof ind5, "%s        ", ind4);
            /* qemu's key order: compressed (if true) first */
            printf("%s\n%s    {\n%s        ", i ? "," : "", ind4, ind4);
            if (e.compressed)
                printf("\"compressed\": true,\n%s", ind5);
            printf("\"virtual-size\": %" PRIu64, e.virtual_size);
            jstr(ind5, "filename", e.filename);
            if (e.cluster_size) {
                jkey(ind5, "cluster-size");
                printf("%" PRIu32, e.cluster_size);
            }
            jstr(ind5, "format", e.format);
            printf("\n%s    }", ind4);
        }
        printf("\n%s]\n%s}\n%s}", ind4, ind3, ind2);
    }
    jbool(ind2, "dirty-flag", in->dirty);

    print_measure_json(ind2);
    /* Ours. */
    jkey(ind2, "imgfmt");
    printf("{\n%s\"file-length\": %" PRIu64, ind3, in->file_length);
    if (in->subformat)
        jstr(ind3, "subformat", in->subformat);
    if (in->format == IMGFMT_FMT_VHD) {
        const imgfmt_vhd_info *v = &in->vhd;
        jstr(ind3, "vhd-disk-type", vhd_type_name(v->disk_type));
        jstr(ind3, "vhd-creator-app", v->creator_app);
        jstr(ind3, "vhd-creator-os", v->creator_os);
        jstr(ind3, "vhd-uuid", v->uuid);
        jkey(ind3, "vhd-geometry");
        printf("{\"cylinders\": %" PRIu32 ", \"heads\": %" PRIu32 ", \"sectors\": %" PRIu32 "}",
               v->cylinders, v->heads, v->sectors_per_track);
        jkey(ind3, "vhd-chs-size");
        printf("%" PRIu64, v->chs_size);
        jkey(ind3, "vhd-current-size");
        printf("%" PRIu64, v->current_size);
        jstr(ind3, "vhd-size-rule", rule_name(v->rule));
        jkey(ind3, "vhd-size-qemu-legacy");
        printf("%" PRIu64, v->size_legacy);
        jkey(ind3, "vhd-size-qemu10");
        printf("%" PRIu64, v->size_qemu10);
        if (v->qemu_probe_raw_size) {
            jkey(ind3, "qemu-probe-raw-size");
            printf("%" PRIu64, v->qemu_probe_raw_size);
        }
        if (v->parent_name) {
            jstr(ind3, "vhd-parent", v->parent_name);
            jstr(ind3, "vhd-parent-uuid", v->parent_uuid);
        }
    }
    jkey(ind3, "warnings");
    printf("[");
    for (uint32_t i = 0; i < in->nb_warnings; i++) {
        printf(i ? ", " : "");
        json_string(stdout, imgfmt_warning(img, i));
    }
    printf("]\n%s}\n%s}", ind2, ind);
}

int main(int argc, char **argv)
{
    prog = "imgfmt-info";
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    int json = 0, chain = 0;
    imgfmt_qcow2_opts qo;
    imgfmt_qcow2_opts_init(&qo);
    int fast = 0;
    enum { OPT_OUTPUT = 256, OPT_CHAIN, OPT_RULE, OPT_NOEXT, OPT_HELP, OPT_MEASURE, OPT_FAST };
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
        switch (c) {
        case 'f':
            o.format = imgfmt_format_from_name(optarg);
            if (o.format == IMGFMT_FMT_UNKNOWN) {
                tool_error("unknown format '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_OUTPUT:
            if (strcmp(optarg, "json") == 0)
                json = 1;
            else if (strcmp(optarg, "human") == 0)
                json = 0;
            else {
                tool_error("--output must be human or json");
                return EXIT_USAGE;
            }
            break;
        case OPT_CHAIN: chain = 1; break;
        case OPT_MEASURE: measure_on = 1; break;
        case OPT_FAST: fast = 1; break;
        case 'O':
            if (strcmp(optarg, "qcow2") != 0) {
                tool_error("--measure: only -O qcow2 is supported");
                return EXIT_USAGE;
            }
            break;
        case 'c': qo.compress = 1; break;
        case 'o':
            if (parse_qcow2_opts(optarg, &qo) < 0)
                return EXIT_USAGE;
            break;
        case OPT_NOEXT: o.flags |= IMGFMT_OPEN_NO_EXTERNAL; break;
        case OPT_RULE:
            if (strcmp(optarg, "legacy") == 0) o.vhd_size_rule = IMGFMT_VHD_RULE_QEMU_LEGACY;
            else if (strcmp(optarg, "qemu10") == 0) o.vhd_size_rule = IMGFMT_VHD_RULE_QEMU10;
            else if (strcmp(optarg, "chs") == 0) o.vhd_size_rule = IMGFMT_VHD_RULE_CHS;
            else if (strcmp(optarg, "current") == 0) o.vhd_size_rule = IMGFMT_VHD_RULE_CURRENT_SIZE;
            else {
                tool_error("--vhd-size-rule must be legacy, qemu10, chs or current");
                return EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    imgfmt_image *img = tool_open(argv[optind], &o);
    if (!img)
        return EXIT_IMAGE;
    if (measure_on) {
        qo.threads = tool_ncpus();
        measure_res.struct_size = sizeof measure_res;
        if (imgfmt_measure_qcow2(img, &qo, fast ? IMGFMT_MEASURE_FAST : IMGFMT_MEASURE_EXACT,
                                 NULL, NULL, &measure_res) < 0) {
            tool_error("%s", imgfmt_last_error(img)->msg);
            imgfmt_close(img);
            return EXIT_IMAGE;
        }
    }
    int first = 1;
    if (json && chain)
        printf("[\n");
    for (imgfmt_image *cur = img; cur; cur = chain ? imgfmt_backing(cur) : NULL) {
        imgfmt_info in;
        in.struct_size = sizeof in;
        if (imgfmt_get_info(cur, &in) < 0) {
            tool_error("%s", imgfmt_last_error(cur)->msg);
            imgfmt_close(img);
            return EXIT_IMAGE;
        }
        if (json) {
            if (!first)
                printf(",\n");
            print_json(cur, &in, chain ? "    " : "");
        } else {
            if (!first)
                printf("\n");
            print_human(cur, &in);
        }
        first = 0;
    }
    if (json)
        printf(chain ? "\n]\n" : "\n");
    imgfmt_close(img);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_IMAGE;
}
