/*
 * vmdk.h -- VMDK on-disk constants, the sparse header decoder and the
 * descriptor parser (vmdk-desc.c).  No I/O here: everything works on
 * byte buffers, so the unit tests can feed headers and descriptor text.
 * docs/formats.md, VMDK has the rules; qemu 7.2's behaviour is the contract.
 */
#ifndef IMGFMT_VMDK_H
#define IMGFMT_VMDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMDK_SECTOR            512u
#define VMDK4_MAGIC_STR        "KDMV"
#define VMDK3_MAGIC_STR        "COWD"
#define VMDK4_FLAG_NL_DETECT   (1u << 0)
#define VMDK4_FLAG_RGD         (1u << 1)
#define VMDK4_FLAG_ZERO_GRAIN  (1u << 2)
#define VMDK4_FLAG_COMPRESS    (1u << 16)
#define VMDK4_FLAG_MARKER      (1u << 17)
#define VMDK4_GD_AT_END        UINT64_MAX
#define VMDK4_COMPRESS_DEFLATE 1u

#define VMDK_MAX_GRANULARITY   0x200000u       /* sectors (1 GiB grains) */
#define VMDK_MAX_GTES          512u            /* numGTEsPerGT */
#define VMDK3_GTES             4096u
#define VMDK_MAX_L1            (32u * 1024 * 1024)
#define VMDK_DESC_SIZE         (20u * 512)     /* what qemu reads for CID/parent */
#define VMDK_DESC_FILE_MAX     ((1u << 20) - 1) /* qemu reads at most this much */
#define VMDK_MAX_EXTENTS       4096u           /* ours: a cap on extent lines */
#define VMDK_MAX_NAME          511u            /* extent file name (sscanf %511) */

enum vmdk_marker_type {
    VMDK_MARKER_EOS = 0,
    VMDK_MARKER_GT = 1,
    VMDK_MARKER_GD = 2,
    VMDK_MARKER_FOOTER = 3
};

/* The VMDK4 ("KDMV") sparse header, decoded from 512 bytes. */
struct vmdk4_header {
    uint32_t version, flags;
    uint64_t capacity, granularity, desc_offset, desc_size;
    uint32_t num_gtes_per_gt;
    uint64_t rgd_offset, gd_offset, grain_offset;
    uint8_t unclean;
    uint16_t compress_algorithm;
};

/* The VMDK3 ("COWD") header. */
struct vmdk3_header {
    uint32_t version, flags, disk_sectors, granularity;
    uint32_t l1dir_offset, l1dir_size, file_sectors;
};

/* buf: at least 512 bytes starting with the magic. */
void vmdk4_header_decode(const uint8_t *buf, struct vmdk4_header *h);
void vmdk3_header_decode(const uint8_t *buf, struct vmdk3_header *h);

/* qemu's probe rule for text descriptors (docs/formats.md, VMDK probe) over len bytes:
 * true if the first line that is neither a comment nor blank-with-spaces is
 * exactly version=1|2|3 (LF or CRLF). */
bool vmdk_desc_has_version(const char *buf, size_t len);

/* ---- descriptor -------------------------------------------------- */

enum vmdk_ext_type {
    VMDK_EXT_FLAT, VMDK_EXT_SPARSE, VMDK_EXT_VMFS, VMDK_EXT_VMFSSPARSE,
    VMDK_EXT_SESPARSE
};

struct vmdk_desc_extent {
    enum vmdk_ext_type type;
    char type_name[11];
    int64_t sectors;         /* from the line (> 0) */
    int64_t offset;          /* FLAT: start sector in the file; else 0 */
    char *fname;             /* as written (malloc'ed) */
    unsigned line;           /* 1-based line the match started on */
    char *line_text;         /* that line, for messages (malloc'ed, <= 120 chars) */
};

struct vmdk_desc {
    char create_type[128];   /* qemu's reading of createType ("" if none) */
    bool has_create_type;
    struct vmdk_desc_extent *ext;
    uint32_t n_ext;
    /* What qemu silently drops: lines with access other than RW
     * (RDONLY/NOACCESS), and RW lines of other types (ZERO...) or with a
     * sector count <= 0.  Counted, and the first of each kind kept. */
    uint32_t n_not_rw, n_ignored;
    uint64_t not_rw_sectors;   /* sum of sector counts of dropped non-RW lines */
    char not_rw_first[128], ignored_first[128];
};

/* Parse createType and the extent lines exactly as qemu does (sscanf over
 * the NUL-terminated text: a match may start on a blank line and run into
 * the next one, so such lines count twice, like qemu).  text need not be
 * NUL-terminated; parsing stops at the first NUL or at len.  Returns 0, or
 * IMGFMT_E_CORRUPT ("Invalid extent line"), IMGFMT_E_LIMIT (more than
 * VMDK_MAX_EXTENTS), IMGFMT_E_NOMEM, with a message in err. */
int vmdk_desc_parse(const char *text, size_t len, struct vmdk_desc *d,
                    char *err, size_t errlen);
void vmdk_desc_free(struct vmdk_desc *d);

/* CID (parent = false) or parentCID (parent = true) the way qemu reads it:
 * the first occurrence of "CID" / "parentCID" in the first len bytes (qemu:
 * 10240, NUL-terminated at the last byte), skip one more character, then
 * sscanf %x.  Returns true and sets *cid if found. */
bool vmdk_desc_cid(const char *text, size_t len, bool parent, uint32_t *cid);

/* parentFileNameHint: 0 = absent; 1 = found, *out malloc'ed (may be "");
 * negative IMGFMT_E_* if malformed (no closing quote, name too long). */
int vmdk_desc_parent_hint(const char *text, size_t len, char **out);

/* For the pre-flight check (vmdk.c): true if extent i of an open VMDK
 * image keeps its data in a file other than the one opened (the OVA
 * archive counts as the file opened).  False for other formats. */
struct imgfmt_image;
bool ifmt_vmdk_extent_in_other_file(struct imgfmt_image *img, uint32_t i);

#endif
