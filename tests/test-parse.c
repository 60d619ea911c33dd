/*
 * test-parse.c -- the inspection text parsers (inspect/parse.c) on inputs
 * shaped like the real files: Debian's grub.cfg with its "Advanced
 * options" submenu, a RHEL 7 grub.cfg with saved_entry, a BLS entry,
 * dpkg status paragraphs, cloud.cfg lists in both YAML styles.
 */
#include <check.h>
#include <string.h>

#include "inspect/parse.h"
#include "testutil.h"

#define LEN(s) (sizeof(s) - 1)

START_TEST(kv_and_config)
{
    static const char osrel[] = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
                                "ID=debian\nVERSION_ID='12'\nNAME=Deb\\ ian # c\n";
    char v[128];
    ck_assert(ifmt_kv_get(osrel, LEN(osrel), "PRETTY_NAME", v, sizeof v));
    ck_assert_str_eq(v, "Debian GNU/Linux 12 (bookworm)");
    ck_assert(ifmt_kv_get(osrel, LEN(osrel), "VERSION_ID", v, sizeof v));
    ck_assert_str_eq(v, "12");
    ck_assert(ifmt_kv_get(osrel, LEN(osrel), "NAME", v, sizeof v));
    ck_assert_str_eq(v, "Deb ian");
    ck_assert(!ifmt_kv_get(osrel, LEN(osrel), "ID_LIKE", v, sizeof v));
    ck_assert(!ifmt_kv_get(osrel, LEN(osrel), "I", v, sizeof v));
    static const char cfg[] = "CONFIG_VIRTIO=y\nCONFIG_VIRTIO_BLK=m\n"
                              "# CONFIG_VIRTIO_NET is not set\nCONFIG_VIRTIO_BLK_SCSI=y\n";
    ck_assert_int_eq(ifmt_kconfig_get(cfg, LEN(cfg), "CONFIG_VIRTIO"), 'y');
    ck_assert_int_eq(ifmt_kconfig_get(cfg, LEN(cfg), "CONFIG_VIRTIO_BLK"), 'm');
    ck_assert_int_eq(ifmt_kconfig_get(cfg, LEN(cfg), "CONFIG_VIRTIO_NET"), 'n');
    ck_assert_int_eq(ifmt_kconfig_get(cfg, LEN(cfg), "CONFIG_VIRTIO_PCI"), 'n');
}
END_TEST

START_TEST(modules)
{
    char n[64], deps[256];
    ck_assert_str_eq(ifmt_module_name("kernel/drivers/block/virtio_blk.ko.zst", n, sizeof n),
                     "virtio_blk");
    ck_assert_str_eq(ifmt_module_name("virtio-pci.ko.xz", n, sizeof n), "virtio_pci");
    ck_assert_str_eq(ifmt_module_name("a/b/x.ko", n, sizeof n), "x");
    static const char dep[] =
        "kernel/drivers/virtio/virtio.ko.xz:\n"
        "kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz "
        "kernel/drivers/virtio/virtio.ko.xz\n";
    ck_assert(ifmt_modules_dep_lookup(dep, LEN(dep), "virtio_blk", deps, sizeof deps));
    ck_assert_str_eq(deps, "kernel/drivers/virtio/virtio_ring.ko.xz kernel/drivers/virtio/virtio.ko.xz");
    ck_assert(ifmt_modules_dep_lookup(dep, LEN(dep), "virtio", deps, sizeof deps));
    ck_assert_str_eq(deps, "");
    ck_assert(!ifmt_modules_dep_lookup(dep, LEN(dep), "virtio_net", deps, sizeof deps));
    static const char builtin[] = "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_pci.ko\n";
    ck_assert(ifmt_modules_builtin_has(builtin, LEN(builtin), "virtio_pci"));
    ck_assert(!ifmt_modules_builtin_has(builtin, LEN(builtin), "virtio_blk"));
}
END_TEST

/* The shape update-grub writes on Debian 12. */
static const char debian_grub[] =
    "set default=\"0\"\n"
    "if [ x\"${feature_menuentry_id}\" = xy ]; then\n  menuentry_id_option=\"--id\"\nfi\n"
    "menuentry 'Debian GNU/Linux' --class debian --class gnu-linux $menuentry_id_option "
    "'gnulinux-simple-0b1e' {\n"
    "\tload_video\n\tinsmod gzio\n"
    "\tlinux\t/vmlinuz-6.1.0-13-amd64 root=UUID=0b1e ro  quiet\n"
    "\tinitrd\t/initrd.img-6.1.0-13-amd64\n}\n"
    "submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-0b1e' {\n"
    "\tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-13-amd64' $menuentry_id_option "
    "'gnulinux-6.1.0-13-amd64-advanced-0b1e' {\n"
    "\t\tlinux\t/vmlinuz-6.1.0-13-amd64 root=UUID=0b1e ro \\\n  quiet\n"
    "\t\tinitrd\t/initrd.img-6.1.0-13-amd64\n\t}\n"
    "\tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-10-amd64' $menuentry_id_option "
    "'gnulinux-6.1.0-10-amd64-advanced-0b1e' {\n"
    "\t\tlinux\t/vmlinuz-6.1.0-10-amd64 root=UUID=0b1e ro quiet\n"
    "\t\tinitrd\t/initrd.img-6.1.0-10-amd64\n\t}\n"
    "}\n"
    "menuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {\n\tfwsetup\n}\n";

START_TEST(grub_debian)
{
    static struct ifmt_grub_menu m;
    char rule[256];
    ifmt_grub_parse(debian_grub, LEN(debian_grub), &m);
    ck_assert_uint_eq(m.nb, 4);
    ck_assert_str_eq(m.default_value, "0");
    ck_assert_str_eq(m.entries[0].linux_path, "/vmlinuz-6.1.0-13-amd64");
    ck_assert_str_eq(m.entries[0].initrd, "/initrd.img-6.1.0-13-amd64");
    ck_assert_str_eq(m.entries[0].id, "gnulinux-simple-0b1e");
    ck_assert_int_eq(m.entries[2].top, 1);
    ck_assert_int_eq(m.entries[2].sub, 1);
    ck_assert_str_eq(m.entries[1].options, "root=UUID=0b1e ro quiet");
    ck_assert_int_eq(m.entries[3].top, 2);
    ck_assert_int_eq(ifmt_grub_default(&m, NULL, rule, sizeof rule), 0);
    ck_assert_str_eq(rule, "grub.cfg: set default=0");
    strcpy(m.default_value, "1>1");
    ck_assert_int_eq(ifmt_grub_default(&m, NULL, rule, sizeof rule), 2);
    strcpy(m.default_value, "saved");
    ck_assert_int_eq(ifmt_grub_default(&m, "gnulinux-6.1.0-10-amd64-advanced-0b1e", rule,
                                       sizeof rule), 2);
    ck_assert_int_eq(ifmt_grub_default(&m, "Advanced options for Debian GNU/Linux>"
                                       "Debian GNU/Linux, with Linux 6.1.0-13-amd64",
                                       rule, sizeof rule), 1);
    ck_assert_int_eq(ifmt_grub_default(&m, "no such", rule, sizeof rule), -1);
    strcpy(m.default_value, "7");
    ck_assert_int_eq(ifmt_grub_default(&m, NULL, rule, sizeof rule), -1);
}
END_TEST

START_TEST(grub_rhel7_and_bls)
{
    static const char cfg[] =
        "set default=\"${saved_entry}\"\n"
        "menuentry 'CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)' --class centos {\n"
        "\tlinux16 /vmlinuz-3.10.0-1160.el7.x86_64 root=/dev/mapper/centos-root ro\n"
        "\tinitrd16 /initramfs-3.10.0-1160.el7.x86_64.img\n}\n"
        "menuentry 'CentOS Linux (0-rescue-abc) 7 (Core)' {\n"
        "\tlinux16 /vmlinuz-0-rescue-abc\n}\n";
    static struct ifmt_grub_menu m;
    char rule[256];
    ifmt_grub_parse(cfg, LEN(cfg), &m);
    ck_assert_uint_eq(m.nb, 2);
    ck_assert_int_eq(ifmt_grub_default(&m, "CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)",
                                       rule, sizeof rule), 0);
    ck_assert_int_eq(ifmt_grub_default(&m, NULL, rule, sizeof rule), 0);
    static const char fedora[] = "insmod blscfg\nblscfg\n";
    ifmt_grub_parse(fedora, LEN(fedora), &m);
    ck_assert(m.blscfg);
    ck_assert_uint_eq(m.nb, 0);
    static const char bls[] =
        "title Fedora Linux (6.5.6-300.fc39.x86_64) 39 (Server Edition)\n"
        "version 6.5.6-300.fc39.x86_64\nlinux /vmlinuz-6.5.6-300.fc39.x86_64\n"
        "initrd /initramfs-6.5.6-300.fc39.x86_64.img\ninitrd /second.img\n"
        "options root=UUID=1 ro\ngrub_users $grub_users\n";
    struct ifmt_bls_entry e;
    ifmt_bls_parse(bls, LEN(bls), &e);
    ck_assert_str_eq(e.version, "6.5.6-300.fc39.x86_64");
    ck_assert_str_eq(e.initrd, "/initramfs-6.5.6-300.fc39.x86_64.img");
    ck_assert_str_eq(e.options, "root=UUID=1 ro");
    ck_assert_int_gt(ifmt_version_cmp("6.5.10-300.fc39", "6.5.6-300.fc39"), 0);
    ck_assert_int_lt(ifmt_version_cmp("1.0~rc1", "1.0"), 0);
    ck_assert_int_eq(ifmt_version_cmp("6.1.0-13", "6.1.0-13"), 0);
    ck_assert_int_gt(ifmt_version_cmp("6.1.0-13-amd64", "6.1.0-13"), 0);
}
END_TEST

START_TEST(dpkg_status)
{
    static const char st[] =
        "Package: cloud-guest-utils\nStatus: install ok installed\nVersion: 0.33-1\n\n"
        "Package: cloud-init\nStatus: install ok installed\nPriority: optional\n"
        "Version: 22.4.2-1+deb12u1\nDescription: initialization\n multi-line\n\n"
        "Package: openssh-server\nStatus: deinstall ok config-files\nVersion: 1:9.2p1-2\n\n"
        "Package: half\nStatus: install reinstreq half-installed\n";
    char v[64];
    ck_assert_int_eq(ifmt_dpkg_lookup(st, LEN(st), "cloud-init", v, sizeof v),
                     IFMT_DPKG_INSTALLED);
    ck_assert_str_eq(v, "22.4.2-1+deb12u1");
    ck_assert_int_eq(ifmt_dpkg_lookup(st, LEN(st), "openssh-server", v, sizeof v),
                     IFMT_DPKG_REMOVED);
    ck_assert_int_eq(ifmt_dpkg_lookup(st, LEN(st), "half", v, sizeof v), IFMT_DPKG_OTHER);
    ck_assert_int_eq(ifmt_dpkg_lookup(st, LEN(st), "cloud", v, sizeof v), IFMT_DPKG_ABSENT);
}
END_TEST

START_TEST(cloudcfg)
{
    char v[256];
    static const char flow[] = "# comment\ndatasource_list: [ NoCloud, 'ConfigDrive', \"None\" ]\n";
    ck_assert(ifmt_cloudcfg_datasources(flow, LEN(flow), v, sizeof v));
    ck_assert_str_eq(v, "NoCloud, ConfigDrive, None");
    static const char blk[] = "users:\n - default\ndatasource_list:\n  - OpenStack  # x\n"
                              "  - Ec2\n\nsystem_info:\n  distro: debian\n";
    ck_assert(ifmt_cloudcfg_datasources(blk, LEN(blk), v, sizeof v));
    ck_assert_str_eq(v, "OpenStack, Ec2");
    static const char none[] = "datasource:\n  Ec2:\n    timeout: 5\n";
    ck_assert(!ifmt_cloudcfg_datasources(none, LEN(none), v, sizeof v));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("parse");
    TCase *tc = tcase_create("inspect");
    tcase_add_test(tc, kv_and_config);
    tcase_add_test(tc, modules);
    tcase_add_test(tc, grub_debian);
    tcase_add_test(tc, grub_rhel7_and_bls);
    tcase_add_test(tc, dpkg_status);
    tcase_add_test(tc, cloudcfg);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
