/*
 * parse.h -- the small text formats guest inspection reads, as pure
 * functions over a buffer (no I/O): os-release, kernel .config,
 * modules.dep / modules.builtin, GRUB 2 grub.cfg + grubenv, BLS entries,
 * the dpkg status file, and cloud-init's datasource_list.
 */
#ifndef IMGFMT_INSPECT_PARSE_H
#define IMGFMT_INSPECT_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* os-release / lsb-release / grubenv style KEY=value (shell quotes and
 * backslash escapes removed).  False if absent. */
bool ifmt_kv_get(const char *text, size_t len, const char *key, char *out, size_t cap);

/* Kernel configuration: 'y', 'm', or 'n' ("is not set" or absent). */
char ifmt_kconfig_get(const char *text, size_t len, const char *symbol);

/* A module name as the kernel compares them: basename, suffix (.ko,
 * .ko.xz, .ko.zst, .ko.gz) removed, '-' as '_'.  Returns out. */
char *ifmt_module_name(const char *path, char *out, size_t cap);

/* modules.dep: the dependency list (space-separated paths) of the module
 * whose name is name (normalised as above).  False if it has no line. */
bool ifmt_modules_dep_lookup(const char *text, size_t len, const char *name, char *deps,
                             size_t cap);
/* modules.builtin (one path a line): true if name is listed. */
bool ifmt_modules_builtin_has(const char *text, size_t len, const char *name);

#define IFMT_GRUB_MAX_ENTRIES 128

struct ifmt_grub_entry {
    char title[256];
    char id[128];              /* --id or $menuentry_id_option value */
    char linux_path[512];      /* the linux/linux16/linuxefi line's path */
    char options[1024];        /* its arguments */
    char initrd[512];          /* the first initrd path */
    int top, sub;              /* position: "top" or "top>sub" (sub -1 at top level) */
};

struct ifmt_grub_menu {
    char default_value[256];   /* `set default=` as written ("" if none) */
    bool blscfg;               /* the menu calls blscfg: entries live in BLS files */
    unsigned nb;
    struct ifmt_grub_entry entries[IFMT_GRUB_MAX_ENTRIES];
};

/* Parse grub.cfg: menuentry and submenu blocks in order (nesting, quotes,
 * "\" continuations; unknown commands skipped). */
void ifmt_grub_parse(const char *text, size_t len, struct ifmt_grub_menu *m);
/* The entry `default` (N, "N>M", a title or an id; "saved" means
 * saved_entry) selects; saved_entry may be NULL.  -1 if none does.  rule
 * gets how ("set default=0", "saved_entry=...", "no default: first entry"). */
int ifmt_grub_default(const struct ifmt_grub_menu *m, const char *saved_entry, char *rule,
                      size_t rule_cap);

/* A BLS entry file (/boot/loader/entries/X.conf): "key value" lines. */
struct ifmt_bls_entry {
    char title[256], version[128], linux_path[512], initrd[512], options[1024];
};
void ifmt_bls_parse(const char *text, size_t len, struct ifmt_bls_entry *e);
/* rpm-style version comparison (digits numerically, letters lexically,
 * "~" sorts first): <0, 0, >0. */
int ifmt_version_cmp(const char *a, const char *b);

enum ifmt_dpkg_state {
    IFMT_DPKG_ABSENT = 0,      /* no paragraph for the package */
    IFMT_DPKG_INSTALLED,       /* Status: install ok installed */
    IFMT_DPKG_REMOVED,         /* config-files, not-installed, deinstall ... */
    IFMT_DPKG_OTHER            /* half-installed, unpacked, ... */
};
/* The state of package in a dpkg status file; version gets Version:. */
enum ifmt_dpkg_state ifmt_dpkg_lookup(const char *text, size_t len, const char *package,
                                      char *version, size_t cap);

/* cloud.cfg: the datasource_list value as "A, B" (flow [A, B] or block
 * "- A" lists, quotes removed).  False if the key is absent. */
bool ifmt_cloudcfg_datasources(const char *text, size_t len, char *out, size_t cap);

#endif
