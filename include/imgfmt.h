/*
 * imgfmt.h -- the public interface of libimgfmt, and its manual.
 *
 * libimgfmt reads disk images (RAW, VHD, QCOW2, VMDK) through one
 * block-device abstraction: a virtual size, exact reads, and block status
 * (which runs of the virtual disk hold data and which read as zeros).
 * It predicts, and writes, the QCOW2 file that `qemu-img convert -O qcow2`
 * would make from the same source.
 *
 * Conventions (every call):
 *  - Fallible calls return IMGFMT_OK (0) or a negative IMGFMT_E_* code.
 *    Objects come back through out-parameters, set to NULL on failure.
 *  - Constructors fill a caller-owned imgfmt_error (may be NULL) because no
 *    handle exists yet.  After that, the handle keeps its last error:
 *    imgfmt_last_error().
 *  - No global state; the library starts no threads unless an option asks
 *    for them (compression workers of the writer).  A handle, and every
 *    object made from it, must be used by one thread at a time.  Different
 *    handles may be used concurrently.
 *  - Strings returned by the library are owned by the handle they came from
 *    and stay valid until that handle is closed.
 *  - Image files are only ever opened read-only.
 *  - struct_size, the one rule for every versioned struct: its first field
 *    holds sizeof(the struct) as the caller's header declares it.  Option
 *    structs (imgfmt_open_opts, imgfmt_qcow2_opts, imgfmt_fs_opts) get it,
 *    with their defaults, from their _init function: call it, then change
 *    fields (imgfmt_check_opts too).  Result structs (imgfmt_info,
 *    imgfmt_measure, imgfmt_check_finding): the caller sets
 *    it before the call; the library fills the rest and leaves it as it
 *    was.  The library accepts the size of every version of a struct it
 *    has shipped (when a struct grows, an older, smaller one still works:
 *    the fields it lacks take their defaults or are not written) and fails
 *    any other with IMGFMT_E_INVAL naming the struct.  Every struct is at
 *    its first version today, so the size must equal sizeof.
 *
 * Copyright (c) 2026 the libimgfmt authors.  MIT licence, see COPYING.
 */
#ifndef IMGFMT_H
#define IMGFMT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IMGFMT_VERSION_MAJOR 0
#define IMGFMT_VERSION_MINOR 1
#define IMGFMT_VERSION_PATCH 0
#define IMGFMT_VERSION_NUMBER \
    ((IMGFMT_VERSION_MAJOR << 16) | (IMGFMT_VERSION_MINOR << 8) | IMGFMT_VERSION_PATCH)
#define IMGFMT_VERSION_STRING "0.1.0"

/* The version of the library actually linked (compare with the macro). */
unsigned imgfmt_version_number(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Pinned values: they never change meaning. */
enum {
    IMGFMT_OK               = 0,
    IMGFMT_E_INVAL          = -1,  /* bad argument from the caller */
    IMGFMT_E_NOMEM          = -2,  /* allocation failed */
    IMGFMT_E_IO             = -3,  /* read/write/stat failed (sys_errno says why) */
    IMGFMT_E_UNKNOWN_FORMAT = -4,  /* no driver recognises the data */
    IMGFMT_E_CORRUPT        = -5,  /* metadata invalid or inconsistent */
    IMGFMT_E_UNSUPPORTED    = -6,  /* valid, but a feature we do not implement */
    IMGFMT_E_RANGE          = -7,  /* request outside the virtual disk */
    IMGFMT_E_LIMIT          = -8,  /* a safety cap was hit (memory, depth, size) */
    IMGFMT_E_BACKING        = -9,  /* backing/parent/extent file missing or refused */
    IMGFMT_E_NOT_FOUND      = -10, /* guest file systems: no such file or directory */
    IMGFMT_E_NOT_DIR        = -11, /* guest file systems: a path component is not a directory */
    IMGFMT_E_WRITE          = -12  /* the caller's write callback refused the data
                                      (the qcow2 writers); the callback knows why */
};

typedef struct imgfmt_error {
    int code;        /* IMGFMT_OK or IMGFMT_E_* */
    int sys_errno;   /* errno of the failing system call, else 0 */
    char msg[256];   /* "qcow2: L1 table offset 0x... beyond end of file" */
} imgfmt_error;

/* Static text for a code ("corrupt image", ...); never NULL. */
const char *imgfmt_strerror(int code);

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

typedef struct imgfmt_image imgfmt_image;

enum imgfmt_format {
    IMGFMT_FMT_UNKNOWN = 0,  /* probe (when opening) / not recognised */
    IMGFMT_FMT_RAW     = 1,
    IMGFMT_FMT_VHD     = 2,
    IMGFMT_FMT_QCOW2   = 3,
    IMGFMT_FMT_VMDK    = 4,
    IMGFMT_FMT_VHDX    = 5,  /* Hyper-V (and AVHDX, its differencing form) */
    IMGFMT_FMT_VDI     = 6   /* VirtualBox */
};

/* Short name: "raw", "vpc", "qcow2", "vmdk" (qemu's names); "unknown". */
const char *imgfmt_format_name(enum imgfmt_format f);
/* Parse a name ("raw", "vpc" or "vhd", "qcow2", "vmdk"); UNKNOWN if none. */
enum imgfmt_format imgfmt_format_from_name(const char *name);

/* How the virtual size of a VHD is computed: the footer has a CHS geometry
 * and a current_size, and qemu versions differ on which one counts. */
enum imgfmt_vhd_size_rule {
    IMGFMT_VHD_RULE_QEMU_LEGACY  = 0, /* qemu 2.x .. 9.2: creator-app table (default) */
    IMGFMT_VHD_RULE_QEMU10       = 1, /* qemu >= 10.0: CHS only for "vpc " and "qemu" */
    IMGFMT_VHD_RULE_CHS          = 2, /* force_size_calc=chs */
    IMGFMT_VHD_RULE_CURRENT_SIZE = 3  /* force_size_calc=current_size */
};

/* Open flags. */
#define IMGFMT_OPEN_NO_EXTERNAL  0x1u  /* refuse every other file: backing files,
                                          VHD parents, VMDK extent files and
                                          parents (untrusted uploads) */
#define IMGFMT_OPEN_NO_BACKING   0x2u  /* open the top layer only: unallocated
                                          areas read as zeros, like qemu-img -U
                                          with no backing */

typedef struct imgfmt_open_opts {
    uint32_t struct_size;        /* set by _init (Conventions: struct_size) */
    enum imgfmt_format format;   /* UNKNOWN: probe */
    unsigned flags;              /* IMGFMT_OPEN_* */
    enum imgfmt_vhd_size_rule vhd_size_rule;
    unsigned max_chain_depth;    /* backing/parent chain depth cap (default 16) */
    uint64_t max_metadata_bytes; /* cap on memory driven by image metadata,
                                    per image (default 256 MiB) */
    const char *member;          /* OVA (tar): name of the member to open;
                                    NULL = first disk image in the archive */
} imgfmt_open_opts;

void imgfmt_open_opts_init(imgfmt_open_opts *o);

/* Which format the file at path looks like (same scoring as open). */
int imgfmt_probe(const char *path, enum imgfmt_format *out, imgfmt_error *err);

/* Open an image.  opts may be NULL (defaults: probe, qemu legacy VHD rule).
 * On success *out is a new handle; close it with imgfmt_close(). */
int imgfmt_open(const char *path, const imgfmt_open_opts *opts,
                imgfmt_image **out, imgfmt_error *err);

/* Open from a file descriptor the caller keeps owning (it is dup'ed).
 * Relative backing/extent names resolve against the current directory. */
int imgfmt_open_fd(int fd, const imgfmt_open_opts *opts,
                   imgfmt_image **out, imgfmt_error *err);

/* Open an image held in memory.  The buffer must stay valid and unchanged
 * until imgfmt_close().  External files are always refused. */
int imgfmt_open_memory(const void *buf, size_t len, const imgfmt_open_opts *opts,
                       imgfmt_image **out, imgfmt_error *err);

/* Close a handle and everything it owns (backing chain).  NULL is a no-op. */
void imgfmt_close(imgfmt_image *img);

/* Last error recorded on a handle (code IMGFMT_OK if none). */
const imgfmt_error *imgfmt_last_error(const imgfmt_image *img);

/* ------------------------------------------------------------------ */
/* The block device                                                    */
/* ------------------------------------------------------------------ */

enum imgfmt_format imgfmt_format(const imgfmt_image *img);

/* Virtual size in bytes, exactly as qemu-img info reports it. */
uint64_t imgfmt_virtual_size(const imgfmt_image *img);

/* Read len bytes at off.  All bytes or an error: a range that runs past
 * the virtual size fails with IMGFMT_E_RANGE and reads nothing.  The
 * backing chain is folded in. */
int imgfmt_pread(imgfmt_image *img, void *buf, size_t len, uint64_t off);

#define IMGFMT_EXTENT_DATA 0x1u /* stored in the image (or its chain); read it */
#define IMGFMT_EXTENT_ZERO 0x2u /* guaranteed to read as zeros: hole, unallocated
                                   without backing, zero cluster or grain */

typedef struct imgfmt_extent {
    uint64_t offset;
    uint64_t length;
    uint32_t flags;  /* exactly one of IMGFMT_EXTENT_DATA, IMGFMT_EXTENT_ZERO */
} imgfmt_extent;

/* The longest run starting at off (at most max_len bytes, never past the
 * virtual size) that is all DATA or all ZERO.  off must be below the
 * virtual size and max_len > 0. */
int imgfmt_block_status(imgfmt_image *img, uint64_t off, uint64_t max_len,
                        imgfmt_extent *out);

typedef struct imgfmt_extent_iter imgfmt_extent_iter;
/* Iterate maximal extents over [off, off+len): adjacent runs of the same
 * kind are merged.  The iterator borrows img. */
int  imgfmt_extents_begin(imgfmt_image *img, uint64_t off, uint64_t len,
                          imgfmt_extent_iter **out);
int  imgfmt_extents_next(imgfmt_extent_iter *it, imgfmt_extent *out); /* 1 got one, 0 end, <0 error */
void imgfmt_extents_end(imgfmt_extent_iter *it);                      /* NULL ok */

/* ------------------------------------------------------------------ */
/* Format details (what imgfmt-info prints)                            */
/* ------------------------------------------------------------------ */

/* VHD disk types, the footer's values. */
enum imgfmt_vhd_disk_type {
    IMGFMT_VHD_FIXED        = 2,
    IMGFMT_VHD_DYNAMIC      = 3,
    IMGFMT_VHD_DIFFERENCING = 4
};

typedef struct imgfmt_vhd_info {
    char creator_app[5];        /* 4 raw bytes + NUL (may contain NULs: see app_raw) */
    uint8_t app_raw[4];
    char creator_os[5];
    enum imgfmt_vhd_disk_type disk_type; /* as in the footer: another value
                                   was opened as dynamic (with a warning) */
    uint32_t cylinders, heads, sectors_per_track;
    uint64_t current_size;      /* footer current_size (bytes) */
    uint64_t original_size;
    uint64_t chs_size;          /* C*H*S*512 */
    enum imgfmt_vhd_size_rule rule;   /* the rule used for virtual_size */
    uint64_t size_legacy;       /* virtual size under the qemu <= 9.2 rule */
    uint64_t size_qemu10;       /* virtual size under the qemu >= 10 rule */
    uint32_t block_size;        /* dynamic: bytes per block; 0 if fixed */
    uint32_t max_table_entries;
    uint64_t qemu_probe_raw_size; /* fixed VHD: qemu-img without -f probes it
                                     as raw and reports this size; else 0 */
    const char *parent_name;    /* differencing: resolved parent path or NULL */
    char parent_uuid[37];       /* differencing: "xxxxxxxx-..." */
    char uuid[37];
} imgfmt_vhd_info;

typedef struct imgfmt_qcow2_info {
    uint32_t version;           /* 2 or 3 */
    const char *compat;         /* "0.10" or "1.1" */
    const char *compression_type; /* "zlib" or "zstd" */
    int lazy_refcounts;
    uint32_t refcount_bits;
    int extended_l2;
    int encrypted;              /* crypt_method != 0 (such images are refused) */
    const char *data_file;      /* external data file name, or NULL */
    int data_file_raw;
    uint64_t incompatible_features, compatible_features, autoclear_features;
    uint32_t nb_snapshots;
    uint32_t nb_bitmaps;
} imgfmt_qcow2_info;

typedef struct imgfmt_vmdk_info {
    uint32_t cid, parent_cid;
    const char *create_type;
    const char *parent_hint;    /* parentFileNameHint, or NULL */
    uint32_t nb_extents;        /* details: imgfmt_vmdk_get_extent() */
    uint32_t version;           /* sparse header version (first sparse extent) */
} imgfmt_vmdk_info;

typedef struct imgfmt_info {
    uint32_t struct_size;       /* caller sets sizeof(imgfmt_info) (Conventions) */
    enum imgfmt_format format;
    const char *format_name;    /* qemu's name: "raw", "vpc", "qcow2", "vmdk" */
    const char *subformat;      /* "fixed", "dynamic", "differencing",
                                   "monolithicSparse", "streamOptimized", ... or NULL;
                                   a VMDK read from inside an OVA (tar) archive:
                                   "ova:<member> <createType>", e.g.
                                   "ova:disk1.vmdk streamOptimized" (warnings
                                   then list the archive's members) */
    const char *filename;       /* as opened; "<memory>" for memory images */
    uint64_t virtual_size;
    uint64_t file_length;       /* bytes of the image file(s) */
    uint64_t actual_size;       /* allocated bytes on disk (st_blocks*512,
                                   summed over descriptor + extents); 0 for memory */
    uint32_t cluster_size;      /* qcow2 cluster, VHD block, VMDK grain; 0 = none */
    int dirty;                  /* qcow2 dirty bit, VMDK unclean shutdown */
    int corrupt;                /* qcow2 corrupt bit */
    const char *backing_filename;       /* as stored in the image, or NULL */
    const char *full_backing_filename;  /* resolved path, or NULL */
    const char *backing_format;         /* format of the backing file, or NULL */
    uint32_t nb_warnings;       /* warnings recorded so far: imgfmt_warning() */
    imgfmt_vhd_info vhd;        /* valid when format == IMGFMT_FMT_VHD */
    imgfmt_qcow2_info qcow2;    /* valid when format == IMGFMT_FMT_QCOW2 */
    imgfmt_vmdk_info vmdk;      /* valid when format == IMGFMT_FMT_VMDK */
} imgfmt_info;

int imgfmt_get_info(imgfmt_image *img, imgfmt_info *out);

/* ------------------------------------------------------------------ */
/* Warnings                                                            */
/* ------------------------------------------------------------------ */

/*
 * Things a user should know that did not stop the call.  Every warning the
 * library finds about an image -- when opening it, and when reading its
 * partition table (imgfmt_partitions) -- is kept on the image handle, in
 * the order found, each with a pinned numeric code (classify by the code,
 * never by the text) and a message naming the values.  The same warning is
 * not recorded twice (reading the partition table again adds nothing).
 * Codes 1..99 come from the image formats, 100..199 from partition tables.
 */
enum imgfmt_warning_code {
    IMGFMT_W_NONE                   = 0,   /* no such warning (index out of range) */
    /* image formats */
    IMGFMT_W_VHD_HEADER_CHECKSUM    = 1,   /* dynamic header checksum mismatch (read anyway) */
    IMGFMT_W_VHD_PARENT_UNREAD_BY_QEMU = 2,/* differencing VHD: qemu-img reads the parent's
                                              sectors as zeros, we read the parent */
    IMGFMT_W_VHD_DISK_TYPE          = 3,   /* footer disk type unknown: opened as dynamic */
    IMGFMT_W_VHD_FIXED_PROBES_RAW   = 4,   /* fixed VHD: undeclared, qemu-img reads it as raw
                                              (footer included) */
    IMGFMT_W_QCOW2_BITMAPS_STALE    = 5,   /* bitmaps extension without its autoclear bit */
    IMGFMT_W_VMDK_EXTENT_NOT_RW     = 6,   /* extent lines not RW ignored: data lost */
    IMGFMT_W_VMDK_EXTENT_IGNORED    = 7,   /* ZERO / empty extent lines ignored */
    IMGFMT_W_OVA_ARCHIVE            = 8,   /* the file is an OVA (tar); a member is read */
    IMGFMT_W_OVA_MEMBER             = 9,   /* one member of that archive (a listing) */
    IMGFMT_W_OVA_NO_END_MARKER      = 10,  /* tar without its end-of-archive blocks */
    /* partition tables */
    IMGFMT_W_MBR_EMPTY_EXTENDED     = 100, /* extended partition holds no EBR */
    IMGFMT_W_MBR_PROTECTIVE_START   = 101, /* protective 0xEE entry does not start at 1 */
    IMGFMT_W_GPT_BACKUP_MISPLACED   = 102, /* primary's backup LBA is not the last LBA */
    IMGFMT_W_GPT_BACKUP_INVALID     = 103, /* backup header or entries invalid */
    IMGFMT_W_GPT_PRIMARY_INVALID    = 104, /* primary invalid: the backup was used */
    IMGFMT_W_GPT_COPIES_DIFFER      = 105  /* primary and backup entry arrays differ */
};
#define IMGFMT_W_PARTITION_FIRST 100       /* codes >= this: partition tables */

/* Number of warnings recorded on img so far (info.nb_warnings is the
 * number at the time of imgfmt_get_info). */
uint32_t imgfmt_nb_warnings(const imgfmt_image *img);
/* i-th warning text (i < imgfmt_nb_warnings), or NULL. */
const char *imgfmt_warning(const imgfmt_image *img, uint32_t i);
/* i-th warning code, or IMGFMT_W_NONE. */
enum imgfmt_warning_code imgfmt_warning_code(const imgfmt_image *img, uint32_t i);

/* The backing (parent) image of img, or NULL.  Owned by img. */
imgfmt_image *imgfmt_backing(const imgfmt_image *img);

typedef struct imgfmt_snapshot {
    const char *id, *name;
    uint64_t vm_state_size;
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t icount;            /* UINT64_MAX when absent */
    uint64_t disk_size;         /* virtual size at snapshot time, 0 if absent */
} imgfmt_snapshot;
/* qcow2 internal snapshots; i < info.qcow2.nb_snapshots. */
int imgfmt_qcow2_get_snapshot(imgfmt_image *img, uint32_t i, imgfmt_snapshot *out);

#define IMGFMT_QCOW2_BITMAP_IN_USE 0x1u  /* not saved cleanly: inconsistent */
#define IMGFMT_QCOW2_BITMAP_AUTO   0x2u  /* tracks writes automatically */
typedef struct imgfmt_qcow2_bitmap {
    const char *name;
    uint64_t granularity;       /* bytes per bit */
    uint32_t flags;             /* IMGFMT_QCOW2_BITMAP_* */
} imgfmt_qcow2_bitmap;
/* qcow2 persistent dirty bitmaps (listed only, as qemu-img info does);
 * i < info.qcow2.nb_bitmaps.  RANGE for other formats. */
int imgfmt_qcow2_get_bitmap(imgfmt_image *img, uint32_t i, imgfmt_qcow2_bitmap *out);

typedef struct imgfmt_vmdk_extent {
    const char *filename;       /* as in the descriptor ("" for monolithic) */
    const char *format;         /* "SPARSE", "FLAT", "VMFS", "ZERO", ... */
    uint64_t virtual_size;      /* bytes */
    uint32_t cluster_size;      /* grain bytes (sparse only, else 0) */
    int compressed;
} imgfmt_vmdk_extent;
/* VMDK extents; i < info.vmdk.nb_extents. */
int imgfmt_vmdk_get_extent(imgfmt_image *img, uint32_t i, imgfmt_vmdk_extent *out);

/* ------------------------------------------------------------------ */
/* QCOW2 output: measure and streaming writer                          */
/* ------------------------------------------------------------------ */

/*
 * The layout is the one `qemu-img convert -O qcow2` produces: header, refcount table, refcount block 0, L1 at cluster 3,
 * then L2 tables and data clusters in guest order, each L2 table placed
 * just before the first data cluster it maps.  A target cluster is
 * allocated iff its content has a non-zero byte (for cluster sizes below
 * 4 KiB: iff it lies in a 4 KiB block with a non-zero byte).  The
 * predicted length, the written length and qemu-img's length are equal.
 * One planner computes the layout for both measure and the writer.
 */

enum imgfmt_qcow2_compression {
    IMGFMT_QCOW2_ZLIB = 0,        /* raw deflate, 4 KiB window, level 6 */
    IMGFMT_QCOW2_ZSTD = 1         /* only when built with libzstd */
};

typedef struct imgfmt_qcow2_opts {
    uint32_t struct_size;         /* set by _init (Conventions: struct_size) */
    uint32_t cluster_size;        /* 512 .. 2 MiB, power of two (default 65536) */
    int compat_v3;                /* 1: compat 1.1 (version 3, default); 0: 0.10 */
    uint32_t refcount_bits;       /* 1,2,4,8,16,32,64 (default 16; v2: 16 only) */
    int compress;                 /* 1: compress every cluster (qemu-img -c) */
    enum imgfmt_qcow2_compression compression_type;  /* default zlib */
    unsigned threads;             /* compression workers for -c, in measure and
                                     the writer (default 1: no thread is
                                     started; at most 256).  The output does
                                     not depend on it */
    uint64_t max_plan_bytes;      /* cap on the planner's memory (default
                                     512 MiB; LIMIT error beyond) */
} imgfmt_qcow2_opts;

/* Defaults: compat 1.1, 64 KiB clusters, 16-bit refcounts, zlib, no
 * compression, 1 thread. */
void imgfmt_qcow2_opts_init(imgfmt_qcow2_opts *o);

/* Progress: done out of total units (bytes of the source scanned/written);
 * total may grow once, when the plan is known. */
typedef void imgfmt_progress_fn(void *opaque, uint64_t done, uint64_t total);

enum imgfmt_measure_mode {
    IMGFMT_MEASURE_EXACT = 0,     /* read every DATA run (and compress with
                                     -c): the exact length */
    IMGFMT_MEASURE_FAST  = 1      /* metadata only: every cluster holding a
                                     DATA extent counts as allocated; an upper
                                     bound of the exact length */
};

typedef struct imgfmt_measure {
    uint32_t struct_size;         /* caller sets sizeof(imgfmt_measure) (Conventions) */
    enum imgfmt_measure_mode mode;/* the mode these numbers come from */
    uint64_t virtual_size;        /* output virtual size (source, rounded up to 512) */
    uint64_t length;              /* EXACT: the byte length of the qcow2 the writer
                                     (and qemu-img convert) produces.  FAST: equal
                                     to upper_bound */
    uint64_t upper_bound;         /* length if every DATA cluster were non-zero
                                     and stored uncompressed (never smaller than
                                     the exact length) */
    uint64_t data_clusters;       /* allocated data clusters (EXACT) or DATA
                                     clusters (FAST) */
    uint64_t compressed_clusters; /* of which stored compressed (-c) */
    uint64_t l2_tables, refcount_blocks;
    uint64_t required;            /* `qemu-img measure` "required": allocation
                                     based, L1/L2 for the whole disk */
    uint64_t fully_allocated;     /* `qemu-img measure` "fully-allocated" */
} imgfmt_measure;

/* Measure the qcow2 conversion of src with opts (NULL = defaults).  mode
 * EXACT reads all DATA runs of src (and compresses them when opts->compress:
 * the exact compressed length needs the compression); FAST reads no data.
 * progress may be NULL.  Errors: INVAL (bad option), UNSUPPORTED (a layout we
 * cannot predict exactly: the refcount table would have to grow, e.g. 512 B
 * clusters beyond 8 MiB of output), LIMIT (planner memory cap), and any read
 * error of src (recorded on src). */
int imgfmt_measure_qcow2(imgfmt_image *src, const imgfmt_qcow2_opts *opts,
                         enum imgfmt_measure_mode mode,
                         imgfmt_progress_fn *progress, void *opaque,
                         imgfmt_measure *out);

/* The write callback: len bytes that follow the previous ones (the file is
 * produced strictly in order, no seeks; len > 0).  Return 0, or a negative
 * value to stop the writer (it then fails with IMGFMT_E_WRITE, so a caller
 * tells its own write errors from read errors of the source, IMGFMT_E_IO). */
typedef int imgfmt_write_fn(void *opaque, const void *buf, size_t len);

typedef struct imgfmt_qcow2_writer imgfmt_qcow2_writer;

/* A writer of src as qcow2 to write_fn.  Nothing is read or written yet.
 * The writer borrows src (keep it open, do not use it meanwhile) and
 * copies opts.  The source is read twice: a planning pass (zero scan, and
 * compression with -c) and the emitting pass, because the metadata that
 * precede the data in the file depend on all of it.  Into a file, prefer
 * imgfmt_qcow2_writer_new_seekable() below: one pass, the same bytes. */
int imgfmt_qcow2_writer_new(imgfmt_image *src, const imgfmt_qcow2_opts *opts,
                            imgfmt_write_fn *write_fn, void *opaque,
                            imgfmt_qcow2_writer **out, imgfmt_error *err);

/* Positioned write callback: len bytes (len > 0) at byte offset off of the
 * output.  Return 0, or a negative value to stop the writer (IMGFMT_E_WRITE). */
typedef int imgfmt_pwrite_fn(void *opaque, const void *buf, size_t len, uint64_t off);

/* A writer of src as qcow2 into a seekable destination (a regular file, a
 * buffer): ONE read pass over the source (and one compression with -c).
 * Data go out at their final offsets as the source is read, mostly in
 * increasing order; L2 tables, refcount blocks, L1, refcount table and
 * header are written once complete (the header last).  Every byte of
 * [0, length) is written at least once, so the destination need not start
 * empty, and nothing is written at or past length.  The layout, and so the
 * file, is byte for byte the one imgfmt_qcow2_writer_new() streams for the
 * same source and options.  imgfmt_qcow2_writer_length() is known once
 * step has returned 1; done/total report the source read. */
int imgfmt_qcow2_writer_new_seekable(imgfmt_image *src, const imgfmt_qcow2_opts *opts,
                                     imgfmt_pwrite_fn *pwrite_fn, void *opaque,
                                     imgfmt_qcow2_writer **out, imgfmt_error *err);

/* Do a bounded amount of work (a few MiB).  Returns 1 when the whole file
 * has been written, 0 if more steps are needed, or a negative IMGFMT_E_*
 * (the writer is then unusable; see imgfmt_qcow2_writer_error).  done/total
 * (may be NULL) report progress in bytes over both passes. */
int imgfmt_qcow2_writer_step(imgfmt_qcow2_writer *w, uint64_t *done, uint64_t *total);

/* The exact length of the output, known once planning has finished (before
 * the first byte reaches write_fn, for every option set; for a seekable
 * writer, when step has returned 1); 0 before. */
uint64_t imgfmt_qcow2_writer_length(const imgfmt_qcow2_writer *w);

/* Bytes passed to write_fn (or pwrite_fn) so far. */
uint64_t imgfmt_qcow2_writer_written(const imgfmt_qcow2_writer *w);

/* The writer's last error (code IMGFMT_OK if none). */
const imgfmt_error *imgfmt_qcow2_writer_error(const imgfmt_qcow2_writer *w);

/* Stop worker threads and free.  NULL is a no-op. */
void imgfmt_qcow2_writer_free(imgfmt_qcow2_writer *w);

/* ------------------------------------------------------------------ */
/* Partition tables and file-system signatures                         */
/* ------------------------------------------------------------------ */

/* File systems and volume formats recognised by their signature. */
enum imgfmt_fs_type {
    IMGFMT_FS_NONE = 0,     /* no known signature */
    IMGFMT_FS_EXT2, IMGFMT_FS_EXT3, IMGFMT_FS_EXT4,
    IMGFMT_FS_XFS,          /* version: 4 or 5 */
    IMGFMT_FS_BTRFS,
    IMGFMT_FS_NTFS,
    IMGFMT_FS_FAT12, IMGFMT_FS_FAT16, IMGFMT_FS_FAT32,
    IMGFMT_FS_EXFAT,
    IMGFMT_FS_SWAP,         /* version: 1 (SWAPSPACE2) or 0 (SWAP-SPACE) */
    IMGFMT_FS_LVM2_PV,      /* LVM2 physical volume (label "LABELONE") */
    IMGFMT_FS_LUKS,         /* version: 1 or 2 */
    IMGFMT_FS_ISO9660,
    IMGFMT_FS_LINUX_RAID,   /* md member; version: 0 (0.90) or 1 (1.x) */
    IMGFMT_FS_BITLOCKER     /* a BitLocker-encrypted volume ("-FVE-FS-") */
};

/* What a signature probe found.  Strings are NUL-terminated copies, empty
 * when the format has none or it is not cheap to read (NTFS and exFAT
 * labels live in files).  UUIDs are printed as the format's own tools do:
 * "8-4-4-4-12" for 16-byte UUIDs, "XXXX-XXXX" for FAT, 16 hex digits for
 * NTFS, "XXXXXXXX" for exFAT, LVM's 6-4-4-4-4-4-6. */
typedef struct imgfmt_fs {
    enum imgfmt_fs_type type;
    const char *name;       /* static: "ext4", "xfs", "LVM2_member", ...; "" for NONE */
    uint32_t version;       /* see enum imgfmt_fs_type, else 0 */
    char label[64];         /* truncated to fit */
    char uuid[40];
} imgfmt_fs;

/* Static name of a type ("ext4", "vfat" is never used: "fat32"...). */
const char *imgfmt_fs_type_name(enum imgfmt_fs_type t);
/* True for the file systems Linux can boot from as root: ext2/3/4, XFS, btrfs. */
int imgfmt_fs_is_linux_root(enum imgfmt_fs_type t);

/* Probe for a signature in [offset, offset+length) of the virtual disk
 * (length 0: up to the end).  Finding nothing is not an error: out->type
 * is IMGFMT_FS_NONE.  Reads only a few KiB (plus the tail for Linux RAID
 * 0.90/1.0 superblocks). */
int imgfmt_probe_fs(imgfmt_image *img, uint64_t offset, uint64_t length,
                    imgfmt_fs *out);

enum imgfmt_table_type {
    IMGFMT_TABLE_NONE = 0,  /* no partition table (maybe a bare file system) */
    IMGFMT_TABLE_MBR  = 1,
    IMGFMT_TABLE_GPT  = 2   /* behind a protective or hybrid MBR */
};

typedef struct imgfmt_partition {
    uint32_t number;        /* as Linux numbers them: MBR primaries 1-4,
                               logicals from 5; GPT entry index + 1 */
    uint64_t start, length; /* bytes on the virtual disk */
    uint8_t mbr_type;       /* MBR system id (0 for GPT partitions) */
    int bootable;           /* MBR active flag */
    int extended;           /* the MBR extended container itself (no fs probed) */
    int logical;            /* inside the extended partition */
    char type_guid[37];     /* GPT partition type, upper case; "" for MBR */
    char part_guid[37];     /* GPT unique partition GUID; "" for MBR */
    char name[109];         /* GPT name as UTF-8; "" for MBR */
    uint64_t attributes;    /* GPT attribute bits */
    const char *type_name;  /* static: "Linux filesystem", "EFI System",
                               "Microsoft basic data", "Linux LVM", ...; "" if unknown */
    imgfmt_fs fs;           /* signature found at the start of the partition */
} imgfmt_partition;

typedef struct imgfmt_partition_table {
    enum imgfmt_table_type type;
    uint32_t sector_size;       /* logical block size: 512, or 4096 for GPT
                                   found at byte 4096 */
    uint32_t nb_partitions;
    imgfmt_partition *parts;    /* in table order: primaries, then logicals */
    uint32_t mbr_signature;     /* MBR disk signature (also under a GPT) */
    int protective_mbr;         /* GPT: the MBR holds only the 0xEE entry */
    int hybrid_mbr;             /* GPT: the MBR also lists other partitions */
    char disk_guid[37];         /* GPT */
    uint32_t gpt_entries, gpt_entry_size;
    uint64_t gpt_primary_offset, gpt_backup_offset;  /* header byte offsets */
    int gpt_backup_ok;          /* backup header and its entries valid */
    int gpt_primary_ok;         /* primary valid (else the backup was used) */
    uint64_t first_usable, last_usable_end; /* GPT usable area, bytes [first, end) */
    imgfmt_fs whole_disk;       /* TABLE_NONE: the signature at offset 0 */
} imgfmt_partition_table;

/* Caps on what a table may ask us to parse (errors beyond them). */
#define IMGFMT_MAX_LOGICAL_PARTITIONS 256u   /* EBR chain length: LIMIT */
#define IMGFMT_MAX_GPT_ENTRIES        65536u /* GPT entry count: LIMIT */
#define IMGFMT_MAX_GPT_ARRAY_BYTES    (8u << 20) /* entries * entry size: LIMIT */

/* Read the partition table of img.  On success *out is a new table (free
 * it with imgfmt_partition_table_free) with every partition's file system
 * probed; type NONE means there is no table, and whole_disk says what lies
 * at offset 0.  Errors (the handle keeps the message):
 *   IMGFMT_E_CORRUPT  invalid table: bad boot indicator, EBR chain loop or
 *                     out of bounds, GPT header/entry CRC32 mismatch in both
 *                     copies, usable area or a partition outside the disk,
 *                     partitions overlapping the GPT structures;
 *   IMGFMT_E_LIMIT    more than IMGFMT_MAX_LOGICAL_PARTITIONS logicals, or a
 *                     GPT entry array beyond the caps above;
 *   IMGFMT_E_IO ...   reading the image failed.
 * A valid primary GPT with a broken backup (or the reverse) is accepted
 * with a warning; problems that did not stop parsing are recorded on img
 * (imgfmt_warning_code >= IMGFMT_W_PARTITION_FIRST).  The table does not
 * borrow img. */
int imgfmt_partitions(imgfmt_image *img, imgfmt_partition_table **out);
void imgfmt_partition_table_free(imgfmt_partition_table *t);   /* NULL ok */

/* What a partition is for, from its type (MBR system id or GPT type GUID)
 * and, for LVM, the signature found in it. */
enum imgfmt_partition_role {
    IMGFMT_PART_ROLE_OTHER    = 0, /* data, or a type without a special role */
    IMGFMT_PART_ROLE_EXTENDED = 1, /* the MBR extended container (0x05, 0x0F, 0x85) */
    IMGFMT_PART_ROLE_ESP      = 2, /* EFI system partition: MBR 0xEF, GPT C12A7328-... */
    IMGFMT_PART_ROLE_LVM_PV   = 3, /* LVM2 physical volume: MBR 0x8E, GPT E6D6D379-...,
                                      or any partition holding an LVM2 label */
    IMGFMT_PART_ROLE_LDM      = 4  /* Windows dynamic disk (LDM): MBR 0x42, GPT LDM
                                      metadata 5808C8AA-... or data AF9B60A0-... */
};
/* The role of p (an entry of imgfmt_partition_table.parts); OTHER for NULL. */
enum imgfmt_partition_role imgfmt_partition_role(const imgfmt_partition *p);


/* ------------------------------------------------------------------ */
/* LVM2 logical volumes                                                */
/* ------------------------------------------------------------------ */

/*
 * imgfmt_lvm_scan() looks for LVM2 physical volumes on the whole disk and
 * on every partition, reads each one's text metadata (the newest copy by
 * seqno, its checksum verified; the circular buffer may wrap) and
 * assembles volume groups (one VG may span several PVs of the disk) and
 * their logical volumes.  Linear and striped LVs, of any number of
 * segments, can be read and opened as file systems; thin, thin-pool,
 * cache, raid, mirror, snapshot (the COW store; the origin is fine), vdo,
 * writecache, integrity and other segment types are listed and refused by
 * name, as is every LV of a VG with a PV missing from the image.
 * Nothing is written.  The handle borrows img: keep it open.
 */
typedef struct imgfmt_lvm imgfmt_lvm;

/* Caps on what metadata may ask for (LIMIT beyond). */
#define IMGFMT_LVM_MAX_PVS      256u     /* PV labels on one image */
#define IMGFMT_LVM_MAX_LVS      4096u    /* LVs in one VG */
#define IMGFMT_LVM_MAX_SEGMENTS 65536u   /* segments of one LV */
#define IMGFMT_LVM_MAX_STRIPES  128u     /* stripes of one segment */

/* Scan img.  Finding no PV is not an error (0 VGs).  Errors: CORRUPT for a
 * label, metadata area or text that is invalid (CRC mismatch, syntax,
 * segments beyond their PV, overlapping or missing segments ...), naming
 * the device and the field; LIMIT past the caps above or the image's
 * metadata memory cap; IO from the image.  The partition table is read
 * with imgfmt_partitions() (its errors are returned). */
int imgfmt_lvm_scan(imgfmt_image *img, imgfmt_lvm **out, imgfmt_error *err);
void imgfmt_lvm_free(imgfmt_lvm *lvm);                              /* NULL ok */
const imgfmt_error *imgfmt_lvm_last_error(const imgfmt_lvm *lvm);
/* Problems that did not stop the scan (a PV found twice, a metadata area
 * that could not be read while another copy of its VG was good); i <
 * count, else NULL. */
uint32_t imgfmt_lvm_nb_warnings(const imgfmt_lvm *lvm);
const char *imgfmt_lvm_warning(const imgfmt_lvm *lvm, uint32_t i);

typedef struct imgfmt_lvm_vg {
    const char *name;           /* "vg0" */
    const char *uuid;           /* as lvm prints it: 6-4-4-4-4-4-6 */
    uint64_t seqno;             /* of the metadata copy used */
    uint64_t extent_size;       /* bytes */
    uint32_t nb_pvs;            /* PVs the metadata lists */
    uint32_t nb_missing_pvs;    /* of those, not found on the image */
    const char *missing_pv;     /* "pv1 (uuid ...)" of the first missing one, or NULL */
    uint32_t nb_lvs;            /* every LV, hidden ones (pool parts) included */
} imgfmt_lvm_vg;

typedef struct imgfmt_lvm_lv {
    const char *vg_name;
    const char *name;           /* "root" */
    const char *full_name;      /* "vg0/root" */
    const char *uuid;
    uint64_t size;              /* bytes */
    uint32_t nb_segments;
    const char *type;           /* "linear" (all segments 1 stripe), "striped",
                                   or the first segment type we refuse:
                                   "thin-pool", "raid1", "snapshot", ... */
    int visible;                /* 0 for hidden LVs (lvs -a shows them in []) */
    int readable;               /* 1 if it can be read and opened */
    const char *refusal;        /* !readable: why ("thin-pool LV: not supported",
                                   "PV pv1 (uuid ...) of vg0 is missing from the
                                   image"); NULL when readable */
} imgfmt_lvm_lv;

typedef struct imgfmt_lvm_segment {
    uint64_t start, length;     /* bytes of the LV */
    const char *type;           /* as the metadata names it: "striped", "thin", ... */
    uint32_t nb_stripes;        /* 1 for linear; 0 for a type we do not map */
    uint64_t stripe_size;       /* bytes; 0 for one stripe */
} imgfmt_lvm_segment;

/* Stripe area of a mapped segment: where its extents lie. */
typedef struct imgfmt_lvm_area {
    const char *pv_name;        /* the metadata's name: "pv0" */
    const char *pv_uuid;        /* dashed, as lvm prints it */
    const char *device;         /* where the PV was found: "partition 2",
                                   "the whole disk"; NULL if missing */
    uint64_t start_extent;      /* first physical extent on that PV */
} imgfmt_lvm_area;

uint32_t imgfmt_lvm_nb_vgs(const imgfmt_lvm *lvm);
/* VG i (i < nb_vgs), in the order their first PV was found.  RANGE past it. */
int imgfmt_lvm_get_vg(const imgfmt_lvm *lvm, uint32_t vg, imgfmt_lvm_vg *out);
/* LV i of VG vg (metadata order).  RANGE past them. */
int imgfmt_lvm_get_lv(const imgfmt_lvm *lvm, uint32_t vg, uint32_t lv, imgfmt_lvm_lv *out);
/* Segment s of an LV.  RANGE past them. */
int imgfmt_lvm_get_segment(const imgfmt_lvm *lvm, uint32_t vg, uint32_t lv, uint32_t s,
                           imgfmt_lvm_segment *out);
/* Area k (k < nb_stripes) of segment s of an LV.  RANGE past them. */
int imgfmt_lvm_get_area(const imgfmt_lvm *lvm, uint32_t vg, uint32_t lv, uint32_t s,
                        uint32_t k, imgfmt_lvm_area *out);
/* Find "vg/lv" (also "/dev/vg/lv" and "/dev/mapper/vg-lv" with lvm's "--"
 * escaping).  0 and the indexes, or NOT_FOUND (message set). */
int imgfmt_lvm_find_lv(imgfmt_lvm *lvm, const char *name, uint32_t *vg, uint32_t *lv);
/* Read len bytes at off of an LV (all or an error; RANGE past its size;
 * UNSUPPORTED / BACKING with the refusal for an unreadable LV). */
int imgfmt_lvm_pread(imgfmt_lvm *lvm, uint32_t vg, uint32_t lv, void *buf, size_t len,
                     uint64_t off);

/* ------------------------------------------------------------------ */
/* Guest file systems (read-only)                                      */
/* ------------------------------------------------------------------ */

/*
 * A file system opened on a byte range of an image (a partition), on a
 * logical volume, or the guest view (the root file system with what its
 * /etc/fstab mounts).  Nothing is ever written.  Paths are UTF-8 with '/'
 * separators, always absolute inside the guest: "." and ".." work as in
 * the kernel, symlinks (relative or absolute) resolve inside the guest
 * root, never on the host; at most IMGFMT_MAX_SYMLINKS links per lookup
 * (LIMIT "too many levels of symbolic links" beyond: loops end there).
 */

#define IMGFMT_MAX_SYMLINKS 40u

enum imgfmt_file_type {
    IMGFMT_FILE_UNKNOWN = 0,
    IMGFMT_FILE_REG,       /* "file" */
    IMGFMT_FILE_DIR,       /* "dir" */
    IMGFMT_FILE_SYMLINK,   /* "symlink" */
    IMGFMT_FILE_CHR,       /* "chardev" */
    IMGFMT_FILE_BLK,       /* "blockdev" */
    IMGFMT_FILE_FIFO,      /* "fifo" */
    IMGFMT_FILE_SOCK       /* "socket" */
};
/* Static names as above; "unknown". */
const char *imgfmt_file_type_name(enum imgfmt_file_type t);

typedef struct imgfmt_timespec {
    int64_t sec;           /* seconds since 1970-01-01 UTC */
    uint32_t nsec;
} imgfmt_timespec;

#define IMGFMT_STAT_SPARSE     0x1u  /* has holes (where the fs records it) */
#define IMGFMT_STAT_COMPRESSED 0x2u  /* stored compressed */
#define IMGFMT_STAT_ENCRYPTED  0x4u  /* content encrypted: reads are refused */
#define IMGFMT_STAT_REPARSE    0x8u  /* NTFS reparse point */

/* NTFS, as read here: names match case-insensitively (through the
 * volume's $UpCase table, as Windows does; a DOS 8.3 alias matches too)
 * but are listed once each, under their Win32/POSIX names; the metadata
 * files ($MFT, $Bitmap, ..., $Extend) are not listed.  There are no POSIX
 * owners: directories are 0755, files 0644, symlinks 0777, uid/gid 0 (as
 * ntfs-3g without a user mapping); ino is the MFT record number; times
 * come from $STANDARD_INFORMATION.  Only the unnamed data stream is
 * content.  Symbolic links and junctions are symlinks: a target on a
 * drive letter ("C:\Windows") reads as "/Windows" on this volume, other
 * absolute targets (volume GUIDs, UNC) as stored.  EFS-encrypted,
 * WOF-compressed and other reparse-point files are listed and stat'ed;
 * reading them is UNSUPPORTED.  Warnings: volume dirty, hibernated
 * Windows (hiberfil.sys), boot sector replaced by its backup.  A
 * BitLocker volume is UNSUPPORTED. */

typedef struct imgfmt_stat {
    uint64_t ino;          /* inode / MFT record number */
    enum imgfmt_file_type type;
    uint32_t mode;         /* POSIX mode: type bits (S_IFMT) | permissions */
    uint32_t uid, gid;
    uint64_t nlink;
    uint64_t size;         /* bytes (symlinks: target length) */
    uint32_t rdev_major, rdev_minor;  /* device nodes */
    imgfmt_timespec atime, mtime, ctime;
    imgfmt_timespec btime; /* creation time; sec 0 and nsec 0 when unknown */
    uint32_t flags;        /* IMGFMT_STAT_* */
    uint32_t dev;          /* which file system of the handle holds it (0: the
                              root; in the guest view, one per mount): with
                              ino, the node's identity (hard links, loops) */
    uint64_t subvol;       /* btrfs: the subvolume holding the node (5: the top
                              level), as the kernel gives each its own st_dev;
                              part of the identity; 0 on other file systems */
} imgfmt_stat;

typedef struct imgfmt_fs_opts {
    uint32_t struct_size;        /* set by _init (Conventions: struct_size) */
    const char *subvol;          /* btrfs: mount this subvolume (path from the
                                    top level, like mount -o subvol=); NULL */
    uint64_t subvolid;           /* btrfs: mount this subvolume id; 0: the
                                    default subvolume (what a plain mount shows) */
    uint64_t max_metadata_bytes; /* cap on memory driven by fs metadata
                                    (default 256 MiB; LIMIT beyond) */
} imgfmt_fs_opts;

void imgfmt_fs_opts_init(imgfmt_fs_opts *o);

typedef struct imgfmt_filesystem imgfmt_filesystem;

enum imgfmt_os_type {
    IMGFMT_OS_NONE = 0,    /* not a guest view, or no OS root found */
    IMGFMT_OS_LINUX,
    IMGFMT_OS_WINDOWS
};

/* Open the file system at [offset, offset+length) of img's virtual disk
 * (length 0: to the end), its type found by signature.  img is borrowed:
 * keep it open.  UNKNOWN_FORMAT when no signature; UNSUPPORTED naming the
 * type when we have no reader for it (or a feature we refuse). */
int imgfmt_fs_open(imgfmt_image *img, uint64_t offset, uint64_t length,
                   const imgfmt_fs_opts *opts, imgfmt_filesystem **out,
                   imgfmt_error *err);
void imgfmt_fs_close(imgfmt_filesystem *fs);                  /* NULL ok */
const imgfmt_error *imgfmt_fs_last_error(const imgfmt_filesystem *fs);

/* The root file system's type name ("ext4", "xfs", ...), label and UUID
 * ("" if none). */
const char *imgfmt_fs_type(const imgfmt_filesystem *fs);
const char *imgfmt_fs_label(const imgfmt_filesystem *fs);
const char *imgfmt_fs_uuid(const imgfmt_filesystem *fs);
/* Warnings of the file systems of this handle ("ext4: needs_recovery set:
 * the journal was not replayed ..."); i < count, else NULL. */
uint32_t imgfmt_fs_nb_warnings(const imgfmt_filesystem *fs);
const char *imgfmt_fs_warning(const imgfmt_filesystem *fs, uint32_t i);

#define IMGFMT_NOFOLLOW 0x1u   /* do not follow a symlink in the last component */

/* stat of path.  NOT_FOUND / NOT_DIR / LIMIT (symlinks) / CORRUPT ... */
int imgfmt_fs_stat(imgfmt_filesystem *fs, const char *path, unsigned flags,
                   imgfmt_stat *out);
/* The target of the symlink path (the last component is not followed):
 * *out is valid until the next call on fs. */
int imgfmt_fs_readlink(imgfmt_filesystem *fs, const char *path, const char **out);

typedef struct imgfmt_dirent {
    const char *name;              /* UTF-8, valid until the next readdir */
    enum imgfmt_file_type type;    /* from the directory, or UNKNOWN */
    uint64_t ino;
} imgfmt_dirent;

typedef struct imgfmt_dir imgfmt_dir;
/* List a directory ("." and ".." are not returned; order as stored). */
int imgfmt_fs_opendir(imgfmt_filesystem *fs, const char *path, imgfmt_dir **out);
int imgfmt_fs_readdir(imgfmt_dir *d, imgfmt_dirent *out); /* 1 got one, 0 end, <0 error */
void imgfmt_fs_closedir(imgfmt_dir *d);                   /* NULL ok */

typedef struct imgfmt_file imgfmt_file;
/* Open a regular file (symlinks followed).  INVAL "is a directory" etc. */
int imgfmt_fs_open_file(imgfmt_filesystem *fs, const char *path, imgfmt_file **out);
const imgfmt_stat *imgfmt_file_stat(const imgfmt_file *f);
/* Read up to len bytes at off; *got is short only at the end of the file. */
int imgfmt_file_pread(imgfmt_file *f, void *buf, size_t len, uint64_t off, size_t *got);
void imgfmt_file_close(imgfmt_file *f);                   /* NULL ok */

/* ---- Volumes: where file systems can be (partitions, LVs, the disk) ---- */

typedef struct imgfmt_volume {
    const char *spec;        /* what --fs= takes: "1" (partition number), "0"
                                (the whole disk, when it has no partition
                                table), "vg0/root" (an LVM logical volume) */
    const char *kind;        /* "partition", "disk", "lv" */
    uint64_t offset, length; /* bytes on the virtual disk (LVs: 0 and the LV size) */
    imgfmt_fs fs;            /* the signature found at its start */
    const char *part_uuid;   /* GPT unique GUID (lower case, as PARTUUID= in
                                fstab), MBR "xxxxxxxx-NN"; "" for others */
    const char *part_label;  /* GPT partition name (PARTLABEL=), else "" */
    const char *lv_path;     /* LVs: "/dev/mapper/vg0-root" (fstab form), else "" */
} imgfmt_volume;

typedef struct imgfmt_volume_list imgfmt_volume_list;

/* Every partition (extended containers left out), the whole disk if it has
 * no partition table, and the logical volumes of LVM2 physical volumes found
 * on them.  Borrows img: keep it open while the list lives, and keep the
 * list while file systems opened from it live. */
int imgfmt_volumes(imgfmt_image *img, imgfmt_volume_list **out, imgfmt_error *err);
uint32_t imgfmt_volumes_count(const imgfmt_volume_list *l);
const imgfmt_volume *imgfmt_volumes_get(const imgfmt_volume_list *l, uint32_t i);
/* Index of the volume named spec ("2", "0", "vg0/root"), or -1. */
int imgfmt_volumes_find(const imgfmt_volume_list *l, const char *spec);
/* Warnings met while listing (e.g. an LVM PV that could not be read). */
uint32_t imgfmt_volumes_nb_warnings(const imgfmt_volume_list *l);
const char *imgfmt_volumes_warning(const imgfmt_volume_list *l, uint32_t i);
/* Open the file system of volume i. */
int imgfmt_volume_open(imgfmt_volume_list *l, uint32_t i, const imgfmt_fs_opts *opts,
                       imgfmt_filesystem **out, imgfmt_error *err);
void imgfmt_volumes_free(imgfmt_volume_list *l);              /* NULL ok */

/* Open the file system on LV name ("vg/lv", "/dev/vg/lv" or
 * "/dev/mapper/vg-lv") of a scan, like a partition: its type found by
 * signature.  The file system borrows lvm (and so img): keep both open
 * while it lives.  NOT_FOUND for no such LV; UNSUPPORTED (thin, raid, ...)
 * or BACKING (a PV missing) with the LV's refusal; then as imgfmt_fs_open. */
int imgfmt_fs_open_lv(imgfmt_lvm *lvm, const char *name, const imgfmt_fs_opts *opts,
                      imgfmt_filesystem **out, imgfmt_error *err);

/* ---- The guest view ---- */

/* Find the OS root among img's volumes and mount what its /etc/fstab
 * names, so that paths read as the guest sees them ("/boot/grub/grub.cfg"
 * on its own partition included).  A Linux root holds etc/fstab, an
 * os-release (etc/ or usr/lib/) and an init (sbin/init or
 * usr/lib/systemd/systemd); a Windows root holds
 * Windows/System32/config/SYSTEM.  fstab entries that cannot be placed
 * (network file systems, a UUID on no volume) are listed by
 * imgfmt_guest_note(), not fatal.  NOT_FOUND when no volume holds a root
 * (the message says what was looked at). */
int imgfmt_guest_open(imgfmt_image *img, const imgfmt_fs_opts *opts,
                      imgfmt_filesystem **out, imgfmt_error *err);
enum imgfmt_os_type imgfmt_guest_os_type(const imgfmt_filesystem *fs);
/* Why the root is one: "partition 1 (ext4): etc/fstab, etc/os-release,
 * sbin/init". */
const char *imgfmt_guest_root_evidence(const imgfmt_filesystem *fs);

typedef struct imgfmt_mount_info {
    const char *path;        /* "/", "/boot" */
    const char *source;      /* the volume: "partition 2", "vg0/root" */
    const char *fs_type;     /* "ext4" */
    const char *options;     /* from fstab, or "" */
} imgfmt_mount_info;
uint32_t imgfmt_fs_nb_mounts(const imgfmt_filesystem *fs);
int imgfmt_fs_get_mount(const imgfmt_filesystem *fs, uint32_t i, imgfmt_mount_info *out);
/* fstab entries not mounted, with the reason ("/etc/fstab line 4: UUID=...
 * on /data: no volume has this UUID"). */
uint32_t imgfmt_guest_nb_notes(const imgfmt_filesystem *fs);
const char *imgfmt_guest_note(const imgfmt_filesystem *fs, uint32_t i);

/* ------------------------------------------------------------------ */
/* Windows registry hives (REGF), read-only                            */
/* ------------------------------------------------------------------ */

/*
 * A hive file (Windows/System32/config/SYSTEM, SOFTWARE, ...) read whole
 * into memory and checked: the base block (signature, XOR checksum,
 * version 1.2-1.6, primary file, bins size), every hbin and the cells in
 * it.  Keys and values are then reached only through cells that were
 * found allocated inside an hbin; lists are bounded by their cell sizes,
 * subkey lists (lf, lh, li, ri nested) must agree with the key's subkey
 * count and each subkey must name its key as parent (so walks end), and
 * big data (db) values are reassembled within the memory cap.  A hive
 * whose two sequence numbers differ was not written back cleanly (the
 * .LOG1/.LOG2 files hold newer changes, not replayed): a warning.
 * Names are returned as UTF-8 (ASCII-compressed names are Latin-1; a name
 * holding a NUL character, which regedit can write, is cut there, while
 * lookups still compare the whole stored name);
 * lookups compare names case-insensitively, as Windows does (simple
 * upper-casing of Latin, Greek and Cyrillic letters).
 */
typedef struct imgfmt_hive imgfmt_hive;
typedef uint32_t imgfmt_hive_key;     /* a key of one hive; 0 = none */
typedef uint32_t imgfmt_hive_value;   /* a value of one hive; 0 = none */

enum imgfmt_reg_type {
    IMGFMT_REG_NONE = 0, IMGFMT_REG_SZ = 1, IMGFMT_REG_EXPAND_SZ = 2,
    IMGFMT_REG_BINARY = 3, IMGFMT_REG_DWORD = 4, IMGFMT_REG_DWORD_BIG_ENDIAN = 5,
    IMGFMT_REG_LINK = 6, IMGFMT_REG_MULTI_SZ = 7, IMGFMT_REG_RESOURCE_LIST = 8,
    IMGFMT_REG_FULL_RESOURCE_DESCRIPTOR = 9, IMGFMT_REG_RESOURCE_REQUIREMENTS_LIST = 10,
    IMGFMT_REG_QWORD = 11
};

#define IMGFMT_HIVE_MAX_SIZE     (1ull << 31)  /* hive file bytes: LIMIT beyond */
#define IMGFMT_HIVE_MAX_DEPTH    512u          /* key path components / walks */
#define IMGFMT_HIVE_MAX_VALUE    (64u << 20)   /* bytes of one value's data */

/* Open a hive held in memory (len bytes, copied).  CORRUPT naming the
 * field for a bad base block, hbin or cell; UNSUPPORTED for other versions
 * or log files; LIMIT past IMGFMT_HIVE_MAX_SIZE. */
int imgfmt_hive_open_memory(const void *buf, size_t len, imgfmt_hive **out,
                            imgfmt_error *err);
/* Open the hive file at path of a guest file system (read whole). */
int imgfmt_hive_open_file(imgfmt_filesystem *fs, const char *path, imgfmt_hive **out,
                          imgfmt_error *err);
void imgfmt_hive_close(imgfmt_hive *h);                          /* NULL ok */
const imgfmt_error *imgfmt_hive_last_error(const imgfmt_hive *h);
/* 1 if the sequence numbers differ (see above). */
int imgfmt_hive_dirty(const imgfmt_hive *h);
uint32_t imgfmt_hive_nb_warnings(const imgfmt_hive *h);
const char *imgfmt_hive_warning(const imgfmt_hive *h, uint32_t i);

imgfmt_hive_key imgfmt_hive_root(const imgfmt_hive *h);
/* The key at path below from ('\'-separated, case-insensitive; "" or "\"
 * is from itself).  NOT_FOUND (message names the missing component). */
int imgfmt_hive_lookup(imgfmt_hive *h, imgfmt_hive_key from, const char *path,
                       imgfmt_hive_key *out);

typedef struct imgfmt_hive_key_info {
    const char *name;          /* UTF-8; valid until the next key_stat call */
    uint32_t nb_subkeys;
    uint32_t nb_values;
    int64_t mtime;             /* last written, seconds since 1970 */
} imgfmt_hive_key_info;
int imgfmt_hive_key_stat(imgfmt_hive *h, imgfmt_hive_key k, imgfmt_hive_key_info *out);

/* Iterate the subkeys (stored order) or values of a key: *out gets an
 * imgfmt_hive_key or imgfmt_hive_value.  next returns 1, 0 at the end, or
 * an error (a corrupt list is found when the iteration starts). */
typedef struct imgfmt_hive_iter imgfmt_hive_iter;
int imgfmt_hive_subkeys(imgfmt_hive *h, imgfmt_hive_key k, imgfmt_hive_iter **out);
int imgfmt_hive_values(imgfmt_hive *h, imgfmt_hive_key k, imgfmt_hive_iter **out);
int imgfmt_hive_next(imgfmt_hive_iter *it, uint32_t *out);
void imgfmt_hive_iter_free(imgfmt_hive_iter *it);                /* NULL ok */

typedef struct imgfmt_hive_value_info {
    const char *name;          /* UTF-8, "" for the default value; valid until
                                  the next value_stat call */
    uint32_t type;             /* enum imgfmt_reg_type (or another number) */
    uint32_t size;             /* bytes of data */
} imgfmt_hive_value_info;
int imgfmt_hive_value_stat(imgfmt_hive *h, imgfmt_hive_value v, imgfmt_hive_value_info *out);
/* The value of key k named name (case-insensitive; "" = default). */
int imgfmt_hive_get_value(imgfmt_hive *h, imgfmt_hive_key k, const char *name,
                          imgfmt_hive_value *out);
/* Raw data (inline, in a cell, or big data reassembled): valid until the
 * next data call on h. */
int imgfmt_hive_value_data(imgfmt_hive *h, imgfmt_hive_value v, const uint8_t **data,
                           size_t *len);
/* Typed reads; INVAL naming the type when the value is not of that kind.
 * dword: DWORD (little-endian) or DWORD_BIG_ENDIAN, 4 bytes.  qword: QWORD,
 * 8 bytes.  string: SZ, EXPAND_SZ or LINK as UTF-8 up to the first NUL
 * (valid until the next string call).  strings: MULTI_SZ as *n UTF-8
 * strings (valid until the next strings call). */
int imgfmt_hive_value_dword(imgfmt_hive *h, imgfmt_hive_value v, uint32_t *out);
int imgfmt_hive_value_qword(imgfmt_hive *h, imgfmt_hive_value v, uint64_t *out);
int imgfmt_hive_value_string(imgfmt_hive *h, imgfmt_hive_value v, const char **out);
int imgfmt_hive_value_strings(imgfmt_hive *h, imgfmt_hive_value v,
                              const char *const **out, uint32_t *n);

/* ------------------------------------------------------------------ */
/* Guest inspection                                                    */
/* ------------------------------------------------------------------ */

/*
 * What the guest's files say: the OS, its kernels and which one boots,
 * whether the default kernel can boot from a virtio disk, and whether
 * cloud-init is installed and enabled.  Read through the guest view;
 * nothing is claimed that was not read: a verdict that could not be
 * reached is IMGFMT_VERDICT_NOT_CHECKED with the reason.
 */

enum imgfmt_verdict {
    IMGFMT_VERDICT_NOT_CHECKED = 0,  /* could not look: the evidence says why */
    IMGFMT_VERDICT_PASS,
    IMGFMT_VERDICT_FAIL,
    IMGFMT_VERDICT_WARN
};
/* "not-checked", "pass", "fail", "warn". */
const char *imgfmt_verdict_name(enum imgfmt_verdict v);

typedef struct imgfmt_inspection imgfmt_inspection;

/* Inspect img (guest view, then the OS).  An image without an OS root is
 * not an error: the result has os type NONE and says what was looked at. */
int imgfmt_inspect(imgfmt_image *img, imgfmt_inspection **out, imgfmt_error *err);
void imgfmt_inspection_free(imgfmt_inspection *ins);           /* NULL ok */

typedef struct imgfmt_os_info {
    enum imgfmt_os_type type;
    const char *root;            /* root evidence: "partition 2 (ext4): etc/fstab, ..." */
    const char *distro;          /* os-release ID: "debian", "centos", "ubuntu"...;
                                    "windows"; or "" */
    const char *product_name;    /* PRETTY_NAME or the release file's line */
    const char *version;         /* as the release file says ("12.5", "7.9.2009") */
    uint32_t major, minor;
    const char *distro_source;   /* the file that told: "/etc/os-release" */
    const char *arch;            /* userland: "x86_64", "i386", "aarch64", "" */
    const char *arch_source;     /* "/bin/bash (ELF)" */
    const char *package_format;  /* "deb", "rpm" or "" */
    const char *bootloader;      /* "grub2", "bls", "none" */
    const char *bootloader_config;   /* "/boot/grub/grub.cfg" */
    int default_kernel;          /* index, -1 if none */
    const char *default_rule;    /* how it was chosen ("grub.cfg: set default=0") */
    const char *default_cmdline; /* the default entry's kernel command line, or "" */
    uint32_t nb_kernels;
    const char *not_read;        /* "" or why the OS could not be read */
} imgfmt_os_info;
int imgfmt_inspection_os(const imgfmt_inspection *ins, imgfmt_os_info *out);

typedef struct imgfmt_kernel_info {
    const char *version;         /* "6.1.0-13-amd64" */
    const char *vmlinuz;         /* guest path or "" */
    const char *config;          /* the config read: "/boot/config-VER", "" if none */
    const char *initramfs;       /* guest path or "" */
    const char *initramfs_format;/* "none+zstd" (segment codecs), "" if not read */
    uint32_t initramfs_segments;
    char virtio_blk;             /* config: 'y', 'm', 'n', '?' (no config) */
    char virtio_net;
    int builtin_virtio_blk;      /* modules.builtin lists it */
    enum imgfmt_verdict virtio;  /* the VirtioNotInstall rule for this kernel */
    const char *virtio_evidence; /* "virtio_blk.ko, ... in /boot/initrd.img-X (zstd)" */
} imgfmt_kernel_info;
int imgfmt_inspection_kernel(const imgfmt_inspection *ins, uint32_t i, imgfmt_kernel_info *out);

typedef struct imgfmt_cloudinit_info {
    enum imgfmt_verdict verdict; /* the CloudInitNotInstalled rule */
    const char *evidence;        /* what was found, file by file */
    const char *version;         /* "22.4.2" or "" */
    const char *enabled_by;      /* "cloud-init.target.wants links", "" */
    const char *datasources;     /* datasource_list, "" if not set */
    const char *package;         /* dpkg: "installed 22.4.2-1", "removed", "" */
} imgfmt_cloudinit_info;
int imgfmt_inspection_cloudinit(const imgfmt_inspection *ins, imgfmt_cloudinit_info *out);

/* Windows guests: what the registry says (CloudInitNotInstalled's Windows
 * side, cloudbase-init, is imgfmt_inspection_cloudinit()). */
typedef struct imgfmt_windows_info {
    const char *control_set;     /* "ControlSet001" (SYSTEM\Select\Current) */
    const char *edition;         /* EditionID: "ServerStandard", ... */
    const char *installation_type;  /* "Server", "Server Core", "Client" or "" */
    const char *build;           /* CurrentBuildNumber: "9600" */
    enum imgfmt_verdict virtio;  /* viostor/vioscsi installed and boot-critical */
    const char *virtio_evidence; /* "ControlSet001\Services\viostor Start=0 (boot), ..." */
} imgfmt_windows_info;
/* INVAL unless the OS is Windows. */
int imgfmt_inspection_windows(const imgfmt_inspection *ins, imgfmt_windows_info *out);

/* The guest view the inspection read (NULL if no root); owned by ins. */
imgfmt_filesystem *imgfmt_inspection_fs(const imgfmt_inspection *ins);
/* ------------------------------------------------------------------ */
/* Import pre-flight check                                             */
/* ------------------------------------------------------------------ */

/*
 * What a cloud image import would refuse, before the upload: the rules of
 * the import service, run on an image, each giving findings in the
 * service's own error codes.  `imgfmt-check` prints them; an image service
 * reads them through the accessors below.
 *
 * A finding says which rule (code, check id), its status, what was
 * measured and found (a sentence), the measured value and the limit when
 * the rule compares a size, and a one-sentence fix when it fails or warns.
 * The result does not depend on the order of calls or on earlier results.
 * Findings come in a fixed order (format, sizes, external files, image
 * state, VHD size rule, partition table, root or Windows system volume,
 * guest contents); new rules may be added in later versions, so a caller
 * handles codes and check ids it does not know (their names come from the
 * library: imgfmt_check_code_name, imgfmt_check_id_name).
 */

enum imgfmt_check_status {
    IMGFMT_CHECK_PASS        = 0,  /* "pass" */
    IMGFMT_CHECK_FAIL        = 1,  /* "fail": the import refuses the image */
    IMGFMT_CHECK_WARN        = 2,  /* "warn": imported, but probably not as meant */
    IMGFMT_CHECK_NOT_CHECKED = 3   /* "not-checked": the rule could not be applied
                                      (the message says why) */
};

/* The import service's error codes, then ours (marked) for what it does
 * not name.  Pinned values. */
enum imgfmt_check_code {
    IMGFMT_CODE_INVALID_FORMAT_SIZE      = 1,  /* "InvalidFormatSize" */
    IMGFMT_CODE_PARTITION_NOT_PRESENT    = 2,  /* "PartitionNotPresent" */
    IMGFMT_CODE_ROOT_PARTITION_NOT_FOUND = 3,  /* "RootPartitionNotFound" */
    IMGFMT_CODE_VIRTIO_NOT_INSTALL       = 4,  /* "VirtioNotInstall" */
    IMGFMT_CODE_CLOUD_INIT_NOT_INSTALLED = 5,  /* "CloudInitNotInstalled" */
    IMGFMT_CODE_EXTERNAL_FILES           = 6,  /* ours: "ExternalFiles" */
    IMGFMT_CODE_VHD_SIZE_RULE            = 7,  /* ours: "VhdSizeRule" */
    IMGFMT_CODE_IMAGE_STATE              = 8,  /* ours: "ImageState" */
    IMGFMT_CODE_IMAGE_WARNING            = 9,  /* ours: "ImageWarning" */
    IMGFMT_CODE_WINDOWS_DISK_LAYOUT      = 10, /* ours: "WindowsDiskLayout" */
    IMGFMT_CODE_OS_NOT_LISTED            = 11, /* ours: "OsNotListed": the OS is not
                                                  on the provider's list */
    IMGFMT_CODE_DEVICE_NAMES             = 12  /* ours: "DeviceNames": /dev/sdX or
                                                  /dev/hdX names in fstab/root= */
};

/* The rules: short stable ids for programs.  Pinned values. */
enum imgfmt_check_id {
    IMGFMT_CHECK_ID_FORMAT               = 1,  /* "format": an accepted format */
    IMGFMT_CHECK_ID_VIRTUAL_SIZE         = 2,  /* "virtual-size" <= max_virtual_size */
    IMGFMT_CHECK_ID_CONVERTED_SIZE       = 3,  /* "converted-size": the exact length of
                                                  the qcow2 the service makes (qemu-img
                                                  convert -O qcow2, default options)
                                                  <= max_converted_size */
    IMGFMT_CHECK_ID_EXTERNAL_FILES       = 4,  /* "external-files": no backing file,
                                                  parent, or extent in another file */
    IMGFMT_CHECK_ID_CORRUPT              = 5,  /* "corrupt": qcow2 corrupt bit */
    IMGFMT_CHECK_ID_DIRTY                = 6,  /* "dirty": qcow2 dirty bit, VMDK
                                                  unclean shutdown */
    IMGFMT_CHECK_ID_IMAGE_WARNING        = 7,  /* "image-warning": one per warning of
                                                  the image format (imgfmt_warning) */
    IMGFMT_CHECK_ID_VHD_SIZE             = 8,  /* "vhd-size": qemu's VHD size covers
                                                  current_size, or what lies past it */
    IMGFMT_CHECK_ID_PARTITION_TABLE      = 9,  /* "partition-table": MBR or GPT with
                                                  at least one partition */
    IMGFMT_CHECK_ID_PARTITION_WARNING    = 10, /* "partition-warning": one per warning
                                                  of the partition table */
    IMGFMT_CHECK_ID_ROOT_PARTITION       = 11, /* "root-partition" (Linux): an OS root
                                                  (imgfmt_guest_open) on ext2/3/4, XFS
                                                  or btrfs in a partition or an LV */
    IMGFMT_CHECK_ID_WINDOWS_TABLE        = 12, /* "windows-table": MBR, not GPT */
    IMGFMT_CHECK_ID_WINDOWS_DYNAMIC_DISK = 13, /* "windows-dynamic-disk": no LDM */
    IMGFMT_CHECK_ID_WINDOWS_LVM          = 14, /* "windows-lvm": no LVM */
    IMGFMT_CHECK_ID_WINDOWS_SYSTEM       = 15, /* "windows-system": NTFS in a partition */
    IMGFMT_CHECK_ID_VIRTIO_DRIVERS       = 16, /* "virtio-drivers": the default kernel
                                                  boots with virtio (Linux guest files;
                                                  Windows: not checked) */
    IMGFMT_CHECK_ID_CLOUD_INIT           = 17, /* "cloud-init": installed and enabled
                                                  (likewise) */
    IMGFMT_CHECK_ID_OS_LIST              = 18, /* "os-list": the distribution (Linux)
                                                  or product (Windows) is on the list
                                                  (imgfmt_check_opts.os_list) */
    IMGFMT_CHECK_ID_DEVICE_NAMES         = 19  /* "device-names": fstab and the default
                                                  kernel's root= name no /dev/sdX or
                                                  /dev/hdX (disks become vdX) */
};

/* Which operating system's rules apply. */
enum imgfmt_check_os {
    IMGFMT_CHECK_OS_AUTO    = 0,   /* "auto": from the file systems found
                                      (NTFS or LDM and no Linux root: windows) */
    IMGFMT_CHECK_OS_LINUX   = 1,   /* "linux" */
    IMGFMT_CHECK_OS_WINDOWS = 2    /* "windows" */
};

/* Static names as quoted above; "unknown" for other values. */
const char *imgfmt_check_status_name(enum imgfmt_check_status s);
const char *imgfmt_check_code_name(enum imgfmt_check_code c);
const char *imgfmt_check_id_name(enum imgfmt_check_id id);
const char *imgfmt_check_os_name(enum imgfmt_check_os os);

/* The bit of a format in imgfmt_check_opts.accepted_formats. */
#define IMGFMT_CHECK_FORMAT_BIT(fmt) (1u << (unsigned)(fmt))

typedef struct imgfmt_check_opts {
    uint32_t struct_size;          /* set by _init (Conventions: struct_size) */
    enum imgfmt_check_os os;       /* default AUTO */
    uint64_t max_virtual_size;     /* bytes; default 500 GiB */
    uint64_t max_converted_size;   /* bytes of the converted qcow2; default 50 GiB */
    uint32_t accepted_formats;     /* IMGFMT_CHECK_FORMAT_BIT()s of RAW, VHD, QCOW2,
                                      VMDK (default: all four; at least one) */
    imgfmt_progress_fn *progress;  /* progress of the exact measure (the only
                                      step that reads all data), or NULL */
    void *progress_opaque;
    const char *os_list;           /* the provider's OS list as text, or NULL for
                                      the default (IMGFMT_CHECK_DEFAULT_OS_LIST).
                                      One entry a line, '#' comments:
                                        linux ID     an os-release ID ("debian";
                                                     "opensuse" matches opensuse-*,
                                                     "suse" sles/sled, "coreos"
                                                     fedora-coreos/flatcar/coreos)
                                        windows TEXT a ProductName substring
                                                     ("Windows Server 2012 R2") */
} imgfmt_check_opts;

/* The seed provider's list: CentOS, Ubuntu, Debian, CoreOS, openSUSE, SUSE;
 * Windows Server 2008 R2 and 2012 R2. */
#define IMGFMT_CHECK_DEFAULT_OS_LIST \
    "linux centos\nlinux ubuntu\nlinux debian\nlinux coreos\nlinux opensuse\n" \
    "linux suse\nwindows Windows Server 2008 R2\nwindows Windows Server 2012 R2\n"

/* Defaults as listed above. */
void imgfmt_check_opts_init(imgfmt_check_opts *o);

/* What a rule found.  The strings are owned by the result. */
#define IMGFMT_CHECK_NO_VALUE UINT64_MAX   /* measured/limit: not a size rule */
typedef struct imgfmt_check_finding {
    uint32_t struct_size;          /* caller sets sizeof(imgfmt_check_finding)
                                      (Conventions: struct_size) */
    enum imgfmt_check_code code;
    enum imgfmt_check_id check;
    enum imgfmt_check_status status;
    const char *code_name;         /* imgfmt_check_code_name(code) */
    const char *check_name;        /* imgfmt_check_id_name(check) */
    const char *status_name;       /* imgfmt_check_status_name(status) */
    const char *message;           /* what was measured / found, one sentence */
    uint64_t measured;             /* bytes, or IMGFMT_CHECK_NO_VALUE */
    uint64_t limit;                /* bytes, or IMGFMT_CHECK_NO_VALUE */
    const char *fix;               /* one sentence when status is FAIL or WARN,
                                      else "" */
} imgfmt_check_finding;

typedef struct imgfmt_check_result imgfmt_check_result;

/* Run the checks on an open image (opts NULL: defaults).  img is only read
 * (its chain included) and may be used again afterwards; the result does
 * not borrow it.  Reading the data can take a while: the converted size is
 * measured exactly, which reads every data run once.  For VHD images whose
 * qemu size is below current_size the image file is opened a second time
 * (read-only, by its path or descriptor, or the same memory).
 * Returns IMGFMT_OK and *out (free with imgfmt_check_result_free), or
 * INVAL (NULL img or out; opts with a bad struct_size, an unknown os, no
 * or an unknown accepted format) or
 * NOMEM with err filled (may be NULL) and *out NULL.  A read error met by
 * a rule is not a failure of the call: that rule is NOT_CHECKED and
 * imgfmt_check_read_error() reports it. */
int imgfmt_check_run(imgfmt_image *img, const imgfmt_check_opts *opts,
                     imgfmt_check_result **out, imgfmt_error *err);

/* Open the file at path read-only (open_opts as for imgfmt_open, NULL:
 * probe) and run the checks.  Files the library cannot open are findings,
 * not errors: a format the import refuses (VHDX, VDI, qcow version 1, QED,
 * gzip/xz/bzip2/zstd/zip/tar archives, ISO9660, a lone VMDK descriptor) or
 * an unreadable image fails the "format" rule, an image whose backing or
 * extent files are missing fails "external-files", and the rules that need
 * the disk are NOT_CHECKED.  Errors: INVAL, NOMEM, and IO when the file
 * cannot be opened or read at all (err says why). */
int imgfmt_check_path(const char *path, const imgfmt_open_opts *open_opts,
                      const imgfmt_check_opts *opts, imgfmt_check_result **out,
                      imgfmt_error *err);

/* Number of findings. */
uint32_t imgfmt_check_count(const imgfmt_check_result *r);
/* The i-th finding (i < count) into *out (out->struct_size set by the
 * caller).  INVAL for NULL or a bad struct_size, RANGE for i >= count. */
int imgfmt_check_get(const imgfmt_check_result *r, uint32_t i, imgfmt_check_finding *out);
/* Number of findings with status s. */
uint32_t imgfmt_check_count_status(const imgfmt_check_result *r, enum imgfmt_check_status s);
/* The rules applied: LINUX or WINDOWS, or AUTO when no disk could be read
 * and opts->os was AUTO. */
enum imgfmt_check_os imgfmt_check_result_os(const imgfmt_check_result *r);
/* The first read error that left a rule NOT_CHECKED (code IMGFMT_OK if
 * none): the findings are then incomplete for a reason other than the
 * image's content. */
const imgfmt_error *imgfmt_check_read_error(const imgfmt_check_result *r);
void imgfmt_check_result_free(imgfmt_check_result *r);   /* NULL ok */

#ifdef __cplusplus
}
#endif
#endif /* IMGFMT_H */
