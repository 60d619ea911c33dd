/*
 * xfs.c -- read-only XFS (v4 and v5).
 *
 * Inode numbers encode their own location (AG, block in the AG, slot in
 * the block), so no inode B+ tree is walked.  A file's data fork is read
 * into an extent list (in the inode, or from its block-map B+ tree, bounded
 * by the inode's extent count and the tree's strictly falling levels);
 * files, directory data blocks and remote symlinks are all read through
 * that list.  Directories: shortform (in the inode) is parsed directly;
 * every other format keeps its entries in data blocks below 32 GiB of the
 * directory's logical space, so one reader serves block, leaf, node and
 * B+ tree directories; lookups use the hash-sorted leaf entries.  The log
 * is never replayed: a log whose last record is not an unmount record is
 * reported as a warning.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "fs/fs.h"
#include "fs/xfs-format.h"

#define XFS_READ_RUN (1u << 20)       /* directory blocks read per batch */
#define XFS_LOG_SCAN_SECTORS 4096u    /* how far back to look for the last record */
#define XFS_LEAF_HOPS 64u             /* sibling leaves followed for one hash */
#define XFS_MAP_CACHE 8u              /* directory extent lists kept */

struct xfs_ag {
    uint32_t length;       /* blocks in this AG (the last may be short) */
    bool checked;          /* its AGF header was read and agrees */
};

/* A directory's extent list kept after its inode is closed: the core
 * opens a directory again for every path through it, and a large one's
 * block map would otherwise be walked each time. */
struct xfs_extmap {
    uint64_t ino;
    struct xfs_extent *ext;
    uint64_t n, cap;       /* cap: what is charged */
    unsigned refs;         /* open inodes using it */
};

struct xfs_mount {
    uint32_t blocksize, dirblksize, sectsize, agblocks, agcount;
    uint16_t inodesize, inopblock;
    uint8_t blocklog, agblklog, inopblog;
    uint64_t dblocks;
    bool v5, ftype, ci, nrext64;
    struct xfs_ag *ags;
    struct xfs_extmap maps[XFS_MAP_CACHE];
    unsigned map_clock;
};

/* An open inode (node->priv). */
struct xfs_inode {
    uint64_t ino;
    uint8_t *raw;              /* the inode as on disk (inodesize bytes) */
    const uint8_t *fork;       /* data fork inside raw */
    size_t fork_size;
    uint8_t format;            /* enum xfs_fork_format */
    uint16_t flags;
    uint64_t size, nextents;
    struct xfs_extent *ext;    /* loaded on first use */
    uint64_t next, ext_cap;    /* ext_cap 0 when ext belongs to shared */
    bool loaded;
    struct xfs_extmap *shared;
};

static struct xfs_mount *xm(struct ifmt_fs *fs)
{
    return fs->priv;
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

static uint32_t ag_length(const struct xfs_mount *m, uint32_t agno)
{
    if (agno + 1 < m->agcount)
        return m->agblocks;
    return (uint32_t)(m->dblocks - (uint64_t)agno * m->agblocks);
}

/* Read and check the AGF of agno once (its magic, number and length). */
static int ag_check(struct ifmt_fs *fs, uint32_t agno)
{
    struct xfs_mount *m = xm(fs);
    if (m->ags[agno].checked)
        return IMGFMT_OK;
    uint8_t agf[16];
    uint64_t off = (uint64_t)agno * m->agblocks * m->blocksize + m->sectsize;
    int r = ifmt_fs_read(fs, agf, sizeof agf, off, "AGF");
    if (r < 0)
        return r;
    if (ifmt_be32(agf) != XFS_AGF_MAGIC)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: AG %u: bad AGF magic 0x%08x",
                             agno, ifmt_be32(agf));
    if (ifmt_be32(agf + XFS_AGF_SEQNO) != agno ||
        ifmt_be32(agf + XFS_AGF_LENGTH) != m->ags[agno].length)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: AG %u: AGF says AG %u of %u blocks, expected %u blocks",
                             agno, ifmt_be32(agf + XFS_AGF_SEQNO),
                             ifmt_be32(agf + XFS_AGF_LENGTH), m->ags[agno].length);
    m->ags[agno].checked = true;
    return IMGFMT_OK;
}

/* Byte offset of inode ino; CORRUPT if the number points outside the AGs. */
static int inode_offset(struct ifmt_fs *fs, uint64_t ino, uint64_t *off)
{
    struct xfs_mount *m = xm(fs);
    unsigned agbits = (unsigned)m->agblklog + m->inopblog;
    uint64_t agno = ino >> agbits;
    uint64_t agbno = (ino >> m->inopblog) & ((1ull << m->agblklog) - 1);
    uint64_t slot = ino & ((1ull << m->inopblog) - 1);
    if (agno >= m->agcount || agbno >= m->ags[agno].length)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu: AG %llu block %llu out of range",
                             (unsigned long long)ino, (unsigned long long)agno,
                             (unsigned long long)agbno);
    int r = ag_check(fs, (uint32_t)agno);
    if (r < 0)
        return r;
    *off = ((agno * m->agblocks + agbno) << m->blocklog) + slot * m->inodesize;
    return IMGFMT_OK;
}

static bool inode_number_ok(const struct xfs_mount *m, uint64_t ino)
{
    uint64_t agno = ino >> (m->agblklog + m->inopblog);
    uint64_t agbno = (ino >> m->inopblog) & ((1ull << m->agblklog) - 1);
    return ino != 0 && agno < m->agcount && agbno < m->ags[agno].length;
}

/* Byte offset of count blocks at fsblock fsb if they lie inside one AG. */
static bool fsb_offset(const struct xfs_mount *m, uint64_t fsb, uint64_t count, uint64_t *off)
{
    uint64_t agno = fsb >> m->agblklog;
    uint64_t agbno = fsb & ((1ull << m->agblklog) - 1);
    if (agno >= m->agcount || count == 0 || agbno + count > m->ags[agno].length)
        return false;
    *off = (agno * m->agblocks + agbno) << m->blocklog;
    return true;
}

/* Byte offset of extent e of inode ip (number k in messages), checked
 * against its AG and the device. */
static int extent_offset(struct ifmt_fs *fs, const struct xfs_inode *ip, uint64_t k,
                         const struct xfs_extent *e, uint64_t *off)
{
    struct xfs_mount *m = xm(fs);
    uint64_t start, len = (uint64_t)e->count << m->blocklog;
    if (!fsb_offset(m, e->block, e->count, &start))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu extent %llu beyond the AG (AG %llu block "
                             "%llu, %u blocks)", (unsigned long long)ip->ino,
                             (unsigned long long)k, (unsigned long long)(e->block >> m->agblklog),
                             (unsigned long long)(e->block & ((1ull << m->agblklog) - 1)),
                             e->count);
    if (!ifmt_range_ok(start, len, fs->dev.size))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu extent %llu beyond the device (byte %llu, "
                             "%llu bytes)", (unsigned long long)ip->ino,
                             (unsigned long long)k, (unsigned long long)start,
                             (unsigned long long)len);
    *off = start;
    return IMGFMT_OK;
}

/* ------------------------------------------------------------------ */
/* Superblock and log                                                  */
/* ------------------------------------------------------------------ */

static int check_versions(struct ifmt_fs *fs, const uint8_t *sb, struct xfs_mount *m)
{
    uint16_t vn = ifmt_be16(sb + XFS_SB_VERSIONNUM);
    unsigned version = vn & XFS_SB_VERSION_NUMBITS;
    if (version != 4 && version != 5)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "xfs: superblock version %u not supported (only 4 and 5)",
                             version);
    if (!(vn & XFS_SB_VERSION_DIRV2BIT))
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "xfs: version 1 directories not supported");
    m->v5 = version == 5;
    m->ci = (vn & XFS_SB_VERSION_BORGBIT) != 0;
    /* Some old kernels wrote features2 one field late: both count. */
    uint32_t f2 = (vn & XFS_SB_VERSION_MOREBITS)
                      ? ifmt_be32(sb + XFS_SB_FEATURES2) | ifmt_be32(sb + XFS_SB_BAD_FEATURES2)
                      : 0;
    m->ftype = (f2 & XFS_FEAT2_FTYPE) != 0;
    if (!m->v5)
        return IMGFMT_OK;
    uint32_t inc = ifmt_be32(sb + XFS_SB_FEAT_INCOMPAT);
    static const struct { uint32_t bit; const char *name; } refused[] = {
        { XFS_INCOMPAT_NEEDSREPAIR, "needsrepair (xfs_repair must run first)" },
        { XFS_INCOMPAT_METADIR, "metadir (metadata directory tree)" },
        { XFS_INCOMPAT_ZONED, "zoned (zoned realtime device)" },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (inc & refused[i].bit)
            return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                                 "xfs: incompatible feature %s not supported",
                                 refused[i].name);
    if (inc & ~XFS_INCOMPAT_KNOWN)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "xfs: unknown incompatible features 0x%x not supported",
                             inc & ~XFS_INCOMPAT_KNOWN);
    m->ftype = (inc & XFS_INCOMPAT_FTYPE) != 0;
    m->nrext64 = (inc & XFS_INCOMPAT_NREXT64) != 0;
    return IMGFMT_OK;
}

static bool is_pow2_in(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

static unsigned log2_ceil(uint64_t v)
{
    unsigned l = 0;
    while ((1ull << l) < v)
        l++;
    return l;
}

static int check_geometry(struct ifmt_fs *fs, const uint8_t *sb, struct xfs_mount *m)
{
    m->blocksize = ifmt_be32(sb + XFS_SB_BLOCKSIZE);
    m->blocklog = sb[XFS_SB_BLOCKLOG];
    m->sectsize = ifmt_be16(sb + XFS_SB_SECTSIZE);
    m->inodesize = ifmt_be16(sb + XFS_SB_INODESIZE);
    m->inopblock = ifmt_be16(sb + XFS_SB_INOPBLOCK);
    m->inopblog = sb[XFS_SB_INOPBLOG];
    m->agblklog = sb[XFS_SB_AGBLKLOG];
    m->agblocks = ifmt_be32(sb + XFS_SB_AGBLOCKS);
    m->agcount = ifmt_be32(sb + XFS_SB_AGCOUNT);
    m->dblocks = ifmt_be64(sb + XFS_SB_DBLOCKS);
    unsigned dirblklog = sb[XFS_SB_DIRBLKLOG];
    const char *bad = NULL;
    if (!is_pow2_in(m->blocksize, 512, 65536) || (1u << m->blocklog) != m->blocksize)
        bad = "block size";
    else if (!is_pow2_in(m->sectsize, 512, m->blocksize))
        bad = "sector size";
    else if (!is_pow2_in(m->inodesize, 256, 2048) || m->inodesize > m->blocksize ||
             m->inopblock != m->blocksize / m->inodesize ||
             (1u << m->inopblog) != m->inopblock)
        bad = "inode size";
    else if (m->agblocks < 16 || m->agcount == 0 || m->agblklog != log2_ceil(m->agblocks))
        bad = "AG geometry";
    else if (m->dblocks <= (uint64_t)(m->agcount - 1) * m->agblocks ||
             m->dblocks > (uint64_t)m->agcount * m->agblocks ||
             m->dblocks > UINT64_MAX >> m->blocklog)
        bad = "block count";
    else if (m->blocklog + dirblklog > 16)
        bad = "directory block size";
    if (bad)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: superblock: bad %s", bad);
    m->dirblksize = m->blocksize << dirblklog;
    return IMGFMT_OK;
}

static void format_uuid(const uint8_t *u, char *out, size_t cap)
{
    snprintf(out, cap,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
             u[12], u[13], u[14], u[15]);
}

/* The cycle number of log sector s: data sectors start with it, record
 * headers carry it after their magic. */
static int log_cycle(struct ifmt_fs *fs, uint64_t log_off, uint64_t s, uint32_t *cycle)
{
    uint8_t b[8];
    int r = ifmt_fs_read(fs, b, sizeof b, log_off + s * 512, "log sector");
    if (r < 0)
        return r;
    *cycle = ifmt_be32(b) == XLOG_HEADER_MAGIC ? ifmt_be32(b + 4) : ifmt_be32(b);
    return IMGFMT_OK;
}

/* The log head: the first sector whose cycle differs from sector 0's
 * (the log is written in order, each lap with a cycle one higher). */
static int log_head(struct ifmt_fs *fs, uint64_t log_off, uint64_t n, uint64_t *head)
{
    uint32_t first, last, c;
    int r = log_cycle(fs, log_off, 0, &first);
    if (r == 0)
        r = log_cycle(fs, log_off, n - 1, &last);
    if (r < 0)
        return r;
    if (first == last) {
        *head = n;
        return IMGFMT_OK;
    }
    uint64_t lo = 0, hi = n - 1;     /* cycle(lo) == first, cycle(hi) != first */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((r = log_cycle(fs, log_off, mid, &c)) < 0)
            return r;
        if (c == first)
            lo = mid;
        else
            hi = mid;
    }
    *head = hi;
    return IMGFMT_OK;
}

/* Is the last record before the head an unmount record?  *clean says. */
static int log_last_record_clean(struct ifmt_fs *fs, uint64_t log_off, uint64_t n,
                                 uint64_t head, bool *clean)
{
    uint8_t h[512];
    *clean = false;
    for (uint64_t k = 1; k <= n && k <= XFS_LOG_SCAN_SECTORS; k++) {
        uint64_t s = (head + n - k) % n;
        int r = ifmt_fs_read(fs, h, sizeof h, log_off + s * 512, "log record");
        if (r < 0)
            return r;
        if (ifmt_be32(h) != XLOG_HEADER_MAGIC)
            continue;
        uint32_t version = ifmt_be32(h + 8), hsize = ifmt_be32(h + 320);
        uint64_t hblks = 1;
        if (version == 2 && hsize > XLOG_HEADER_CYCLE_SIZE)
            hblks = ifmt_div_round_up(hsize, XLOG_HEADER_CYCLE_SIZE);
        if (ifmt_be32(h + 40) != 1)
            return IMGFMT_OK;
        uint8_t op[12];
        r = ifmt_fs_read(fs, op, sizeof op, log_off + ((s + hblks) % n) * 512,
                         "log operation");
        if (r < 0)
            return r;
        *clean = (op[9] & XLOG_UNMOUNT_TRANS) != 0;
        return IMGFMT_OK;
    }
    return IMGFMT_OK;
}

static int check_log(struct ifmt_fs *fs, const uint8_t *sb)
{
    struct xfs_mount *m = xm(fs);
    uint64_t start = ifmt_be64(sb + XFS_SB_LOGSTART);
    uint64_t blocks = ifmt_be32(sb + XFS_SB_LOGBLOCKS);
    if (start == 0) {
        ifmt_fs_warn(fs, "xfs: external log: its state was not checked");
        return IMGFMT_OK;
    }
    uint64_t off;
    if (!fsb_offset(m, start, blocks, &off) ||
        !ifmt_range_ok(off, blocks << m->blocklog, fs->dev.size))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: superblock: log at block %llu (%llu blocks) out of range",
                             (unsigned long long)start, (unsigned long long)blocks);
    uint64_t n = (blocks << m->blocklog) / 512, head;
    bool clean;
    int r = log_head(fs, off, n, &head);
    if (r == 0)
        r = log_last_record_clean(fs, off, n, head, &clean);
    if (r < 0)
        return r;
    if (!clean)
        ifmt_fs_warn(fs, "xfs: the log is dirty (not cleanly unmounted): it is not "
                         "replayed, recent changes may be missing");
    return IMGFMT_OK;
}

static int xfs_mount_fs(struct ifmt_fs *fs)
{
    uint8_t sb[XFS_SB_V5_SIZE];
    int r = ifmt_fs_read(fs, sb, sizeof sb, 0, "superblock");
    if (r < 0)
        return r;
    if (ifmt_be32(sb) != XFS_SB_MAGIC)
        return ifmt_fs_error(fs, IMGFMT_E_UNKNOWN_FORMAT, "xfs: no superblock magic");
    struct xfs_mount *m = calloc(1, sizeof *m);
    if (!m)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "xfs: out of memory");
    fs->priv = m;
    if ((r = check_versions(fs, sb, m)) < 0 || (r = check_geometry(fs, sb, m)) < 0)
        return r;
    if ((r = ifmt_fs_charge(fs, (uint64_t)m->agcount * sizeof *m->ags, "xfs: AG table")) < 0)
        return r;
    if (!(m->ags = calloc(m->agcount, sizeof *m->ags)))
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "xfs: out of memory");
    for (uint32_t i = 0; i < m->agcount; i++)
        m->ags[i].length = ag_length(m, i);
    fs->root_id = ifmt_be64(sb + XFS_SB_ROOTINO);
    if (!inode_number_ok(m, fs->root_id))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: root inode %llu out of range",
                             (unsigned long long)fs->root_id);
    memcpy(fs->label, sb + XFS_SB_FNAME, 12);
    fs->label[12] = '\0';
    format_uuid(sb + XFS_SB_UUID, fs->uuid, sizeof fs->uuid);
    return check_log(fs, sb);
}

static void xfs_unmount_fs(struct ifmt_fs *fs)
{
    struct xfs_mount *m = xm(fs);
    if (m) {
        free(m->ags);
        for (unsigned i = 0; i < XFS_MAP_CACHE; i++)
            free(m->maps[i].ext);
    }
    free(m);
    fs->priv = NULL;
}

/* ------------------------------------------------------------------ */
/* Inodes                                                              */
/* ------------------------------------------------------------------ */

static enum imgfmt_file_type type_of_mode(uint32_t mode)
{
    switch (mode & 0170000) {
    case 0100000: return IMGFMT_FILE_REG;
    case 0040000: return IMGFMT_FILE_DIR;
    case 0120000: return IMGFMT_FILE_SYMLINK;
    case 0020000: return IMGFMT_FILE_CHR;
    case 0060000: return IMGFMT_FILE_BLK;
    case 0010000: return IMGFMT_FILE_FIFO;
    case 0140000: return IMGFMT_FILE_SOCK;
    default: return IMGFMT_FILE_UNKNOWN;
    }
}

static void fill_stat(const struct xfs_mount *m, const struct xfs_inode *ip, imgfmt_stat *st)
{
    const uint8_t *d = ip->raw;
    unsigned version = d[XFS_DI_VERSION];
    bool big = version == 3 && (ifmt_be64(d + XFS_DI_FLAGS2) & XFS_DIFLAG2_BIGTIME);
    memset(st, 0, sizeof *st);
    st->ino = ip->ino;
    st->mode = ifmt_be16(d + XFS_DI_MODE);
    st->type = type_of_mode(st->mode);
    st->uid = ifmt_be32(d + XFS_DI_UID);
    st->gid = ifmt_be32(d + XFS_DI_GID);
    st->nlink = version == 1 ? ifmt_be16(d + XFS_DI_ONLINK) : ifmt_be32(d + XFS_DI_NLINK);
    st->size = ip->size;
    xfs_timestamp(d + XFS_DI_ATIME, big, &st->atime.sec, &st->atime.nsec);
    xfs_timestamp(d + XFS_DI_MTIME, big, &st->mtime.sec, &st->mtime.nsec);
    xfs_timestamp(d + XFS_DI_CTIME, big, &st->ctime.sec, &st->ctime.nsec);
    if (version == 3)
        xfs_timestamp(d + XFS_DI_CRTIME, big, &st->btime.sec, &st->btime.nsec);
    if (ip->format == XFS_FMT_DEV && ip->fork_size >= 4) {
        uint32_t dev = ifmt_be32(ip->fork);
        st->rdev_major = dev >> 18;
        st->rdev_minor = dev & 0x3ffff;
    }
    uint64_t nblocks = ifmt_be64(d + XFS_DI_NBLOCKS);
    if (st->type == IMGFMT_FILE_REG && ip->format != XFS_FMT_LOCAL &&
        nblocks < ifmt_div_round_up(ip->size, m->blocksize))
        st->flags |= IMGFMT_STAT_SPARSE;
}

/* The fork format must suit the file type. */
static bool format_fits_type(unsigned fmt, enum imgfmt_file_type t)
{
    switch (t) {
    case IMGFMT_FILE_REG:
        return fmt == XFS_FMT_EXTENTS || fmt == XFS_FMT_BTREE || fmt == XFS_FMT_LOCAL;
    case IMGFMT_FILE_DIR:
    case IMGFMT_FILE_SYMLINK:
        return fmt == XFS_FMT_LOCAL || fmt == XFS_FMT_EXTENTS || fmt == XFS_FMT_BTREE;
    case IMGFMT_FILE_UNKNOWN:
        return false;
    default:
        return fmt == XFS_FMT_DEV;
    }
}

/* Check the core of the inode in ip->raw and locate its data fork. */
static int decode_inode(struct ifmt_fs *fs, struct xfs_inode *ip)
{
    struct xfs_mount *m = xm(fs);
    const uint8_t *d = ip->raw;
    unsigned long long ino = (unsigned long long)ip->ino;
    unsigned version = d[XFS_DI_VERSION];
    if (ifmt_be16(d) != XFS_DINODE_MAGIC)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: inode %llu: bad magic 0x%04x",
                             ino, ifmt_be16(d));
    if (m->v5 ? version != 3 : (version != 1 && version != 2))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: inode %llu: bad version %u",
                             ino, version);
    if (version == 3 && ifmt_be64(d + XFS_DI_INO) != ip->ino)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu: records number %llu", ino,
                             (unsigned long long)ifmt_be64(d + XFS_DI_INO));
    uint16_t mode = ifmt_be16(d + XFS_DI_MODE);
    if (mode == 0)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: inode %llu is free", ino);
    ip->format = d[XFS_DI_FORMAT];
    if (!format_fits_type(ip->format, type_of_mode(mode)))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu: mode 0%o with data fork format %u", ino,
                             mode, ip->format);
    size_t lit = version == 3 ? XFS_DI_LITERAL_V3 : XFS_DI_LITERAL_V2;
    size_t forkoff = (size_t)d[XFS_DI_FORKOFF] * 8;
    if (forkoff > m->inodesize - lit)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu: attribute fork offset %zu past the inode",
                             ino, forkoff);
    ip->fork = d + lit;
    ip->fork_size = forkoff ? forkoff : m->inodesize - lit;
    ip->flags = ifmt_be16(d + XFS_DI_FLAGS);
    ip->size = ifmt_be64(d + XFS_DI_SIZE);
    bool big = m->nrext64 && version == 3 &&
               (ifmt_be64(d + XFS_DI_FLAGS2) & XFS_DIFLAG2_NREXT64);
    ip->nextents = big ? ifmt_be64(d + XFS_DI_BIG_NEXTENTS) : ifmt_be32(d + XFS_DI_NEXTENTS);
    if (ip->size > INT64_MAX)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: inode %llu: size %llu too large",
                             ino, (unsigned long long)ip->size);
    if (ip->format == XFS_FMT_LOCAL && ip->size > ip->fork_size)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu: inline data of %llu bytes in a %zu-byte fork",
                             ino, (unsigned long long)ip->size, ip->fork_size);
    return IMGFMT_OK;
}

static void free_inode(struct ifmt_fs *fs, struct xfs_inode *ip)
{
    if (!ip)
        return;
    ifmt_fs_uncharge(fs, xm(fs)->inodesize + sizeof *ip + ip->ext_cap * sizeof *ip->ext);
    if (ip->shared)
        ip->shared->refs--;
    else
        free(ip->ext);
    free(ip->raw);
    free(ip);
}

static int xfs_open_node(struct ifmt_fs *fs, uint64_t id, struct ifmt_node *node)
{
    struct xfs_mount *m = xm(fs);
    uint64_t off = 0;
    node->priv = NULL;
    int r = inode_offset(fs, id, &off);
    if (r < 0)
        return r;
    if ((r = ifmt_fs_charge(fs, m->inodesize + sizeof(struct xfs_inode), "inode")) < 0)
        return r;
    struct xfs_inode *ip = calloc(1, sizeof *ip);
    if (ip)
        ip->raw = malloc(m->inodesize);
    if (!ip || !ip->raw) {
        if (ip)
            free(ip);
        ifmt_fs_uncharge(fs, m->inodesize + sizeof(struct xfs_inode));
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "xfs: out of memory");
    }
    ip->ino = id;
    r = ifmt_fs_read(fs, ip->raw, m->inodesize, off, "inode");
    if (r == 0)
        r = decode_inode(fs, ip);
    if (r < 0) {
        free_inode(fs, ip);
        return r;
    }
    node->id = id;
    fill_stat(m, ip, &node->st);
    node->priv = ip;
    return IMGFMT_OK;
}

static void xfs_close_node(struct ifmt_fs *fs, struct ifmt_node *node)
{
    free_inode(fs, node->priv);
    node->priv = NULL;
}

/* ------------------------------------------------------------------ */
/* Extent lists                                                        */
/* ------------------------------------------------------------------ */

static int add_extent(struct ifmt_fs *fs, struct xfs_inode *ip, const uint8_t *rec)
{
    if (ip->next >= ip->nextents)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu: block map holds more than its %llu extents",
                             (unsigned long long)ip->ino, (unsigned long long)ip->nextents);
    if (ip->next == ip->ext_cap) {
        uint64_t cap = ip->ext_cap ? ip->ext_cap * 2 : 16;
        if (cap > ip->nextents)
            cap = ip->nextents;
        int r = ifmt_fs_charge(fs, (cap - ip->ext_cap) * sizeof *ip->ext, "xfs: extent list");
        if (r < 0)
            return r;
        struct xfs_extent *n = realloc(ip->ext, cap * sizeof *n);
        if (!n) {
            ifmt_fs_uncharge(fs, (cap - ip->ext_cap) * sizeof *ip->ext);
            return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "xfs: out of memory");
        }
        ip->ext = n;
        ip->ext_cap = cap;
    }
    struct xfs_extent *e = &ip->ext[ip->next];
    xfs_extent_unpack(rec, e);
    const struct xfs_extent *prev = ip->next ? e - 1 : NULL;
    /* Order is checked here, not later: a tree that leads to the same
     * leaf twice fails on the second visit. */
    if ((prev && e->offset < prev->offset + prev->count) ||
        e->offset + e->count > (uint64_t)INT64_MAX >> xm(fs)->blocklog)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu extent %llu overlaps the one before or ends "
                             "past the largest file offset", (unsigned long long)ip->ino,
                             (unsigned long long)ip->next);
    ip->next++;
    return IMGFMT_OK;
}

static int bmbt_walk(struct ifmt_fs *fs, struct xfs_inode *ip, uint64_t fsb,
                     unsigned level);

/* Visit the children of one B+ tree node: ptrs start after maxrecs keys. */
static int bmbt_children(struct ifmt_fs *fs, struct xfs_inode *ip, const uint8_t *ptrs,
                         unsigned numrecs, unsigned child_level)
{
    for (unsigned i = 0; i < numrecs; i++) {
        int r = bmbt_walk(fs, ip, ifmt_be64(ptrs + 8 * (size_t)i), child_level);
        if (r < 0)
            return r;
    }
    return IMGFMT_OK;
}

/* One block of the block-map tree at fsblock fsb, expected at level. */
static int bmbt_walk(struct ifmt_fs *fs, struct xfs_inode *ip, uint64_t fsb, unsigned level)
{
    struct xfs_mount *m = xm(fs);
    uint64_t off;
    if (!fsb_offset(m, fsb, 1, &off) || !ifmt_range_ok(off, m->blocksize, fs->dev.size))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu: block map pointer %llu beyond the AG or device",
                             (unsigned long long)ip->ino, (unsigned long long)fsb);
    int r;
    uint8_t *b = malloc(m->blocksize);
    if (!b)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "xfs: out of memory");
    if ((r = ifmt_fs_read(fs, b, m->blocksize, off, "block map block")) < 0)
        goto out;
    size_t hdr = m->v5 ? XFS_BMBT_HDR_V5 : XFS_BMBT_HDR_V4;
    unsigned numrecs = ifmt_be16(b + 6), maxrecs = (unsigned)((m->blocksize - hdr) / 16);
    if (ifmt_be32(b) != (m->v5 ? XFS_BMAP_CRC_MAGIC : XFS_BMAP_MAGIC) ||
        ifmt_be16(b + 4) != level || numrecs == 0 || numrecs > maxrecs) {
        r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                          "xfs: inode %llu: bad block map block %llu (magic 0x%08x, level "
                          "%u, expected %u, %u records)", (unsigned long long)ip->ino,
                          (unsigned long long)fsb, ifmt_be32(b), ifmt_be16(b + 4), level,
                          numrecs);
        goto out;
    }
    if (level == 0) {
        for (unsigned i = 0; i < numrecs && r == 0; i++)
            r = add_extent(fs, ip, b + hdr + 16 * (size_t)i);
    } else {
        r = bmbt_children(fs, ip, b + hdr + 8 * (size_t)maxrecs, numrecs, level - 1);
    }
out:
    free(b);
    return r;
}

/* The tree root in the inode: u16 level, u16 numrecs, keys, pointers. */
static int bmbt_load(struct ifmt_fs *fs, struct xfs_inode *ip)
{
    if (ip->fork_size < 4 + 16)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: inode %llu: block map root too small",
                             (unsigned long long)ip->ino);
    unsigned level = ifmt_be16(ip->fork), numrecs = ifmt_be16(ip->fork + 2);
    unsigned maxrecs = (unsigned)((ip->fork_size - 4) / 16);
    if (level == 0 || level > XFS_BMBT_MAX_DEPTH || numrecs == 0 || numrecs > maxrecs)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu: bad block map root (level %u, %u records)",
                             (unsigned long long)ip->ino, level, numrecs);
    return bmbt_children(fs, ip, ip->fork + 4 + 8 * (size_t)maxrecs, numrecs, level - 1);
}

/* Extents inside their AGs and the device (order: add_extent). */
static int check_extents(struct ifmt_fs *fs, struct xfs_inode *ip)
{
    uint64_t total = 0, off;
    for (uint64_t k = 0; k < ip->next; k++) {
        int r = extent_offset(fs, ip, k, &ip->ext[k], &off);
        if (r < 0)
            return r;
        total += ip->ext[k].count;
    }
    if (type_of_mode(ifmt_be16(ip->raw + XFS_DI_MODE)) != IMGFMT_FILE_REG &&
        total > fs->dev.size >> xm(fs)->blocklog)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: inode %llu maps %llu blocks, more than the device",
                             (unsigned long long)ip->ino, (unsigned long long)total);
    return IMGFMT_OK;
}

/* A directory's list from the cache, if there. */
static bool borrow_map(struct xfs_mount *m, struct xfs_inode *ip)
{
    for (unsigned i = 0; i < XFS_MAP_CACHE; i++) {
        struct xfs_extmap *x = &m->maps[i];
        if (x->ext && x->ino == ip->ino) {
            x->refs++;
            ip->shared = x;
            ip->ext = x->ext;
            ip->next = x->n;
            ip->loaded = true;
            return true;
        }
    }
    return false;
}

/* Hand ip's freshly loaded list to the cache (a slot no open inode uses). */
static void keep_map(struct ifmt_fs *fs, struct xfs_inode *ip)
{
    struct xfs_mount *m = xm(fs);
    for (unsigned k = 0; k < XFS_MAP_CACHE; k++) {
        struct xfs_extmap *x = &m->maps[m->map_clock++ % XFS_MAP_CACHE];
        if (x->refs)
            continue;
        free(x->ext);
        ifmt_fs_uncharge(fs, x->cap * sizeof *x->ext);
        *x = (struct xfs_extmap){ ip->ino, ip->ext, ip->next, ip->ext_cap, 1 };
        ip->shared = x;
        ip->ext_cap = 0;
        return;
    }
}

static int load_extents(struct ifmt_fs *fs, struct xfs_inode *ip)
{
    if (ip->loaded)
        return IMGFMT_OK;
    bool dir = type_of_mode(ifmt_be16(ip->raw + XFS_DI_MODE)) == IMGFMT_FILE_DIR;
    if (dir && ip->format != XFS_FMT_LOCAL && borrow_map(xm(fs), ip))
        return IMGFMT_OK;
    int r = IMGFMT_OK;
    if (ip->format == XFS_FMT_EXTENTS) {
        if (ip->nextents > ip->fork_size / 16)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "xfs: inode %llu: %llu extents do not fit in the inode",
                                 (unsigned long long)ip->ino,
                                 (unsigned long long)ip->nextents);
        for (uint64_t i = 0; i < ip->nextents && r == 0; i++)
            r = add_extent(fs, ip, ip->fork + 16 * i);
    } else if (ip->format == XFS_FMT_BTREE) {
        r = bmbt_load(fs, ip);
    }
    if (r == 0)
        r = check_extents(fs, ip);
    if (r == 0) {
        ip->loaded = true;
        if (dir && ip->ext)
            keep_map(fs, ip);
    }
    return r;
}

/* The first extent ending after logical block blk (ip->next if none). */
static uint64_t find_extent(const struct xfs_inode *ip, uint64_t blk)
{
    uint64_t lo = 0, hi = ip->next;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ip->ext[mid].offset + ip->ext[mid].count <= blk)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Read len bytes at logical byte off of ip's data fork: holes and
 * unwritten extents read as zeros, each mapped piece in one device read. */
static int fork_read(struct ifmt_fs *fs, struct xfs_inode *ip, uint8_t *buf, size_t len,
                     uint64_t off)
{
    struct xfs_mount *m = xm(fs);
    if (ip->format == XFS_FMT_LOCAL) {
        if (off > ip->fork_size || len > ip->fork_size - off)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "xfs: inode %llu: read past its inline data",
                                 (unsigned long long)ip->ino);
        memcpy(buf, ip->fork + off, len);
        return IMGFMT_OK;
    }
    int r = load_extents(fs, ip);
    if (r < 0)
        return r;
    uint64_t k = find_extent(ip, off >> m->blocklog);
    while (len > 0) {
        const struct xfs_extent *e = k < ip->next ? &ip->ext[k] : NULL;
        uint64_t start = e ? e->offset << m->blocklog : UINT64_MAX;
        uint64_t end = e ? (e->offset + e->count) << m->blocklog : UINT64_MAX;
        size_t n;
        if (off < start) {                          /* a hole */
            n = start - off < len ? (size_t)(start - off) : len;
            memset(buf, 0, n);
        } else {
            n = end - off < len ? (size_t)(end - off) : len;
            uint64_t dev;
            if ((r = extent_offset(fs, ip, k, e, &dev)) < 0)
                return r;
            if (e->unwritten)
                memset(buf, 0, n);
            else if ((r = ifmt_fs_read(fs, buf, n, dev + (off - start), "file data")) < 0)
                return r;
            k++;
        }
        buf += n;
        off += n;
        len -= n;
    }
    return IMGFMT_OK;
}

static int xfs_read(struct ifmt_fs *fs, struct ifmt_node *node, void *buf, size_t len,
                    uint64_t off)
{
    struct xfs_inode *ip = node->priv;
    if (ip->flags & XFS_DIFLAG_REALTIME)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "xfs: inode %llu is a realtime file (data on the realtime "
                             "device): not supported", (unsigned long long)ip->ino);
    return fork_read(fs, ip, buf, len, off);
}

/* ------------------------------------------------------------------ */
/* Symlinks                                                            */
/* ------------------------------------------------------------------ */

/* Remote target: v5 blocks each start with an "XSLM" header. */
static int symlink_remote(struct ifmt_fs *fs, struct xfs_inode *ip, char *out)
{
    struct xfs_mount *m = xm(fs);
    if (!m->v5)
        return fork_read(fs, ip, (uint8_t *)out, (size_t)ip->size, 0);
    size_t per = m->blocksize - XFS_SYMLINK_HDR_V5, done = 0;
    uint8_t *b = malloc(m->blocksize);
    if (!b)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "xfs: out of memory");
    int r = IMGFMT_OK;
    for (uint64_t blk = 0; done < ip->size && r == 0; blk++) {
        size_t want = ip->size - done < per ? (size_t)(ip->size - done) : per;
        r = fork_read(fs, ip, b, m->blocksize, blk << m->blocklog);
        if (r == 0 && (ifmt_be32(b) != XFS_SYMLINK_MAGIC || ifmt_be32(b + 4) != done ||
                       ifmt_be32(b + 8) != want))
            r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                              "xfs: symlink inode %llu block %llu: bad header",
                              (unsigned long long)ip->ino, (unsigned long long)blk);
        if (r == 0)
            memcpy(out + done, b + XFS_SYMLINK_HDR_V5, want);
        done += want;
    }
    free(b);
    return r;
}

static int xfs_readlink(struct ifmt_fs *fs, struct ifmt_node *node, char **out, size_t *len)
{
    struct xfs_inode *ip = node->priv;
    if (ip->size == 0 || ip->size > XFS_SYMLINK_MAXLEN)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: symlink inode %llu: length %llu",
                             (unsigned long long)ip->ino, (unsigned long long)ip->size);
    char *t = malloc((size_t)ip->size + 1);
    if (!t)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "xfs: out of memory");
    int r = ip->format == XFS_FMT_LOCAL ? fork_read(fs, ip, (uint8_t *)t, (size_t)ip->size, 0)
                                        : symlink_remote(fs, ip, t);
    if (r < 0) {
        free(t);
        return r;
    }
    t[ip->size] = '\0';
    *out = t;
    *len = (size_t)ip->size;
    return IMGFMT_OK;
}

/* ------------------------------------------------------------------ */
/* Directories                                                         */
/* ------------------------------------------------------------------ */

static enum imgfmt_file_type type_of_ftype(unsigned ft)
{
    static const enum imgfmt_file_type map[] = {
        IMGFMT_FILE_UNKNOWN, IMGFMT_FILE_REG, IMGFMT_FILE_DIR, IMGFMT_FILE_CHR,
        IMGFMT_FILE_BLK, IMGFMT_FILE_FIFO, IMGFMT_FILE_SOCK, IMGFMT_FILE_SYMLINK,
    };
    return ft < sizeof map / sizeof map[0] ? map[ft] : IMGFMT_FILE_UNKNOWN;
}

static bool is_dot_name(const uint8_t *n, size_t len)
{
    return (len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.');
}

/* Hand one entry to fn after checking its inode number. */
static int emit_entry(struct ifmt_fs *fs, const struct xfs_inode *dir, const uint8_t *name,
                      size_t len, uint64_t ino, unsigned ftype, ifmt_dirent_fn *fn,
                      void *opaque)
{
    if (!inode_number_ok(xm(fs), ino))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: directory inode %llu: entry '%.*s' has bad inode "
                             "number %llu", (unsigned long long)dir->ino, (int)len,
                             (const char *)name, (unsigned long long)ino);
    int r = fn(opaque, (const char *)name, len, ino, type_of_ftype(ftype));
    return r > 0 ? 1 : r;
}

/* Shortform: u8 count, u8 i8count, parent; entries u8 namelen, u16
 * offset, name, [ftype], inode (4 bytes, or 8 if i8count). */
static int readdir_short(struct ifmt_fs *fs, struct xfs_inode *dir, ifmt_dirent_fn *fn,
                         void *opaque)
{
    const uint8_t *p = dir->fork;
    size_t size = (size_t)dir->size;
    bool ftype = xm(fs)->ftype;
    if (size < 2)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "xfs: directory inode %llu: too short",
                             (unsigned long long)dir->ino);
    unsigned count = p[0];
    size_t inosize = p[1] ? 8 : 4, pos = 2 + inosize;
    for (unsigned i = 0; i < count; i++) {
        if (pos + 3 > size)
            goto past;
        size_t len = p[pos];
        size_t esize = 3 + len + (ftype ? 1 : 0) + inosize;
        if (len == 0 || pos + esize > size)
            goto past;
        const uint8_t *name = p + pos + 3, *ip = name + len + (ftype ? 1 : 0);
        uint64_t ino = inosize == 8 ? ifmt_be64(ip) : ifmt_be32(ip);
        int r = emit_entry(fs, dir, name, len, ino, ftype ? name[len] : 0, fn, opaque);
        if (r != 0)
            return r < 0 ? r : 0;
        pos += esize;
    }
    return IMGFMT_OK;
past:
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                         "xfs: directory inode %llu: shortform entry at byte %zu runs past "
                         "the %zu-byte directory", (unsigned long long)dir->ino, pos, size);
}

/* Where the entries of data block b end (block form: before the leaf
 * array and tail); 0 if the magic is wrong. */
static size_t data_block_end(const struct xfs_mount *m, const uint8_t *b)
{
    uint32_t magic = ifmt_be32(b);
    if (magic == (m->v5 ? XFS_DIR3_DATA_MAGIC : XFS_DIR2_DATA_MAGIC))
        return m->dirblksize;
    if (magic != (m->v5 ? XFS_DIR3_BLOCK_MAGIC : XFS_DIR2_BLOCK_MAGIC))
        return 0;
    uint64_t count = ifmt_be32(b + m->dirblksize - 8);
    size_t hdr = m->v5 ? XFS_DIR2_DATA_HDR_V5 : XFS_DIR2_DATA_HDR_V4;
    if (count > (m->dirblksize - 8 - hdr) / 8)
        return 0;
    return m->dirblksize - 8 - 8 * (size_t)count;
}

/* Decode the entry at pos of a data block; *size 0 for a free region.
 * CORRUPT when it runs past end. */
static int data_entry(struct ifmt_fs *fs, const struct xfs_inode *dir, const uint8_t *b,
                      size_t pos, size_t end, uint64_t db, size_t *size)
{
    if (end - pos >= 4 && ifmt_be16(b + pos) == XFS_DIR2_FREE_TAG) {
        size_t len = ifmt_be16(b + pos + 2);
        if (len >= 8 && len % 8 == 0 && len <= end - pos) {
            *size = len;
            return 0;
        }
    } else if (end - pos >= 16 && b[pos + 8] != 0) {
        size_t len = xfs_dir_entry_size(b[pos + 8], xm(fs)->ftype);
        if (len <= end - pos) {
            *size = len;
            return 1;
        }
    }
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                         "xfs: directory inode %llu block %llu: entry at byte %zu runs past "
                         "the block", (unsigned long long)dir->ino, (unsigned long long)db,
                         pos);
}

static int parse_data_block(struct ifmt_fs *fs, struct xfs_inode *dir, const uint8_t *b,
                            uint64_t db, ifmt_dirent_fn *fn, void *opaque)
{
    struct xfs_mount *m = xm(fs);
    size_t end = data_block_end(m, b);
    if (end == 0)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: directory inode %llu block %llu: bad magic 0x%08x",
                             (unsigned long long)dir->ino, (unsigned long long)db,
                             ifmt_be32(b));
    bool ftype = m->ftype;
    for (size_t pos = m->v5 ? XFS_DIR2_DATA_HDR_V5 : XFS_DIR2_DATA_HDR_V4, size; pos < end;
         pos += size) {
        int kind = data_entry(fs, dir, b, pos, end, db, &size);
        if (kind < 0)
            return kind;
        if (kind == 0)
            continue;
        const uint8_t *name = b + pos + 9;
        size_t len = b[pos + 8];
        if (is_dot_name(name, len))
            continue;
        int r = emit_entry(fs, dir, name, len, ifmt_be64(b + pos), ftype ? name[len] : 0,
                           fn, opaque);
        if (r != 0)
            return r;
    }
    return IMGFMT_OK;
}

/* Data blocks [first, last) of dir through buf (per directory blocks). */
static int readdir_run(struct ifmt_fs *fs, struct xfs_inode *dir, uint8_t *buf, uint64_t per,
                       uint64_t first, uint64_t last, ifmt_dirent_fn *fn, void *opaque)
{
    struct xfs_mount *m = xm(fs);
    for (uint64_t db = first; db < last; db += per) {
        uint64_t n = last - db < per ? last - db : per;
        int r = fork_read(fs, dir, buf, (size_t)(n * m->dirblksize), db * m->dirblksize);
        for (uint64_t i = 0; i < n && r == 0; i++)
            r = parse_data_block(fs, dir, buf + i * m->dirblksize, db + i, fn, opaque);
        if (r != 0)
            return r;
    }
    return IMGFMT_OK;
}

/* Every directory block below XFS_DIR2_LEAF_OFFSET that an extent maps. */
static int readdir_blocks(struct ifmt_fs *fs, struct xfs_inode *dir, ifmt_dirent_fn *fn,
                          void *opaque)
{
    struct xfs_mount *m = xm(fs);
    int r = load_extents(fs, dir);
    if (r < 0)
        return r;
    /* Batches of up to XFS_READ_RUN bytes, no bigger than the data. */
    uint64_t per = XFS_READ_RUN / m->dirblksize, data = dir->size / m->dirblksize + 1;
    per = data < per ? data : per;
    uint8_t *buf = malloc((size_t)(per * m->dirblksize));
    if (!buf)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "xfs: out of memory");
    uint64_t done = 0;   /* directory blocks below this one were parsed */
    for (uint64_t k = 0; k < dir->next && r == 0; k++) {
        uint64_t start = dir->ext[k].offset << m->blocklog;
        uint64_t end = (dir->ext[k].offset + dir->ext[k].count) << m->blocklog;
        if (start >= XFS_DIR2_LEAF_OFFSET)
            break;
        if (end > XFS_DIR2_LEAF_OFFSET)
            end = XFS_DIR2_LEAF_OFFSET;
        uint64_t first = start / m->dirblksize, last = ifmt_div_round_up(end, m->dirblksize);
        if (first < done)
            first = done;
        if (first < last)
            r = readdir_run(fs, dir, buf, per, first, last, fn, opaque);
        done = last > done ? last : done;
    }
    free(buf);
    return r < 0 ? r : IMGFMT_OK;
}

static int xfs_readdir(struct ifmt_fs *fs, struct ifmt_node *node, ifmt_dirent_fn *fn,
                       void *opaque)
{
    struct xfs_inode *dir = node->priv;
    int r = dir->format == XFS_FMT_LOCAL ? readdir_short(fs, dir, fn, opaque)
                                         : readdir_blocks(fs, dir, fn, opaque);
    return r < 0 ? r : IMGFMT_OK;
}

/* --- lookup through the hash-sorted leaf entries --- */

struct name_match {
    const uint8_t *name;
    size_t len;
    uint64_t ino;
    enum imgfmt_file_type type;
    bool found;
};

static int match_entry(void *opaque, const char *name, size_t len, uint64_t id,
                       enum imgfmt_file_type type)
{
    struct name_match *nm = opaque;
    if (len != nm->len || memcmp(name, nm->name, len) != 0)
        return 0;
    nm->ino = id;
    nm->type = type;
    nm->found = true;
    return 1;
}

struct dir_lookup {
    struct xfs_inode *dir;
    struct name_match *nm;
    uint32_t hash;
    uint8_t *blk;          /* one directory block */
    uint8_t *data;         /* the data block last read */
    uint64_t data_db;      /* its number, UINT64_MAX if none */
};

/* Does the data entry at byte address addr*8 carry the name? */
static int check_candidate(struct ifmt_fs *fs, struct dir_lookup *lk, uint64_t addr)
{
    struct xfs_mount *m = xm(fs);
    uint64_t byte = addr * 8, db = byte / m->dirblksize;
    size_t pos = (size_t)(byte % m->dirblksize);
    if (byte >= XFS_DIR2_LEAF_OFFSET)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: directory inode %llu: leaf address %llu past the data",
                             (unsigned long long)lk->dir->ino, (unsigned long long)addr);
    if (lk->data_db != db) {
        lk->data_db = UINT64_MAX;
        int r = fork_read(fs, lk->dir, lk->data, m->dirblksize, db * m->dirblksize);
        if (r < 0)
            return r;
        lk->data_db = db;
    }
    size_t end = data_block_end(m, lk->data), size;
    size_t hdr = m->v5 ? XFS_DIR2_DATA_HDR_V5 : XFS_DIR2_DATA_HDR_V4;
    if (end == 0 || pos < hdr || pos >= end)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: directory inode %llu: leaf address %llu not an entry",
                             (unsigned long long)lk->dir->ino, (unsigned long long)addr);
    int kind = data_entry(fs, lk->dir, lk->data, pos, end, db, &size);
    if (kind <= 0)
        return kind;
    const uint8_t *e = lk->data + pos;
    size_t len = e[8];
    if (len != lk->nm->len || memcmp(e + 9, lk->nm->name, len) != 0)
        return 0;
    if (!inode_number_ok(m, ifmt_be64(e)))
        return emit_entry(fs, lk->dir, e + 9, len, ifmt_be64(e), 0, match_entry, lk->nm);
    lk->nm->ino = ifmt_be64(e);
    lk->nm->type = type_of_ftype(m->ftype ? e[9 + len] : 0);
    lk->nm->found = true;
    return 1;
}

/* Entries (u32 hash, u32 address) sorted by hash: try those with ours.
 * 1 found, 0 not here, 2 the run reaches the end (look in the next leaf). */
static int search_leaf_entries(struct ifmt_fs *fs, struct dir_lookup *lk, const uint8_t *ents,
                               size_t count)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ifmt_be32(ents + 8 * mid) < lk->hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < count && ifmt_be32(ents + 8 * lo) == lk->hash; lo++) {
        uint32_t addr = ifmt_be32(ents + 8 * lo + 4);
        int r = addr ? check_candidate(fs, lk, addr) : 0;
        if (r != 0)
            return r;
    }
    return lo == count ? 2 : 0;
}

static int read_dir_block(struct ifmt_fs *fs, struct dir_lookup *lk, uint64_t dablk)
{
    struct xfs_mount *m = xm(fs);
    if (dablk > (XFS_DIR2_LEAF_OFFSET * 4) >> m->blocklog)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: directory inode %llu: block %llu out of range",
                             (unsigned long long)lk->dir->ino, (unsigned long long)dablk);
    return fork_read(fs, lk->dir, lk->blk, m->dirblksize, dablk << m->blocklog);
}

/* From the node block in lk->blk down to a leaf, following the first
 * entry whose hash is >= ours. */
static int descend_nodes(struct ifmt_fs *fs, struct dir_lookup *lk)
{
    struct xfs_mount *m = xm(fs);
    size_t hdr = m->v5 ? XFS_DA_HDR_V5 : XFS_DA_HDR_V4, cnt_at = hdr - (m->v5 ? 8 : 4);
    uint16_t node_magic = m->v5 ? XFS_DA3_NODE_MAGIC : XFS_DA_NODE_MAGIC;
    for (unsigned depth = 0; ifmt_be16(lk->blk + 8) == node_magic; depth++) {
        size_t count = ifmt_be16(lk->blk + cnt_at);
        if (depth >= XFS_DA_MAX_DEPTH || count == 0 || count > (m->dirblksize - hdr) / 8)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "xfs: directory inode %llu: bad node block (%zu entries, "
                                 "depth %u)", (unsigned long long)lk->dir->ino, count, depth);
        const uint8_t *ents = lk->blk + hdr;
        size_t i = 0;
        while (i + 1 < count && ifmt_be32(ents + 8 * i) < lk->hash)
            i++;
        int r = read_dir_block(fs, lk, ifmt_be32(ents + 8 * i + 4));
        if (r < 0)
            return r;
    }
    return IMGFMT_OK;
}

/* Leaf and node directories: the index starts at XFS_DIR2_LEAF_OFFSET. */
static int lookup_leaf(struct ifmt_fs *fs, struct dir_lookup *lk)
{
    struct xfs_mount *m = xm(fs);
    size_t hdr = m->v5 ? XFS_DA_HDR_V5 : XFS_DA_HDR_V4, cnt_at = hdr - (m->v5 ? 8 : 4);
    int r = read_dir_block(fs, lk, XFS_DIR2_LEAF_OFFSET >> m->blocklog);
    if (r == 0)
        r = descend_nodes(fs, lk);
    for (unsigned hop = 0; r == 0; hop++) {
        uint16_t magic = ifmt_be16(lk->blk + 8);
        size_t count = ifmt_be16(lk->blk + cnt_at);
        bool leaf1 = magic == (m->v5 ? XFS_DIR3_LEAF1_MAGIC : XFS_DIR2_LEAF1_MAGIC);
        bool leafn = magic == (m->v5 ? XFS_DIR3_LEAFN_MAGIC : XFS_DIR2_LEAFN_MAGIC);
        if ((!leaf1 && !leafn) || count > (m->dirblksize - hdr) / 8 || hop >= XFS_LEAF_HOPS)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "xfs: directory inode %llu: bad leaf block (magic 0x%04x, "
                                 "%zu entries)", (unsigned long long)lk->dir->ino, magic,
                                 count);
        r = search_leaf_entries(fs, lk, lk->blk + hdr, count);
        uint32_t forw = ifmt_be32(lk->blk);
        if (r != 2 || !leafn || forw == 0)
            break;
        r = read_dir_block(fs, lk, forw);
    }
    return r < 0 ? r : IMGFMT_OK;
}

/* Block directories: the leaf array sits before the tail of block 0. */
static int lookup_block(struct ifmt_fs *fs, struct dir_lookup *lk)
{
    struct xfs_mount *m = xm(fs);
    int r = read_dir_block(fs, lk, 0);
    if (r < 0)
        return r;
    uint32_t magic = ifmt_be32(lk->blk);
    size_t end = data_block_end(m, lk->blk);
    if (end == 0 || magic != (m->v5 ? XFS_DIR3_BLOCK_MAGIC : XFS_DIR2_BLOCK_MAGIC))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "xfs: directory inode %llu: bad block magic 0x%08x",
                             (unsigned long long)lk->dir->ino, magic);
    memcpy(lk->data, lk->blk, m->dirblksize);
    lk->data_db = 0;
    r = search_leaf_entries(fs, lk, lk->blk + end, ifmt_be32(lk->blk + m->dirblksize - 8));
    return r < 0 ? r : IMGFMT_OK;
}

static int lookup_hashed(struct ifmt_fs *fs, struct xfs_inode *dir, struct name_match *nm)
{
    struct xfs_mount *m = xm(fs);
    int r = load_extents(fs, dir);
    if (r < 0)
        return r;
    struct dir_lookup lk = { dir, nm, xfs_da_hashname(nm->name, nm->len), NULL, NULL,
                             UINT64_MAX };
    lk.blk = malloc(m->dirblksize);
    lk.data = malloc(m->dirblksize);
    if (!lk.blk || !lk.data) {
        r = ifmt_fs_error(fs, IMGFMT_E_NOMEM, "xfs: out of memory");
    } else {
        uint64_t leaf = XFS_DIR2_LEAF_OFFSET >> m->blocklog;
        uint64_t k = find_extent(dir, leaf);
        bool has_leaf = k < dir->next && dir->ext[k].offset <= leaf;
        r = has_leaf ? lookup_leaf(fs, &lk) : lookup_block(fs, &lk);
    }
    free(lk.blk);
    free(lk.data);
    return r;
}

static int xfs_lookup(struct ifmt_fs *fs, struct ifmt_node *node, const char *name,
                      size_t name_len, uint64_t *id, enum imgfmt_file_type *type)
{
    struct xfs_inode *dir = node->priv;
    struct name_match nm = { (const uint8_t *)name, name_len, 0, IMGFMT_FILE_UNKNOWN, false };
    int r;
    if (name_len == 0 || name_len > 255)
        return IMGFMT_E_NOT_FOUND;
    if (dir->format == XFS_FMT_LOCAL || xm(fs)->ci)
        r = xfs_readdir(fs, node, match_entry, &nm);
    else
        r = lookup_hashed(fs, dir, &nm);
    if (r < 0)
        return r;
    if (!nm.found)
        return IMGFMT_E_NOT_FOUND;
    *id = nm.ino;
    *type = nm.type;
    return IMGFMT_OK;
}

static bool xfs_handles(enum imgfmt_fs_type t)
{
    return t == IMGFMT_FS_XFS;
}

const struct ifmt_fs_driver ifmt_xfs_driver = {
    .name = "xfs",
    .handles = xfs_handles,
    .mount = xfs_mount_fs,
    .unmount = xfs_unmount_fs,
    .open_node = xfs_open_node,
    .close_node = xfs_close_node,
    .readdir = xfs_readdir,
    .lookup = xfs_lookup,
    .read = xfs_read,
    .readlink = xfs_readlink,
};
