/*
 * cloudinit.c -- is cloud-init installed and enabled?  Files decide
 * (source installs have no package entry): the binary or the Python
 * package, the start-up units and whether they are enabled or masked,
 * the "disabled" switches; the dpkg database corroborates; cloud.cfg
 * gives datasource_list.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"
#include "inspect/parse.h"

static void evidence(struct imgfmt_inspection *ins, const char *fmt, const char *arg)
{
    ifmt_append(ins->ci_evidence, sizeof ins->ci_evidence, "; ", fmt, arg);
}

/* The cloud-init binary: 1 found, 0 absent, -1 a dangling link. */
static int find_binary(struct imgfmt_inspection *ins)
{
    static const char *const bins[] = { "/usr/bin/cloud-init", "/usr/local/bin/cloud-init" };
    for (size_t i = 0; i < 2; i++) {
        imgfmt_stat st;
        if (!ifmt_guest_exists(ins->fs, bins[i]))
            continue;
        if (imgfmt_fs_stat(ins->fs, bins[i], 0, &st) < 0) {
            evidence(ins, "%s is a dangling symlink", bins[i]);
            return -1;
        }
        evidence(ins, "%s", bins[i]);
        return 1;
    }
    return 0;
}

/* cloudinit/ under a python site/dist-packages directory; its version. */
static bool find_package_dir(struct imgfmt_inspection *ins)
{
    static const char *const libs[] = { "/usr/lib", "/usr/local/lib" };
    static const char *const sub[] = { "dist-packages", "site-packages" };
    for (size_t i = 0; i < 2; i++) {
        imgfmt_dir *d;
        imgfmt_dirent e;
        if (imgfmt_fs_opendir(ins->fs, libs[i], &d) < 0)
            continue;
        bool found = false;
        for (unsigned n = 0; !found && n < 4096 && imgfmt_fs_readdir(d, &e) > 0; n++) {
            if (strncmp(e.name, "python", 6) != 0 || strlen(e.name) > 32)
                continue;
            for (size_t s = 0; s < 2 && !found; s++) {
                char p[256], *t;
                size_t tl;
                snprintf(p, sizeof p, "%s/%s/%s/cloudinit/__init__.py", libs[i], e.name, sub[s]);
                if (!ifmt_guest_exists(ins->fs, p))
                    continue;
                found = true;
                snprintf(p, sizeof p, "%s/%s/%s/cloudinit", libs[i], e.name, sub[s]);
                evidence(ins, "%s/", p);
                ifmt_append(p, sizeof p, NULL, "/version.py");
                if (ifmt_guest_read(ins->fs, p, 65536, &t, &tl) == 0) {
                    const char *v = strstr(t, "__VERSION__");
                    char ver[64] = "";
                    if (v && sscanf(v, "__VERSION__ = \"%63[^\"]\"", ver) == 1)
                        ifmt_copy(ins->ci_version, sizeof ins->ci_version, ver);
                    free(t);
                }
            }
        }
        imgfmt_fs_closedir(d);
        if (found)
            return true;
    }
    return false;
}

static const char *const unit_dirs[] = { "/etc/systemd/system", "/usr/lib/systemd/system",
                                         "/lib/systemd/system" };

/* The systemd units: 1 present, 0 absent, -1 masked. */
static int find_units(struct imgfmt_inspection *ins)
{
    char p[200];
    imgfmt_stat st;
    const char *masked = NULL;
    bool present = false;
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/cloud-init.service", unit_dirs[i]);
        if (!ifmt_guest_exists(ins->fs, p))
            continue;
        const char *target;
        if (i == 0 && imgfmt_fs_readlink(ins->fs, p, &target) == 0 &&
            strcmp(target, "/dev/null") == 0)
            masked = unit_dirs[i];
        else if (imgfmt_fs_stat(ins->fs, p, 0, &st) == 0)
            present = true;
    }
    if (masked) {
        evidence(ins, "cloud-init.service is masked (%s/cloud-init.service -> /dev/null)",
                 masked);
        return -1;
    }
    if (present)
        evidence(ins, "%s", "cloud-init.service unit");
    return present;
}

static bool enabled(struct imgfmt_inspection *ins)
{
    static const char *const wants[] = {
        "/etc/systemd/system/cloud-init.target.wants/cloud-init.service",
        "/etc/systemd/system/multi-user.target.wants/cloud-init.service",
        "/etc/systemd/system/cloud-init.target.wants/cloud-init-main.service",
    };
    static const char *const generators[] = {
        "/usr/lib/systemd/system-generators/cloud-init-generator",
        "/lib/systemd/system-generators/cloud-init-generator",
    };
    for (size_t i = 0; i < 3; i++)
        if (ifmt_guest_exists(ins->fs, wants[i])) {
            ifmt_copy(ins->ci_enabled_by, sizeof ins->ci_enabled_by, wants[i]);
            return true;
        }
    for (size_t i = 0; i < 2; i++)
        if (ifmt_guest_exists(ins->fs, generators[i])) {
            ifmt_copy(ins->ci_enabled_by, sizeof ins->ci_enabled_by, generators[i]);
            return true;
        }
    if (ifmt_guest_exists(ins->fs, "/etc/init.d/cloud-init") ||
        ifmt_guest_exists(ins->fs, "/etc/init/cloud-init.conf")) {
        snprintf(ins->ci_enabled_by, sizeof ins->ci_enabled_by, "SysV/upstart job");
        return true;
    }
    return false;
}

static void read_datasources(struct imgfmt_inspection *ins)
{
    char *t;
    size_t n;
    if (ifmt_guest_read(ins->fs, "/etc/cloud/cloud.cfg", IFMT_SMALL_FILE, &t, &n) == 0) {
        ifmt_cloudcfg_datasources(t, n, ins->ci_datasources, sizeof ins->ci_datasources);
        free(t);
    }
    imgfmt_dir *d;
    imgfmt_dirent e;
    if (imgfmt_fs_opendir(ins->fs, "/etc/cloud/cloud.cfg.d", &d) < 0)
        return;
    /* Later files win: keep the lexically greatest file that sets it. */
    char best[256] = "";
    for (unsigned k = 0; k < 1024 && imgfmt_fs_readdir(d, &e) > 0; k++) {
        size_t l = strlen(e.name);
        char p[400], v[256];
        if (l < 5 || strcmp(e.name + l - 4, ".cfg") || l > 200 || strcmp(e.name, best) < 0)
            continue;
        snprintf(p, sizeof p, "/etc/cloud/cloud.cfg.d/%s", e.name);
        if (ifmt_guest_read(ins->fs, p, IFMT_SMALL_FILE, &t, &n) < 0)
            continue;
        if (ifmt_cloudcfg_datasources(t, n, v, sizeof v)) {
            ifmt_copy(ins->ci_datasources, sizeof ins->ci_datasources, v);
            ifmt_copy(best, sizeof best, e.name);
        }
        free(t);
    }
    imgfmt_fs_closedir(d);
}

static void read_dpkg(struct imgfmt_inspection *ins)
{
    char *t, v[64];
    size_t n;
    if (ifmt_guest_read(ins->fs, "/var/lib/dpkg/status", 256u << 20, &t, &n) < 0)
        return;
    enum ifmt_dpkg_state s = ifmt_dpkg_lookup(t, n, "cloud-init", v, sizeof v);
    free(t);
    if (s == IFMT_DPKG_INSTALLED)
        snprintf(ins->ci_package, sizeof ins->ci_package, "dpkg: installed %s", v);
    else if (s == IFMT_DPKG_REMOVED)
        snprintf(ins->ci_package, sizeof ins->ci_package, "dpkg: removed (config files left)");
    else if (s == IFMT_DPKG_OTHER)
        snprintf(ins->ci_package, sizeof ins->ci_package, "dpkg: not fully installed");
    else
        snprintf(ins->ci_package, sizeof ins->ci_package, "dpkg: not in the database");
    if (!ins->ci_version[0] && s == IFMT_DPKG_INSTALLED)
        ifmt_copy(ins->ci_version, sizeof ins->ci_version, v);
}

static bool disabled(struct imgfmt_inspection *ins)
{
    if (ifmt_guest_exists(ins->fs, "/etc/cloud/cloud-init.disabled")) {
        evidence(ins, "%s", "/etc/cloud/cloud-init.disabled exists");
        return true;
    }
    if (strstr(ins->default_options, "cloud-init=disabled")) {
        evidence(ins, "%s", "cloud-init=disabled on the default kernel's command line");
        return true;
    }
    return false;
}

void ifmt_inspect_cloudinit(struct imgfmt_inspection *ins)
{
    int bin = find_binary(ins);
    bool pkg = find_package_dir(ins);
    int units = find_units(ins);
    read_datasources(ins);
    read_dpkg(ins);
    if (ins->ci_package[0])
        evidence(ins, "%s", ins->ci_package);
    if (bin < 0) {
        ins->ci_verdict = IMGFMT_VERDICT_FAIL;
        return;
    }
    if (bin == 0 && !pkg) {
        ins->ci_verdict = IMGFMT_VERDICT_FAIL;
        evidence(ins, "%s", "no cloud-init binary or Python package");
        return;
    }
    if (units < 0 || disabled(ins)) {
        ins->ci_verdict = IMGFMT_VERDICT_FAIL;
        return;
    }
    if (units == 0 && !enabled(ins)) {
        ins->ci_verdict = IMGFMT_VERDICT_FAIL;
        evidence(ins, "%s", "installed, but no start-up unit or job");
        return;
    }
    if (!enabled(ins)) {
        ins->ci_verdict = IMGFMT_VERDICT_FAIL;
        evidence(ins, "%s", "installed, not enabled (no cloud-init.target.wants link or generator)");
        return;
    }
    evidence(ins, "enabled by %s", ins->ci_enabled_by);
    ins->ci_verdict = IMGFMT_VERDICT_PASS;
    if (ins->ci_version[0] && ifmt_version_cmp(ins->ci_version, "0.7.9") < 0) {
        ins->ci_verdict = IMGFMT_VERDICT_WARN;
        evidence(ins, "version %s is older than 0.7.9", ins->ci_version);
    }
}
