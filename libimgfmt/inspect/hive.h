/*
 * hive.h -- private to inspect/hive*.c: the REGF handle, cells, names.
 *
 * All cell offsets are relative to the first hbin (file offset 4096), as
 * the hive stores them.
 */
#ifndef IMGFMT_HIVE_H
#define IMGFMT_HIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define REGF_BASE_BLOCK    4096u
#define REGF_HBIN_HEADER   32u
#define REGF_BIG_SEGMENT   16344u     /* data bytes per big-data segment */
#define REGF_MAX_LIST_DEPTH 8u        /* ri lists inside ri lists */
#define REGF_NAME_MAX      (3u * 65535u + 1u)   /* UTF-8 of a u16-length name */

struct imgfmt_hive {
    uint8_t *file;             /* the whole hive (owned) */
    size_t len;
    const uint8_t *bins;       /* file + 4096 */
    uint32_t bins_size;
    uint32_t root;
    uint32_t minor;
    uint8_t *cell_map;         /* bit i: an allocated cell starts at 8*i */
    int dirty;
    char **warnings;
    uint32_t nb_warnings;
    imgfmt_error err;
    char *key_name, *value_name, *string;   /* REGF_NAME_MAX / growing */
    size_t string_cap;
    uint8_t *data;             /* big data reassembled */
    size_t data_cap;
    char **strings;            /* MULTI_SZ */
    char *strings_buf;
};

struct imgfmt_hive_iter {
    imgfmt_hive *h;
    uint32_t *items;
    uint32_t n, pos;
};

int ifmt_hive_error(imgfmt_hive *h, int code, const char *fmt, ...) IFMT_PRINTF(3, 4);
void ifmt_hive_warn(imgfmt_hive *h, const char *msg);

/* The data of the allocated cell at off: *p and *len (bytes after the size
 * field).  CORRUPT naming what if off is not the start of an allocated
 * cell inside an hbin. */
int ifmt_hive_cell(imgfmt_hive *h, uint32_t off, const char *what, const uint8_t **p,
                   uint32_t *len);
/* A cell that starts with the 2-byte signature sig and holds min bytes. */
int ifmt_hive_cell_sig(imgfmt_hive *h, uint32_t off, const char *sig, uint32_t min,
                       const char *what, const uint8_t **p, uint32_t *len);

/* A stored name as UTF-8 into out (REGF_NAME_MAX): Latin-1 bytes when
 * compressed, else UTF-16LE. */
void ifmt_hive_name(const uint8_t *raw, uint32_t len, bool compressed, char *out);
/* Stored name equals the UTF-8 name q, case-insensitively. */
bool ifmt_hive_name_eq(const uint8_t *raw, uint32_t len, bool compressed, const char *q,
                       size_t qlen);

/* A key node: its fields (hive-key.c). */
struct hive_nk {
    uint16_t flags;
    uint64_t mtime;            /* FILETIME */
    uint32_t parent, nb_subkeys, subkeys, nb_values, values;
    const uint8_t *name;
    uint16_t name_len;
};
#define NK_COMP_NAME  0x0020u
#define NK_HIVE_ENTRY 0x0004u
int ifmt_hive_nk(imgfmt_hive *h, uint32_t off, struct hive_nk *nk);
/* The value cell offsets of key k (malloc'ed array of *n). */
int ifmt_hive_value_list(imgfmt_hive *h, uint32_t k, uint32_t **out, uint32_t *n);

#endif
