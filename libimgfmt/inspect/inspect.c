/*
 * inspect.c -- guest inspection: open the guest view, then run the steps
 * for the OS found; the public accessors.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"

const char *imgfmt_verdict_name(enum imgfmt_verdict v)
{
    switch (v) {
    case IMGFMT_VERDICT_PASS: return "pass";
    case IMGFMT_VERDICT_FAIL: return "fail";
    case IMGFMT_VERDICT_WARN: return "warn";
    default:                  return "not-checked";
    }
}

int imgfmt_inspect(imgfmt_image *img, imgfmt_inspection **out, imgfmt_error *err)
{
    if (!out || !img)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_inspect: NULL argument");
    *out = NULL;
    struct imgfmt_inspection *ins = calloc(1, sizeof *ins);
    if (!ins)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "inspect: out of memory");
    ins->default_kernel = -1;
    imgfmt_error gerr = { 0 };
    int r = imgfmt_guest_open(img, NULL, &ins->fs, &gerr);
    if (r == IMGFMT_E_NOT_FOUND || r == IMGFMT_E_UNSUPPORTED) {
        ifmt_copy(ins->not_read, sizeof ins->not_read, gerr.msg);
        *out = ins;
        return IMGFMT_OK;
    }
    if (r < 0) {
        if (err)
            *err = gerr;
        free(ins);
        return r;
    }
    ins->type = imgfmt_guest_os_type(ins->fs);
    ifmt_copy(ins->root, sizeof ins->root, imgfmt_guest_root_evidence(ins->fs));
    if (ins->type == IMGFMT_OS_LINUX) {
        ifmt_inspect_linux_os(ins);
        ifmt_inspect_linux_boot(ins);
        ifmt_inspect_cloudinit(ins);
    } else if (ins->type == IMGFMT_OS_WINDOWS) {
        ifmt_inspect_windows(ins);
    }
    *out = ins;
    return IMGFMT_OK;
}

void imgfmt_inspection_free(imgfmt_inspection *ins)
{
    if (!ins)
        return;
    imgfmt_fs_close(ins->fs);
    free(ins);
}

int imgfmt_inspection_os(const imgfmt_inspection *ins, imgfmt_os_info *o)
{
    if (!ins || !o)
        return IMGFMT_E_INVAL;
    *o = (imgfmt_os_info){
        .type = ins->type, .root = ins->root, .distro = ins->distro,
        .product_name = ins->product, .version = ins->version, .major = ins->major,
        .minor = ins->minor, .distro_source = ins->distro_source, .arch = ins->arch,
        .arch_source = ins->arch_source, .package_format = ins->pkgfmt,
        .bootloader = ins->bootloader, .bootloader_config = ins->bootcfg,
        .default_kernel = ins->default_kernel, .default_rule = ins->default_rule,
        .default_cmdline = ins->default_options,
        .nb_kernels = ins->nb_kernels, .not_read = ins->not_read,
    };
    return IMGFMT_OK;
}

int imgfmt_inspection_kernel(const imgfmt_inspection *ins, uint32_t i, imgfmt_kernel_info *o)
{
    if (!ins || !o || i >= ins->nb_kernels)
        return IMGFMT_E_INVAL;
    const struct ifmt_kernel *k = &ins->kernels[i];
    *o = (imgfmt_kernel_info){
        .version = k->version, .vmlinuz = k->vmlinuz, .config = k->config,
        .initramfs = k->initramfs, .initramfs_format = k->initramfs_format,
        .initramfs_segments = k->segments, .virtio_blk = k->blk, .virtio_net = k->net,
        .builtin_virtio_blk = k->builtin_blk, .virtio = k->virtio,
        .virtio_evidence = k->evidence,
    };
    return IMGFMT_OK;
}

int imgfmt_inspection_cloudinit(const imgfmt_inspection *ins, imgfmt_cloudinit_info *o)
{
    if (!ins || !o)
        return IMGFMT_E_INVAL;
    *o = (imgfmt_cloudinit_info){
        .verdict = ins->type != IMGFMT_OS_NONE ? ins->ci_verdict : IMGFMT_VERDICT_NOT_CHECKED,
        .evidence = ins->type != IMGFMT_OS_NONE ? ins->ci_evidence : ins->not_read,
        .version = ins->ci_version, .enabled_by = ins->ci_enabled_by,
        .datasources = ins->ci_datasources, .package = ins->ci_package,
    };
    return IMGFMT_OK;
}

int imgfmt_inspection_windows(const imgfmt_inspection *ins, imgfmt_windows_info *o)
{
    if (!ins || !o || ins->type != IMGFMT_OS_WINDOWS)
        return IMGFMT_E_INVAL;
    *o = (imgfmt_windows_info){
        .control_set = ins->win_control_set, .edition = ins->win_edition,
        .installation_type = ins->win_install_type, .build = ins->win_build,
        .virtio = ins->win_virtio, .virtio_evidence = ins->win_virtio_evidence,
    };
    return IMGFMT_OK;
}

imgfmt_filesystem *imgfmt_inspection_fs(const imgfmt_inspection *ins)
{
    return ins ? ins->fs : NULL;
}
