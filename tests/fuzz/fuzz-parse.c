/*
 * fuzz-parse -- the inspection text parsers (os-release, kernel config,
 * modules.dep/builtin, grub.cfg, BLS, dpkg status, cloud.cfg) and the
 * fstab parser on arbitrary bytes.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "fs/fstab.h"
#include "fuzz.h"
#include "inspect/parse.h"

static int count_entry(void *opaque, const struct ifmt_fstab_entry *e)
{
    char v[64];
    (*(unsigned *)opaque)++;
    ifmt_mntopt(e->mntops, "subvol", v, sizeof v);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *t = (const char *)data;
    char out[256], deps[512];
    static struct ifmt_grub_menu m;
    struct ifmt_bls_entry e;
    unsigned n = 0;
    ifmt_kv_get(t, size, "ID", out, sizeof out);
    ifmt_kv_get(t, size, "saved_entry", out, sizeof out);
    (void)ifmt_kconfig_get(t, size, "CONFIG_VIRTIO_BLK");
    ifmt_modules_dep_lookup(t, size, "virtio_blk", deps, sizeof deps);
    (void)ifmt_modules_builtin_has(t, size, "virtio_pci");
    ifmt_grub_parse(t, size, &m);
    (void)ifmt_grub_default(&m, m.nb ? m.entries[0].title : NULL, out, sizeof out);
    ifmt_bls_parse(t, size, &e);
    (void)ifmt_version_cmp(e.version, e.title);
    (void)ifmt_dpkg_lookup(t, size, "cloud-init", out, sizeof out);
    ifmt_cloudcfg_datasources(t, size, out, sizeof out);
    ifmt_fstab_parse(t, size, count_entry, &n);
    /* A NUL-terminated copy for the functions that take C strings. */
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
        (void)ifmt_module_name(s, out, sizeof out);
        (void)ifmt_version_cmp(s, "6.1.0-13");
        free(s);
    }
    return 0;
}
