/*
 * ntfs-priv.h -- state shared by the NTFS driver's files: ntfs.c (mount,
 * nodes, the ops table), ntfs-attr.c (MFT records, attributes, runlists,
 * stream reads), ntfs-index.c (directory B+ trees) and ntfs-lznt1.c.
 */
#ifndef IMGFMT_NTFS_PRIV_H
#define IMGFMT_NTFS_PRIV_H

#include "fs/fs.h"
#include "fs/ntfs-format.h"

#define NTFS_LCN_SPARSE     UINT64_MAX
#define NTFS_MAX_RUNS       (1u << 20)     /* per stream */
#define NTFS_MAX_ATTR_LIST  (1u << 20)     /* bytes of one $ATTRIBUTE_LIST */
#define NTFS_MAX_INDEX_DEPTH 32u
#define NTFS_MAX_UNIT       (1u << 20)     /* bytes of one compression unit */

/* One run of clusters: VCN [vcn, vcn + len) at LCN lcn (or a hole). */
struct ntfs_run {
    uint64_t vcn, len, lcn;
};

/* One attribute's value, resident or as the runs of all its extents. */
struct ntfs_stream {
    bool resident;
    uint8_t *data;              /* resident: a copy of the value */
    struct ntfs_run *runs;
    size_t nruns, cap_runs;
    uint64_t next_vcn;          /* runs cover VCN [0, next_vcn) */
    uint64_t size, alloc, init_size;
    uint16_t flags;             /* NTFS_ATTR_* of the first extent */
    uint32_t unit_clusters;     /* compression unit (0: not compressed) */
    uint64_t charged;
    /* The last decompressed unit. */
    uint8_t *unit_buf;
    uint64_t unit_no;           /* + 1; 0 = none */
};

struct ntfs_vol {
    uint32_t sector_size, cluster_size, record_size, index_size;
    uint64_t total_clusters;
    uint64_t nrecords;          /* records the $MFT's data holds */
    struct ntfs_stream mft;     /* $MFT's own $DATA */
    uint16_t *upcase;           /* 65536 entries */
    uint8_t *scratch;           /* record_size bytes for extension records */
};

/* An MFT base record as loaded by ntfs_record_open. */
struct ntfs_record {
    uint64_t no;
    uint8_t *buf;               /* record_size bytes, fix-ups applied */
    uint8_t *alist;             /* its $ATTRIBUTE_LIST value, or NULL */
    size_t alist_len;
};

/* One attribute found in a record: header at a, of len bytes. */
struct ntfs_attr {
    const uint8_t *a;
    uint32_t len, type;
    bool nonresident;
    const uint8_t *name;        /* UTF-16LE */
    uint8_t name_len;
    const uint8_t *value;       /* resident */
    uint32_t value_len;
    uint64_t rec;               /* the record it lives in */
};

enum ntfs_refusal { NTFS_READ_OK, NTFS_READ_EFS, NTFS_READ_WOF, NTFS_READ_REPARSE };

/* A node's decoded state (ifmt_node.priv). */
struct ntfs_node {
    struct ntfs_stream data;    /* unnamed $DATA (files) */
    struct ntfs_index *ix;      /* $I30 (directories) */
    uint32_t fa;                /* $STANDARD_INFORMATION file attributes */
    uint32_t tag;               /* reparse tag, 0 if none */
    enum ntfs_refusal refuse;
    char *target;               /* symlinks */
    size_t target_len;
};

static inline struct ntfs_vol *ntfs_vol(struct ifmt_fs *fs)
{
    return fs->priv;
}

/* ntfs-attr.c */
int ntfs_read_mft_record(struct ifmt_fs *fs, uint64_t no, uint8_t *buf);
int ntfs_check_record(struct ifmt_fs *fs, uint64_t no, uint8_t *buf, bool base);
int ntfs_record_open(struct ifmt_fs *fs, uint64_t no, struct ntfs_record *rec);
void ntfs_record_close(struct ifmt_fs *fs, struct ntfs_record *rec);
/* Attributes of a record buffer: *pos starts at 0; 1 got one, 0 end, < 0. */
int ntfs_attr_next(struct ifmt_fs *fs, uint64_t no, const uint8_t *buf, uint32_t *pos,
                   struct ntfs_attr *out);
/* Call fn for each attribute of type in rec (and its extension records,
 * through the attribute list).  fn returns 0 to go on, 1 to stop, < 0. */
typedef int ntfs_attr_fn(struct ifmt_fs *fs, const struct ntfs_attr *at, void *opaque);
int ntfs_for_each_attr(struct ifmt_fs *fs, const struct ntfs_record *rec, uint32_t type,
                       ntfs_attr_fn *fn, void *opaque);
/* Load attribute type with name (name_len UTF-16 units) into s (all its
 * extents); IMGFMT_E_NOT_FOUND if absent (no message). */
int ntfs_stream_load(struct ifmt_fs *fs, const struct ntfs_record *rec, uint32_t type,
                     const uint8_t *name, uint8_t name_len, struct ntfs_stream *s);
int ntfs_stream_add_extent(struct ifmt_fs *fs, struct ntfs_stream *s,
                           const struct ntfs_attr *at);
void ntfs_stream_free(struct ifmt_fs *fs, struct ntfs_stream *s);
/* Read [off, off + len) of a stream's value (within s->size). */
int ntfs_stream_read(struct ifmt_fs *fs, struct ntfs_stream *s, void *buf, size_t len,
                     uint64_t off, const char *what);
/* Read a whole small stream into a malloc'ed buffer (charged; cap bytes). */
int ntfs_stream_slurp(struct ifmt_fs *fs, struct ntfs_stream *s, size_t cap,
                      const char *what, uint8_t **out);

/* ntfs-index.c */
struct ntfs_index;
int ntfs_index_open(struct ifmt_fs *fs, const struct ntfs_record *rec,
                    struct ntfs_index **out);
void ntfs_index_close(struct ifmt_fs *fs, struct ntfs_index *ix);
uint64_t ntfs_index_alloc_size(const struct ntfs_index *ix);
int ntfs_index_list(struct ifmt_fs *fs, struct ntfs_index *ix, ifmt_dirent_fn *fn,
                    void *opaque);
int ntfs_index_find(struct ifmt_fs *fs, struct ntfs_index *ix, const uint16_t *name,
                    size_t name_len, uint64_t *id, enum imgfmt_file_type *type);
/* UTF-8 to UTF-16 code units; -1 if invalid or longer than cap units. */
long ntfs_utf8_to_utf16(const char *s, size_t n, uint16_t *out, size_t cap);

/* ntfs-lznt1.c: decompress one unit into out (out_len bytes, zero-filled
 * past the data); 0, or -1 with *why. */
int ntfs_lznt1_decompress(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                          const char **why);

#endif
