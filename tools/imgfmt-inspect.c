/*
 * imgfmt-inspect -- what is inside a guest image, offline: the OS, its
 * root and mounts, the kernels and which one boots, virtio and cloud-init
 * evidence, in the spirit of virt-inspector (no appliance VM).
 *
 *   imgfmt-inspect [--output=human|json] [-f FMT] IMAGE
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [--output=human|json] [-f FMT] IMAGE\n", prog);
}

static const char *os_type_name(enum imgfmt_os_type t)
{
    return t == IMGFMT_OS_LINUX ? "linux" : t == IMGFMT_OS_WINDOWS ? "windows" : "none";
}

static void print_windows(const imgfmt_inspection *ins, const imgfmt_os_info *os)
{
    imgfmt_windows_info w;
    imgfmt_cloudinit_info ci;
    imgfmt_inspection_windows(ins, &w);
    imgfmt_inspection_cloudinit(ins, &ci);
    printf("product:       %s (version %s, build %s%s%s%s%s)\n",
           os->product_name[0] ? os->product_name : "unknown", os->version, w.build,
           w.edition[0] ? ", " : "", w.edition, w.installation_type[0] ? ", " : "",
           w.installation_type);
    printf("architecture:  %s (%s)\n", os->arch[0] ? os->arch : "unknown", os->arch_source);
    printf("control set:   %s\n", w.control_set[0] ? w.control_set : "unknown");
    printf("virtio:        %s: %s\n", imgfmt_verdict_name(w.virtio), w.virtio_evidence);
    printf("cloudbase-init: %s: %s\n", imgfmt_verdict_name(ci.verdict), ci.evidence);
}

static void print_human(const imgfmt_inspection *ins)
{
    imgfmt_os_info os;
    imgfmt_cloudinit_info ci;
    imgfmt_inspection_os(ins, &os);
    printf("os:            %s\n", os_type_name(os.type));
    if (os.not_read[0])
        printf("not read:      %s\n", os.not_read);
    if (os.type == IMGFMT_OS_NONE)
        return;
    printf("root:          %s\n", os.root);
    imgfmt_filesystem *fs = imgfmt_inspection_fs(ins);
    for (uint32_t i = 0; i < imgfmt_fs_nb_mounts(fs); i++) {
        imgfmt_mount_info m;
        imgfmt_fs_get_mount(fs, i, &m);
        printf("mount:         %-10s %s (%s)\n", m.path, m.source, m.fs_type);
    }
    for (uint32_t i = 0; i < imgfmt_guest_nb_notes(fs); i++)
        printf("fstab note:    %s\n", imgfmt_guest_note(fs, i));
    if (os.type == IMGFMT_OS_WINDOWS) {
        print_windows(ins, &os);
        return;
    }
    printf("distribution:  %s %s (%s, from %s)\n", os.distro, os.version, os.product_name,
           os.distro_source);
    printf("architecture:  %s (%s)\n", os.arch[0] ? os.arch : "unknown", os.arch_source);
    printf("packages:      %s\n", os.package_format[0] ? os.package_format : "unknown");
    printf("boot loader:   %s %s\n", os.bootloader, os.bootloader_config);
    printf("default:       %s\n", os.default_rule);
    for (uint32_t i = 0; i < os.nb_kernels; i++) {
        imgfmt_kernel_info k;
        imgfmt_inspection_kernel(ins, i, &k);
        printf("kernel%s        %s\n", (int)i == os.default_kernel ? "*" : " ", k.version);
        printf("  config:      %s (CONFIG_VIRTIO_BLK=%c)\n", k.config[0] ? k.config : "none",
               k.virtio_blk);
        printf("  initramfs:   %s%s%s\n", k.initramfs[0] ? k.initramfs : "none",
               k.initramfs_format[0] ? " " : "", k.initramfs_format);
        printf("  virtio:      %s: %s\n", imgfmt_verdict_name(k.virtio), k.virtio_evidence);
    }
    imgfmt_inspection_cloudinit(ins, &ci);
    printf("cloud-init:    %s: %s\n", imgfmt_verdict_name(ci.verdict), ci.evidence);
    if (ci.datasources[0])
        printf("  datasources: %s\n", ci.datasources);
}

static void jkey(const char *k, const char *v, int comma)
{
    printf("    \"%s\": ", k);
    json_string(stdout, v);
    printf("%s\n", comma ? "," : "");
}

static void print_kernel_json(const imgfmt_kernel_info *k, int last)
{
    printf("    {\"version\": ");
    json_string(stdout, k->version);
    printf(", \"vmlinuz\": ");
    json_string(stdout, k->vmlinuz);
    printf(", \"config\": ");
    json_string(stdout, k->config);
    printf(", \"initramfs\": ");
    json_string(stdout, k->initramfs);
    printf(", \"initramfs_format\": ");
    json_string(stdout, k->initramfs_format);
    printf(", \"config_virtio_blk\": \"%c\", \"virtio\": \"%s\", \"virtio_evidence\": ",
           k->virtio_blk, imgfmt_verdict_name(k->virtio));
    json_string(stdout, k->virtio_evidence);
    printf("}%s\n", last ? "" : ",");
}

static void print_json(const imgfmt_inspection *ins)
{
    imgfmt_os_info os;
    imgfmt_cloudinit_info ci;
    imgfmt_inspection_os(ins, &os);
    imgfmt_inspection_cloudinit(ins, &ci);
    printf("{\n  \"os\": {\n");
    jkey("type", os_type_name(os.type), 1);
    jkey("root", os.root, 1);
    jkey("distro", os.distro, 1);
    jkey("product_name", os.product_name, 1);
    jkey("version", os.version, 1);
    printf("    \"major\": %u,\n    \"minor\": %u,\n", os.major, os.minor);
    jkey("arch", os.arch, 1);
    jkey("package_format", os.package_format, 1);
    jkey("bootloader", os.bootloader, 1);
    jkey("bootloader_config", os.bootloader_config, 1);
    jkey("default_rule", os.default_rule, 1);
    printf("    \"default_kernel\": %d,\n", os.default_kernel);
    jkey("not_read", os.not_read, 0);
    printf("  },\n  \"kernels\": [\n");
    for (uint32_t i = 0; i < os.nb_kernels; i++) {
        imgfmt_kernel_info k;
        imgfmt_inspection_kernel(ins, i, &k);
        print_kernel_json(&k, i + 1 == os.nb_kernels);
    }
    printf("  ],\n");
    imgfmt_windows_info w;
    if (imgfmt_inspection_windows(ins, &w) == 0) {
        printf("  \"windows\": {\n");
        jkey("control_set", w.control_set, 1);
        jkey("edition", w.edition, 1);
        jkey("installation_type", w.installation_type, 1);
        jkey("build", w.build, 1);
        jkey("virtio", imgfmt_verdict_name(w.virtio), 1);
        jkey("virtio_evidence", w.virtio_evidence, 0);
        printf("  },\n");
    }
    printf("  \"cloud_init\": {\n");
    jkey("verdict", imgfmt_verdict_name(ci.verdict), 1);
    jkey("evidence", ci.evidence, 1);
    jkey("version", ci.version, 1);
    jkey("enabled_by", ci.enabled_by, 1);
    jkey("datasources", ci.datasources, 1);
    jkey("package", ci.package, 0);
    printf("  }\n}\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'o' },
        { "format", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int json = 0, c;
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    prog = "imgfmt-inspect";
    while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (strcmp(optarg, "json") && strcmp(optarg, "human")) {
                tool_error("--output: human or json");
                return EXIT_USAGE;
            }
            json = strcmp(optarg, "json") == 0;
            break;
        case 'f':
            if ((o.format = imgfmt_format_from_name(optarg)) == IMGFMT_FMT_UNKNOWN) {
                tool_error("unknown format '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    imgfmt_image *img = tool_open(argv[optind], &o);
    if (!img)
        return EXIT_IMAGE;
    imgfmt_inspection *ins;
    imgfmt_error err = { 0 };
    if (imgfmt_inspect(img, &ins, &err) < 0) {
        tool_error("%s: %s", argv[optind], err.msg);
        imgfmt_close(img);
        return EXIT_IMAGE;
    }
    if (json)
        print_json(ins);
    else
        print_human(ins);
    imgfmt_inspection_free(ins);
    imgfmt_close(img);
    return EXIT_OK;
}
