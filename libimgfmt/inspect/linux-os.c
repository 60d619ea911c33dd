/*
 * linux-os.c -- which distribution and version, which architecture, which
 * package format: the first release file that parses wins (os-release,
 * then the distribution's own files), the ELF header of a core binary.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "inspect/inspect.h"
#include "inspect/parse.h"

static void parse_version(struct imgfmt_inspection *ins, const char *v)
{
    char *end;
    ifmt_copy(ins->version, sizeof ins->version, v);
    ins->major = (uint32_t)strtoul(v, &end, 10);
    ins->minor = *end == '.' ? (uint32_t)strtoul(end + 1, NULL, 10) : 0;
}

static bool from_os_release(struct imgfmt_inspection *ins)
{
    static const char *const paths[] = { "/etc/os-release", "/usr/lib/os-release" };
    for (size_t i = 0; i < 2; i++) {
        char *t;
        size_t n;
        if (ifmt_guest_read(ins->fs, paths[i], IFMT_SMALL_FILE, &t, &n) < 0)
            continue;
        char v[256];
        if (ifmt_kv_get(t, n, "ID", v, sizeof v))
            ifmt_copy(ins->distro, sizeof ins->distro, v);
        if (ifmt_kv_get(t, n, "PRETTY_NAME", v, sizeof v))
            ifmt_copy(ins->product, sizeof ins->product, v);
        if (ifmt_kv_get(t, n, "VERSION_ID", v, sizeof v))
            parse_version(ins, v);
        free(t);
        if (ins->distro[0]) {
            ifmt_copy(ins->distro_source, sizeof ins->distro_source, paths[i]);
            return true;
        }
    }
    return false;
}

/* "CentOS Linux release 7.9.2009 (Core)": the number after "release". */
static bool release_line(struct imgfmt_inspection *ins, const char *path, const char *id)
{
    char *t;
    size_t n;
    if (ifmt_guest_read(ins->fs, path, IFMT_SMALL_FILE, &t, &n) < 0)
        return false;
    char *nl = strchr(t, '\n');
    if (nl)
        *nl = '\0';
    const char *rel = strstr(t, "release ");
    bool ok = rel != NULL;
    if (ok) {
        if (!ins->product[0])
            ifmt_copy(ins->product, sizeof ins->product, t);
        if (!ins->distro[0])
            ifmt_copy(ins->distro, sizeof ins->distro, id);
        char v[64];
        sscanf(rel + 8, "%63s", v);
        if (!ins->version[0] || !strchr(ins->version, '.'))
            parse_version(ins, v);
        if (!ins->distro_source[0])
            ifmt_copy(ins->distro_source, sizeof ins->distro_source, path);
    }
    free(t);
    return ok;
}

/* os-release gives Debian and CentOS only the major: their files add more. */
static void refine_version(struct imgfmt_inspection *ins)
{
    static const struct { const char *path, *id; } rh[] = {
        { "/etc/centos-release", "centos" }, { "/etc/rocky-release", "rocky" },
        { "/etc/oracle-release", "ol" }, { "/etc/redhat-release", "rhel" },
    };
    for (size_t i = 0; i < sizeof rh / sizeof rh[0]; i++)
        if ((!ins->distro[0] || !strchr(ins->version, '.')) &&
            release_line(ins, rh[i].path, rh[i].id))
            break;
    char *t;
    size_t n;
    if ((!ins->distro[0] || strcmp(ins->distro, "debian") == 0) &&
        ifmt_guest_read(ins->fs, "/etc/debian_version", 4096, &t, &n) == 0) {
        char v[64] = "";
        sscanf(t, "%63s", v);
        if (v[0] >= '0' && v[0] <= '9' && (!ins->version[0] || !strchr(ins->version, '.')))
            parse_version(ins, v);
        if (!ins->distro[0]) {
            snprintf(ins->distro, sizeof ins->distro, "debian");
            snprintf(ins->distro_source, sizeof ins->distro_source, "/etc/debian_version");
        }
        free(t);
    }
    if (!ins->distro[0] && ifmt_guest_read(ins->fs, "/etc/lsb-release", 4096, &t, &n) == 0) {
        char v[256];
        if (ifmt_kv_get(t, n, "DISTRIB_ID", v, sizeof v)) {
            for (char *p = v; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            ifmt_copy(ins->distro, sizeof ins->distro, v);
            snprintf(ins->distro_source, sizeof ins->distro_source, "/etc/lsb-release");
        }
        if (ifmt_kv_get(t, n, "DISTRIB_RELEASE", v, sizeof v))
            parse_version(ins, v);
        if (ifmt_kv_get(t, n, "DISTRIB_DESCRIPTION", v, sizeof v))
            ifmt_copy(ins->product, sizeof ins->product, v);
        free(t);
    }
}

static const char *elf_machine(uint16_t m, int cls)
{
    switch (m) {
    case 3:   return "i386";
    case 62:  return cls == 1 ? "x32" : "x86_64";
    case 183: return "aarch64";
    case 40:  return "arm";
    case 243: return cls == 1 ? "riscv32" : "riscv64";
    case 21:  return "ppc64";
    case 22:  return "s390x";
    default:  return NULL;
    }
}

static void detect_arch(struct imgfmt_inspection *ins)
{
    static const char *const bins[] = { "/bin/bash", "/bin/ls", "/bin/sh", "/sbin/init",
                                        "/usr/bin/bash", "/usr/bin/ls" };
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
        imgfmt_file *f;
        uint8_t h[20];
        size_t got;
        if (imgfmt_fs_open_file(ins->fs, bins[i], &f) < 0)
            continue;
        int r = imgfmt_file_pread(f, h, sizeof h, 0, &got);
        imgfmt_file_close(f);
        if (r < 0 || got < sizeof h || memcmp(h, "\177ELF", 4) != 0)
            continue;
        uint16_t m = h[5] == 2 ? ifmt_be16(h + 18) : ifmt_le16(h + 18);
        const char *a = elf_machine(m, h[4]);
        if (!a)
            continue;
        ifmt_copy(ins->arch, sizeof ins->arch, a);
        snprintf(ins->arch_source, sizeof ins->arch_source, "%s (ELF machine %u)", bins[i], m);
        return;
    }
    snprintf(ins->arch_source, sizeof ins->arch_source,
             "no ELF binary among /bin/bash, /bin/ls, /bin/sh, /sbin/init");
}

void ifmt_inspect_linux_os(struct imgfmt_inspection *ins)
{
    from_os_release(ins);
    refine_version(ins);
    if (!ins->distro[0])
        snprintf(ins->not_read, sizeof ins->not_read,
                 "no os-release, lsb-release or distribution release file");
    detect_arch(ins);
    if (ifmt_guest_exists(ins->fs, "/var/lib/dpkg/status"))
        snprintf(ins->pkgfmt, sizeof ins->pkgfmt, "deb");
    else if (ifmt_guest_is_dir(ins->fs, "/var/lib/rpm") ||
             ifmt_guest_is_dir(ins->fs, "/usr/lib/sysimage/rpm"))
        snprintf(ins->pkgfmt, sizeof ins->pkgfmt, "rpm");
}
