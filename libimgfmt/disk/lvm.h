/*
 * lvm.h -- private to disk/lvm.c and disk/lvm-meta.c: the LVM2 text
 * metadata tree, and the on-disk constants of labels and metadata areas.
 */
#ifndef IMGFMT_LVM_H
#define IMGFMT_LVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imgfmt.h"

#define LVM_SECTOR            512u
#define LVM_LABEL_SCAN_SECTORS 4u         /* the label is in one of sectors 0-3 */
#define LVM_LABEL_ID          "LABELONE"
#define LVM_LABEL_TYPE        "LVM2 001"
#define LVM_MDA_MAGIC         "\x20LVM2\x20x[5A%r0N*>"
#define LVM_MDA_MAGIC_LEN     16u
#define LVM_MDA_HEADER_SIZE   512u
#define LVM_RAW_LOCN_IGNORED  0x1u
#define LVM_CRC_INIT          0xF597A6CFu

/* Caps on what metadata may make us do. */
#define LVM_META_MAX_DEPTH    32u          /* nested sections */
#define LVM_META_MAX_TEXT     (16u << 20)  /* bytes of one metadata text */

/* LVM's checksum: CRC-32 (reflected polynomial 0xEDB88320) from crc, with
 * neither the usual initial nor final inversion.  Start with LVM_CRC_INIT. */
uint32_t ifmt_lvm_crc(uint32_t crc, const uint8_t *buf, size_t len);

/* The byte device of LV lv of VG vg, named "vg/lv": its reads map through
 * the segments.  The device borrows lvm.  The LV's refusal code (and
 * message, on lvm) when it cannot be read. */
struct ifmt_bdev;
int ifmt_lvm_bdev(imgfmt_lvm *lvm, uint32_t vg, uint32_t lv, struct ifmt_bdev *dev);

/* ---- the metadata text, parsed ------------------------------------ */

enum lvm_kind {
    LVM_SECTION,     /* name { ... }: members in first/next */
    LVM_STRING,      /* "text" (escapes undone) */
    LVM_NUMBER,      /* integer (int64) */
    LVM_FLOAT,       /* a number with a fraction or exponent (value not kept) */
    LVM_ARRAY        /* [ v, v, ... ]: elements in first/next (no key) */
};

struct lvm_node {
    const char *key;            /* member name; NULL for array elements */
    enum lvm_kind kind;
    const char *str;            /* STRING */
    int64_t num;                /* NUMBER */
    struct lvm_node *first;     /* SECTION members, ARRAY elements */
    struct lvm_node *next;      /* next sibling */
    uint32_t count;             /* number of children */
    uint32_t line;              /* where it starts in the text (1-based) */
};

struct lvm_meta;   /* a parsed text: its nodes and strings in one arena */

/* Parse len bytes of text (a NUL ends it early).  Memory used is capped at
 * mem_cap bytes (LIMIT beyond).  CORRUPT with the line for a syntax error,
 * LIMIT for nesting beyond LVM_META_MAX_DEPTH. */
int ifmt_lvm_meta_parse(const char *text, size_t len, uint64_t mem_cap,
                        struct lvm_meta **out, imgfmt_error *err);
void ifmt_lvm_meta_free(struct lvm_meta *m);                 /* NULL ok */
/* The top level as a section. */
const struct lvm_node *ifmt_lvm_meta_root(const struct lvm_meta *m);
/* Bytes of memory the tree holds. */
uint64_t ifmt_lvm_meta_bytes(const struct lvm_meta *m);

/* First member of section sec named key (any kind), or NULL. */
const struct lvm_node *ifmt_lvm_get(const struct lvm_node *sec, const char *key);
/* Member key of sec as a number / string / section; false if absent or of
 * another kind. */
bool ifmt_lvm_get_num(const struct lvm_node *sec, const char *key, int64_t *out);
const char *ifmt_lvm_get_str(const struct lvm_node *sec, const char *key);
const struct lvm_node *ifmt_lvm_get_section(const struct lvm_node *sec, const char *key);
/* True if array member key of sec holds the string s. */
bool ifmt_lvm_array_has(const struct lvm_node *sec, const char *key, const char *s);

#endif
