/*
 * ext4.c -- the read-only ext2/3/4 driver.
 *
 * Mount reads the superblock and caches the whole group descriptor table
 * (classic or meta_bg layout, 32- or 64-byte descriptors).  A node is one
 * inode, copied; its block map (extent tree of any depth, or the ext2/3
 * direct/indirect/double/triple pointers) is decoded on first use into a
 * sorted list of runs, so file reads and directory scans become a few big
 * device reads.  Directories are read linearly (htree index blocks hide
 * behind entries of inode 0); inline data lives in i_block and the
 * "system.data" in-inode attribute.  The journal is never replayed.
 *
 * Hostile input: every field is range-checked; extent nodes must carry the
 * depth their parent implies (so a loop ends at once), non-root nodes must
 * be non-empty and extents strictly increasing (so a shared subtree ends at
 * its first extent), indirect-block reads are capped by the device size,
 * and the decoded map is charged against the metadata cap.
 */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "fs/ext4-format.h"
#include "fs/fs.h"

struct ext4_run {
    uint64_t lblk, pblk, len;   /* logical block, device block, blocks */
    bool unwritten;             /* reads as zeros */
};

struct ext4_map {
    struct ext4_run *runs;
    size_t n, cap;
};

struct ext4 {
    uint32_t block_size, inode_size, desc_size;
    uint32_t inodes_per_group, blocks_per_group;
    uint32_t compat, incompat, ro_compat;
    uint32_t first_meta_bg, backup_bgs[2];
    uint32_t cluster_size;
    uint64_t blocks_count, inodes_count, first_data_block, groups, dev_blocks;
    bool group_csum;             /* INODE_UNINIT / itable_unused are meaningful */
    uint8_t *gdt;                /* groups * desc_size bytes */
    uint64_t gdt_bytes;
};

struct ext4_inode {
    uint64_t ino;
    uint8_t *raw;                /* inode_size bytes, right after the struct */
    uint32_t flags;
    uint64_t size;
    uint64_t charged;            /* struct + raw + map */
    bool mapped;
    struct ext4_map map;
};

#define EXT4_DIR_CHUNK (256u << 10)  /* directory blocks read per device read */
#define EXT4_PATH_MAX 4096u

/* ------------------------------------------------------------------ */
/* Mount                                                               */
/* ------------------------------------------------------------------ */

static bool ext4_handles(enum imgfmt_fs_type t)
{
    return t == IMGFMT_FS_EXT2 || t == IMGFMT_FS_EXT3 || t == IMGFMT_FS_EXT4;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int parse_sizes(struct ifmt_fs *fs, struct ext4 *e, const uint8_t *sb)
{
    uint32_t log_bs = ifmt_le32(sb + EXT4_SB_LOG_BLOCK_SIZE);
    if (log_bs > 6)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ext4: block size 1024 << %u out of range (at most 64 KiB)",
                             log_bs);
    e->block_size = 1024u << log_bs;
    e->cluster_size = e->block_size;
    if (e->ro_compat & EXT4_RO_COMPAT_BIGALLOC) {
        uint32_t log_cs = ifmt_le32(sb + EXT4_SB_LOG_CLUSTER_SIZE);
        if (log_cs < log_bs || log_cs > 16 + log_bs || log_cs > 24)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "ext4: cluster size 1024 << %u invalid for %u-byte blocks",
                                 log_cs, e->block_size);
        e->cluster_size = 1024u << log_cs;
    }
    uint32_t rev = ifmt_le32(sb + EXT4_SB_REV_LEVEL);
    e->inode_size = rev == 0 ? EXT4_GOOD_OLD_INODE_SIZE : ifmt_le16(sb + EXT4_SB_INODE_SIZE);
    if (!is_pow2(e->inode_size) || e->inode_size < EXT4_GOOD_OLD_INODE_SIZE ||
        e->inode_size > e->block_size)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ext4: inode size %u invalid",
                             e->inode_size);
    e->desc_size = 32;
    if (e->incompat & EXT4_INCOMPAT_64BIT) {
        e->desc_size = ifmt_le16(sb + EXT4_SB_DESC_SIZE);
        if (!is_pow2(e->desc_size) || e->desc_size < 64 || e->desc_size > 1024)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "ext4: group descriptor size %u invalid", e->desc_size);
    }
    return IMGFMT_OK;
}

static int parse_geometry(struct ifmt_fs *fs, struct ext4 *e, const uint8_t *sb)
{
    e->blocks_count = ifmt_le32(sb + EXT4_SB_BLOCKS_LO);
    if (e->incompat & EXT4_INCOMPAT_64BIT)
        e->blocks_count |= (uint64_t)ifmt_le32(sb + EXT4_SB_BLOCKS_HI) << 32;
    e->inodes_count = ifmt_le32(sb + EXT4_SB_INODES_COUNT);
    e->first_data_block = ifmt_le32(sb + EXT4_SB_FIRST_DATA_BLOCK);
    e->blocks_per_group = ifmt_le32(sb + EXT4_SB_BLOCKS_PER_GROUP);
    e->inodes_per_group = ifmt_le32(sb + EXT4_SB_INODES_PER_GROUP);
    uint64_t bytes;
    if (ifmt_mul_overflow(e->blocks_count, e->block_size, &bytes) ||
        e->first_data_block >= e->blocks_count)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ext4: block count %llu invalid (first data block %llu)",
                             (unsigned long long)e->blocks_count,
                             (unsigned long long)e->first_data_block);
    uint64_t ratio = e->cluster_size / e->block_size;
    if (e->blocks_per_group == 0 || e->blocks_per_group > 8ull * e->block_size * ratio ||
        e->inodes_per_group == 0 || e->inodes_per_group > 8u * e->block_size)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ext4: %u blocks and %u inodes per group invalid",
                             e->blocks_per_group, e->inodes_per_group);
    e->groups = ifmt_div_round_up(e->blocks_count - e->first_data_block,
                                  e->blocks_per_group);
    if (e->groups > UINT32_MAX || e->inodes_count < EXT4_ROOT_INO ||
        e->inodes_count > e->groups * e->inodes_per_group)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ext4: %llu inodes do not fit %llu groups of %u",
                             (unsigned long long)e->inodes_count,
                             (unsigned long long)e->groups, e->inodes_per_group);
    e->first_meta_bg = ifmt_le32(sb + EXT4_SB_FIRST_META_BG);
    e->backup_bgs[0] = ifmt_le32(sb + EXT4_SB_BACKUP_BGS);
    e->backup_bgs[1] = ifmt_le32(sb + EXT4_SB_BACKUP_BGS + 4);
    e->group_csum = (e->ro_compat & (EXT4_RO_COMPAT_GDT_CSUM |
                                     EXT4_RO_COMPAT_METADATA_CSUM)) != 0;
    e->dev_blocks = fs->dev.size / e->block_size;
    if (e->blocks_count > e->dev_blocks)
        ifmt_fs_warn(fs, "ext4: the file system has %llu blocks but %s holds %llu: "
                     "the image may be truncated",
                     (unsigned long long)e->blocks_count, fs->dev.name,
                     (unsigned long long)e->dev_blocks);
    return IMGFMT_OK;
}

/* Refuse what we cannot read, by name. */
static int check_features(struct ifmt_fs *fs, const struct ext4 *e)
{
    if (e->incompat & EXT4_INCOMPAT_JOURNAL_DEV)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "ext4: an external journal device, not a file system");
    if (e->incompat & EXT4_INCOMPAT_COMPRESSION)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "ext4: feature \"compression\" (e2compr) is not supported");
    if (e->incompat & EXT4_INCOMPAT_DIRDATA)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "ext4: feature \"dirdata\" (Lustre) is not supported");
    uint32_t unknown = e->incompat & ~(uint32_t)EXT4_INCOMPAT_KNOWN;
    if (unknown)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "ext4: unknown incompatible feature bits 0x%x "
                             "(s_feature_incompat 0x%x)", unknown, e->incompat);
    return IMGFMT_OK;
}

/* x is a power of base (1 included). */
static bool is_power_of(uint64_t x, uint64_t base)
{
    uint64_t n = 1;
    while (n < x)
        n *= base;
    return n == x;
}

/* Does group g hold a superblock backup (and so a descriptor copy)? */
static bool group_has_super(const struct ext4 *e, uint64_t g)
{
    if (g == 0)
        return true;
    if (e->compat & EXT4_COMPAT_SPARSE_SUPER2)
        return g == e->backup_bgs[0] || g == e->backup_bgs[1];
    if (g <= 1 || !(e->ro_compat & EXT4_RO_COMPAT_SPARSE_SUPER))
        return true;
    if (!(g & 1))
        return false;
    return is_power_of(g, 3) || is_power_of(g, 5) || is_power_of(g, 7);
}

/* Device block of descriptor block nr.  With meta_bg, from first_meta_bg
 * on, the descriptors of each run of desc_per_block groups sit in the
 * first group of the run, after its superblock backup if it has one. */
static uint64_t gdt_block(const struct ext4 *e, uint64_t nr)
{
    if (!(e->incompat & EXT4_INCOMPAT_META_BG) || nr < e->first_meta_bg)
        return e->first_data_block + 1 + nr;
    uint64_t g = nr * (e->block_size / e->desc_size);
    uint64_t blk = e->first_data_block + g * e->blocks_per_group + group_has_super(e, g);
    if (e->block_size == 1024 && nr == 0 && e->first_data_block == 0)
        blk++;
    return blk;
}

static int load_gdt(struct ifmt_fs *fs, struct ext4 *e)
{
    e->gdt_bytes = e->groups * e->desc_size;
    int r = ifmt_fs_charge(fs, e->gdt_bytes, "group descriptor table");
    if (r < 0)
        return r;
    if (!(e->gdt = malloc(e->gdt_bytes))) {
        ifmt_fs_uncharge(fs, e->gdt_bytes);
        e->gdt_bytes = 0;
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ext4: out of memory");
    }
    uint64_t nblocks = ifmt_div_round_up(e->gdt_bytes, e->block_size);
    bool contiguous = !(e->incompat & EXT4_INCOMPAT_META_BG) || e->first_meta_bg >= nblocks;
    for (uint64_t nr = 0; nr < nblocks; nr++) {
        uint64_t blk = gdt_block(e, nr);
        uint64_t off = nr * e->block_size;
        uint64_t len = e->gdt_bytes - off;
        if (contiguous)
            nr = nblocks;                /* one read for the whole table */
        else if (len > e->block_size)
            len = e->block_size;
        if (blk >= e->blocks_count || ifmt_div_round_up(len, e->block_size) >
                                          e->blocks_count - blk)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "ext4: group descriptor block %llu beyond the file system",
                                 (unsigned long long)blk);
        r = ifmt_fs_read(fs, e->gdt + off, (size_t)len, blk * e->block_size,
                         "group descriptors");
        if (r < 0)
            return r;
    }
    return IMGFMT_OK;
}

static void set_label_uuid(struct ifmt_fs *fs, const uint8_t *sb)
{
    const uint8_t *name = sb + EXT4_SB_VOLUME_NAME;
    size_t n = 0;
    while (n < 16 && name[n])
        n++;
    memcpy(fs->label, name, n);
    fs->label[n] = '\0';
    const uint8_t *u = sb + EXT4_SB_UUID;
    bool zero = true;
    for (int i = 0; i < 16; i++)
        zero = zero && u[i] == 0;
    if (zero) {
        fs->uuid[0] = '\0';
        return;
    }
    char *o = fs->uuid;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[u[i] >> 4];
        *o++ = hex[u[i] & 15];
    }
    *o = '\0';
}

static int ext4_mount(struct ifmt_fs *fs)
{
    uint8_t sb[EXT4_SB_SIZE];
    int r = ifmt_fs_read(fs, sb, sizeof sb, EXT4_SB_OFFSET, "superblock");
    if (r < 0)
        return r;
    if (ifmt_le16(sb + EXT4_SB_MAGIC) != EXT4_MAGIC)
        return ifmt_fs_error(fs, IMGFMT_E_UNKNOWN_FORMAT,
                             "ext4: no ext2/3/4 superblock (magic 0x%04x)",
                             ifmt_le16(sb + EXT4_SB_MAGIC));
    struct ext4 *e = calloc(1, sizeof *e);
    if (!e)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ext4: out of memory");
    fs->priv = e;
    e->compat = ifmt_le32(sb + EXT4_SB_FEATURE_COMPAT);
    e->incompat = ifmt_le32(sb + EXT4_SB_FEATURE_INCOMPAT);
    e->ro_compat = ifmt_le32(sb + EXT4_SB_FEATURE_RO_COMPAT);
    if ((r = check_features(fs, e)) < 0 || (r = parse_sizes(fs, e, sb)) < 0 ||
        (r = parse_geometry(fs, e, sb)) < 0 || (r = load_gdt(fs, e)) < 0)
        return r;
    set_label_uuid(fs, sb);
    if (e->incompat & EXT4_INCOMPAT_RECOVER)
        ifmt_fs_warn(fs, "ext4: needs_recovery set: the journal is not replayed, "
                     "recent changes may be missing");
    uint16_t state = ifmt_le16(sb + EXT4_SB_STATE);
    if (state & 2)
        ifmt_fs_warn(fs, "ext4: the file system records errors (state 0x%x): "
                     "it was not checked since", state);
    fs->root_id = EXT4_ROOT_INO;
    return IMGFMT_OK;
}

static void ext4_unmount(struct ifmt_fs *fs)
{
    struct ext4 *e = fs->priv;
    if (!e)
        return;
    ifmt_fs_uncharge(fs, e->gdt_bytes);
    free(e->gdt);
    free(e);
    fs->priv = NULL;
}

/* ------------------------------------------------------------------ */
/* Inodes                                                              */
/* ------------------------------------------------------------------ */

static int read_inode(struct ifmt_fs *fs, uint64_t ino, uint8_t *raw)
{
    const struct ext4 *e = fs->priv;
    if (ino < 1 || ino > e->inodes_count)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ext4: inode %llu out of range (1..%llu)",
                             (unsigned long long)ino, (unsigned long long)e->inodes_count);
    uint64_t g = (ino - 1) / e->inodes_per_group, idx = (ino - 1) % e->inodes_per_group;
    const uint8_t *gd = e->gdt + g * e->desc_size;
    if (e->group_csum) {
        uint32_t unused = ext4_gd_itable_unused(gd, e->desc_size);
        if ((ifmt_le16(gd + EXT4_GD_FLAGS) & EXT4_GD_INODE_UNINIT) ||
            (unused <= e->inodes_per_group && idx >= e->inodes_per_group - unused))
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "ext4: inode %llu lies in the unused part of group "
                                 "%llu's inode table", (unsigned long long)ino,
                                 (unsigned long long)g);
    }
    uint64_t table = ext4_gd_inode_table(gd, e->desc_size);
    uint64_t table_blocks = ifmt_div_round_up((uint64_t)e->inodes_per_group * e->inode_size,
                                              e->block_size);
    if (table >= e->blocks_count || table_blocks > e->blocks_count - table)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ext4: group %llu inode table at block %llu beyond the "
                             "file system (%llu blocks)", (unsigned long long)g,
                             (unsigned long long)table, (unsigned long long)e->blocks_count);
    return ifmt_fs_read(fs, raw, e->inode_size,
                        table * e->block_size + idx * e->inode_size, "inode");
}

/* Bytes of the large-inode area in use (0 for 128-byte inodes). */
static uint32_t extra_isize(const struct ext4 *e, const uint8_t *raw)
{
    return e->inode_size > EXT4_GOOD_OLD_INODE_SIZE ? ifmt_le16(raw + EXT4_I_EXTRA_ISIZE) : 0;
}

/* The extra time word at off if the inode's extra area covers it. */
static const uint8_t *extra_field(const struct ext4 *e, const uint8_t *raw, uint32_t off)
{
    return off + 4 <= EXT4_GOOD_OLD_INODE_SIZE + extra_isize(e, raw) ? raw + off : NULL;
}

static enum imgfmt_file_type type_of_mode(uint32_t mode)
{
    switch (mode & 0xF000u) {
    case 0x1000: return IMGFMT_FILE_FIFO;
    case 0x2000: return IMGFMT_FILE_CHR;
    case 0x4000: return IMGFMT_FILE_DIR;
    case 0x6000: return IMGFMT_FILE_BLK;
    case 0x8000: return IMGFMT_FILE_REG;
    case 0xA000: return IMGFMT_FILE_SYMLINK;
    case 0xC000: return IMGFMT_FILE_SOCK;
    default: return IMGFMT_FILE_UNKNOWN;
    }
}

/* Allocated bytes as i_blocks counts them (512-byte units, or blocks for
 * huge files). */
static uint64_t allocated_bytes(const struct ext4 *e, const uint8_t *raw, uint32_t flags)
{
    uint64_t blocks = ifmt_le32(raw + EXT4_I_BLOCKS_LO);
    if (e->ro_compat & EXT4_RO_COMPAT_HUGE_FILE)
        blocks |= (uint64_t)ifmt_le16(raw + EXT4_I_BLOCKS_HI) << 32;
    if ((e->ro_compat & EXT4_RO_COMPAT_HUGE_FILE) && (flags & EXT4_INODE_FL_HUGE_FILE))
        return blocks * e->block_size;
    return blocks * 512;
}

static void fill_times(const struct ext4 *e, const uint8_t *raw, imgfmt_stat *st)
{
    ext4_decode_time(ifmt_le32(raw + EXT4_I_ATIME), extra_field(e, raw, EXT4_I_ATIME_EXTRA),
                     &st->atime.sec, &st->atime.nsec);
    ext4_decode_time(ifmt_le32(raw + EXT4_I_MTIME), extra_field(e, raw, EXT4_I_MTIME_EXTRA),
                     &st->mtime.sec, &st->mtime.nsec);
    ext4_decode_time(ifmt_le32(raw + EXT4_I_CTIME), extra_field(e, raw, EXT4_I_CTIME_EXTRA),
                     &st->ctime.sec, &st->ctime.nsec);
    if (extra_field(e, raw, EXT4_I_CRTIME))
        ext4_decode_time(ifmt_le32(raw + EXT4_I_CRTIME),
                         extra_field(e, raw, EXT4_I_CRTIME_EXTRA),
                         &st->btime.sec, &st->btime.nsec);
}

static int fill_stat(struct ifmt_fs *fs, const struct ext4_inode *in, imgfmt_stat *st)
{
    const struct ext4 *e = fs->priv;
    const uint8_t *raw = in->raw;
    uint32_t mode = ifmt_le16(raw + EXT4_I_MODE);
    uint32_t links = ifmt_le16(raw + EXT4_I_LINKS);
    memset(st, 0, sizeof *st);
    st->type = type_of_mode(mode);
    if (links == 0 || st->type == IMGFMT_FILE_UNKNOWN)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ext4: inode %llu is free or invalid (mode 0%o, %u links)",
                             (unsigned long long)in->ino, mode, links);
    uint32_t extra = extra_isize(e, raw);
    if (extra % 4 || EXT4_GOOD_OLD_INODE_SIZE + extra > e->inode_size)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ext4: inode %llu extra size %u invalid",
                             (unsigned long long)in->ino, extra);
    st->ino = in->ino;
    st->mode = mode;
    st->uid = ifmt_le16(raw + EXT4_I_UID_LO) | (uint32_t)ifmt_le16(raw + EXT4_I_UID_HI) << 16;
    st->gid = ifmt_le16(raw + EXT4_I_GID_LO) | (uint32_t)ifmt_le16(raw + EXT4_I_GID_HI) << 16;
    st->nlink = links;
    st->size = in->size;
    if (st->type == IMGFMT_FILE_CHR || st->type == IMGFMT_FILE_BLK)
        ext4_decode_dev(raw + EXT4_I_BLOCK, &st->rdev_major, &st->rdev_minor);
    fill_times(e, raw, st);
    if (in->flags & EXT4_INODE_FL_ENCRYPT)
        st->flags |= IMGFMT_STAT_ENCRYPTED;
    if (st->type == IMGFMT_FILE_REG && !(in->flags & EXT4_INODE_FL_INLINE_DATA)) {
        uint64_t need = ifmt_div_round_up(in->size, e->block_size) * e->block_size;
        if (allocated_bytes(e, raw, in->flags) < need)
            st->flags |= IMGFMT_STAT_SPARSE;
    }
    return IMGFMT_OK;
}

static void free_inode(struct ifmt_fs *fs, struct ext4_inode *in)
{
    if (!in)
        return;
    ifmt_fs_uncharge(fs, in->charged);
    free(in->map.runs);
    free(in);
}

static int ext4_open_node(struct ifmt_fs *fs, uint64_t id, struct ifmt_node *node)
{
    const struct ext4 *e = fs->priv;
    uint64_t need = sizeof(struct ext4_inode) + e->inode_size;
    int r = ifmt_fs_charge(fs, need, "inode");
    if (r < 0)
        return r;
    struct ext4_inode *in = calloc(1, (size_t)need);
    if (!in) {
        ifmt_fs_uncharge(fs, need);
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ext4: out of memory");
    }
    in->charged = need;
    in->ino = id;
    in->raw = (uint8_t *)(in + 1);
    if ((r = read_inode(fs, id, in->raw)) < 0)
        goto fail;
    in->flags = ifmt_le32(in->raw + EXT4_I_FLAGS);
    in->size = ifmt_le32(in->raw + EXT4_I_SIZE_LO) |
               (uint64_t)ifmt_le32(in->raw + EXT4_I_SIZE_HI) << 32;
    if ((r = fill_stat(fs, in, &node->st)) < 0)
        goto fail;
    node->id = id;
    node->priv = in;
    return IMGFMT_OK;
fail:
    free_inode(fs, in);
    return r;
}

static void ext4_close_node(struct ifmt_fs *fs, struct ifmt_node *node)
{
    free_inode(fs, node->priv);
    node->priv = NULL;
}

/* ------------------------------------------------------------------ */
/* Block maps                                                          */
/* ------------------------------------------------------------------ */

/* Append a run; runs must be strictly increasing and not overlap
 * (contiguous ones merge). */
static int map_append(struct ifmt_fs *fs, struct ext4_inode *in, uint64_t lblk,
                      uint64_t pblk, uint64_t len, bool unwritten)
{
    struct ext4_map *m = &in->map;
    if (m->n) {
        struct ext4_run *last = &m->runs[m->n - 1];
        if (lblk < last->lblk + last->len)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "ext4: inode %llu: extents overlap or are out of order "
                                 "at logical block %llu", (unsigned long long)in->ino,
                                 (unsigned long long)lblk);
        if (last->lblk + last->len == lblk && last->pblk + last->len == pblk &&
            last->unwritten == unwritten) {
            last->len += len;
            return IMGFMT_OK;
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        uint64_t grow = (cap - m->cap) * sizeof *m->runs;
        int r = ifmt_fs_charge(fs, grow, "extent map");
        if (r < 0)
            return r;
        struct ext4_run *runs = realloc(m->runs, cap * sizeof *runs);
        if (!runs) {
            ifmt_fs_uncharge(fs, grow);
            return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ext4: out of memory");
        }
        in->charged += grow;
        m->runs = runs;
        m->cap = cap;
    }
    m->runs[m->n++] = (struct ext4_run){ lblk, pblk, len, unwritten };
    return IMGFMT_OK;
}

/* State of one decode: a buffer per tree level, and a cap on node reads. */
struct map_walk {
    struct ifmt_fs *fs;
    struct ext4_inode *in;
    const struct ext4 *e;
    uint8_t *buf[EXT4_EXT_MAX_DEPTH];
    uint64_t reads, max_reads;
    uint64_t limit;            /* indirect maps: logical blocks the size needs */
};

static void walk_free(struct map_walk *w)
{
    for (unsigned i = 0; i < EXT4_EXT_MAX_DEPTH; i++)
        free(w->buf[i]);
}

/* Read device block blk, a tree node at level (0-based), into its buffer. */
static int walk_read(struct map_walk *w, unsigned level, uint64_t blk, const char *what)
{
    const struct ext4 *e = w->e;
    if (blk >= e->blocks_count || blk == 0)
        return ifmt_fs_error(w->fs, IMGFMT_E_CORRUPT,
                             "ext4: inode %llu %s at block %llu beyond the file system "
                             "(%llu blocks)", (unsigned long long)w->in->ino, what,
                             (unsigned long long)blk, (unsigned long long)e->blocks_count);
    if (++w->reads > w->max_reads)
        return ifmt_fs_error(w->fs, IMGFMT_E_CORRUPT,
                             "ext4: inode %llu: more %s blocks than the device holds "
                             "(a loop?)", (unsigned long long)w->in->ino, what);
    if (!w->buf[level] && !(w->buf[level] = malloc(e->block_size)))
        return ifmt_fs_error(w->fs, IMGFMT_E_NOMEM, "ext4: out of memory");
    return ifmt_fs_read(w->fs, w->buf[level], e->block_size, blk * e->block_size, what);
}

static int check_ext_header(struct map_walk *w, const uint8_t *h, size_t size, uint64_t blk,
                            int want_depth, unsigned *entries, unsigned *depth)
{
    unsigned magic = ifmt_le16(h), max = ifmt_le16(h + 4);
    *entries = ifmt_le16(h + 2);
    *depth = ifmt_le16(h + 6);
    const char *bad = NULL;
    if (magic != EXT4_EXT_MAGIC)
        bad = "bad magic";
    else if (*entries > max || max > (size - EXT4_EXT_ENTRY_SIZE) / EXT4_EXT_ENTRY_SIZE)
        bad = "entry count over its capacity";
    else if (*depth > EXT4_EXT_MAX_DEPTH)
        bad = "tree deeper than 5";
    else if (want_depth >= 0 && *depth != (unsigned)want_depth)
        bad = "depth not one below its parent (a loop?)";
    else if (want_depth >= 0 && *entries == 0)
        bad = "empty non-root node";
    if (!bad)
        return IMGFMT_OK;
    return ifmt_fs_error(w->fs, IMGFMT_E_CORRUPT,
                         "ext4: inode %llu extent node %s%llu: %s (magic 0x%04x, "
                         "%u/%u entries, depth %u)", (unsigned long long)w->in->ino,
                         blk ? "at block " : "in the inode", blk ? (unsigned long long)blk : 0ull,
                         bad, magic, *entries, max, *depth);
}

static int leaf_extents(struct map_walk *w, const uint8_t *node, unsigned n, uint64_t lo,
                        uint64_t hi)
{
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *x = node + EXT4_EXT_ENTRY_SIZE * (i + 1);
        uint64_t lblk = ifmt_le32(x);
        uint32_t len = ifmt_le16(x + 4);
        uint64_t pblk = (uint64_t)ifmt_le16(x + 6) << 32 | ifmt_le32(x + 8);
        bool unwritten = len > EXT4_EXT_INIT_MAX_LEN;
        if (unwritten)
            len -= EXT4_EXT_INIT_MAX_LEN;
        if (len == 0 || lblk < lo || lblk + len > hi)
            return ifmt_fs_error(w->fs, IMGFMT_E_CORRUPT,
                                 "ext4: inode %llu extent %u (logical %llu, %u blocks) "
                                 "outside its index range", (unsigned long long)w->in->ino,
                                 i, (unsigned long long)lblk, len);
        if (pblk >= w->e->blocks_count || len > w->e->blocks_count - pblk)
            return ifmt_fs_error(w->fs, IMGFMT_E_CORRUPT,
                                 "ext4: inode %llu extent %u block %llu (+%u) beyond the "
                                 "file system (%llu blocks)", (unsigned long long)w->in->ino,
                                 i, (unsigned long long)pblk, len,
                                 (unsigned long long)w->e->blocks_count);
        int r = map_append(w->fs, w->in, lblk, pblk, len, unwritten);
        if (r < 0)
            return r;
    }
    return IMGFMT_OK;
}

/* One extent node (the root in i_block, or a block); the extents below it
 * must lie in [lo, hi). */
static int walk_extent_node(struct map_walk *w, const uint8_t *node, size_t size,
                            uint64_t blk, int want_depth, uint64_t lo, uint64_t hi)
{
    unsigned n, depth;
    int r = check_ext_header(w, node, size, blk, want_depth, &n, &depth);
    if (r < 0 || depth == 0)
        return r < 0 ? r : leaf_extents(w, node, n, lo, hi);
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *x = node + EXT4_EXT_ENTRY_SIZE * (i + 1);
        uint64_t first = ifmt_le32(x);
        uint64_t child = ifmt_le32(x + 4) | (uint64_t)ifmt_le16(x + 8) << 32;
        uint64_t next = i + 1 < n ? ifmt_le32(x + EXT4_EXT_ENTRY_SIZE) : hi;
        if (first < lo || next <= first || next > hi)
            return ifmt_fs_error(w->fs, IMGFMT_E_CORRUPT,
                                 "ext4: inode %llu extent index %u (logical %llu) out of "
                                 "order", (unsigned long long)w->in->ino, i,
                                 (unsigned long long)first);
        if ((r = walk_read(w, depth - 1, child, "extent node")) < 0)
            return r;
        r = walk_extent_node(w, w->buf[depth - 1], w->e->block_size, child,
                             (int)depth - 1, first, next);
        if (r < 0)
            return r;
    }
    return IMGFMT_OK;
}

/* One indirect block at level (1 single, 2 double, 3 triple) covering
 * logical blocks from base. */
static int walk_indirect(struct map_walk *w, uint64_t blk, unsigned level, uint64_t base)
{
    int r = walk_read(w, level - 1, blk, "indirect block");
    if (r < 0)
        return r;
    uint32_t per = w->e->block_size / 4;
    uint64_t span = 1;
    for (unsigned l = 1; l < level; l++)
        span *= per;
    const uint8_t *b = w->buf[level - 1];
    for (uint32_t i = 0; i < per && base + i * span < w->limit; i++) {
        uint64_t p = ifmt_le32(b + 4 * i);
        if (!p)
            continue;
        if (level > 1)
            r = walk_indirect(w, p, level - 1, base + i * span);
        else if (p >= w->e->blocks_count)
            r = ifmt_fs_error(w->fs, IMGFMT_E_CORRUPT,
                              "ext4: inode %llu block %llu (logical %llu) beyond the file "
                              "system", (unsigned long long)w->in->ino,
                              (unsigned long long)p, (unsigned long long)(base + i));
        else
            r = map_append(w->fs, w->in, base + i, p, 1, false);
        if (r < 0)
            return r;
    }
    return IMGFMT_OK;
}

static int walk_block_map(struct map_walk *w)
{
    const uint8_t *ib = w->in->raw + EXT4_I_BLOCK;
    uint32_t per = w->e->block_size / 4;
    int r = IMGFMT_OK;
    for (unsigned i = 0; i < EXT4_NDIR_BLOCKS && i < w->limit && r == 0; i++) {
        uint64_t p = ifmt_le32(ib + 4 * i);
        if (p >= w->e->blocks_count)
            return ifmt_fs_error(w->fs, IMGFMT_E_CORRUPT,
                                 "ext4: inode %llu block %llu (logical %u) beyond the file "
                                 "system", (unsigned long long)w->in->ino,
                                 (unsigned long long)p, i);
        if (p)
            r = map_append(w->fs, w->in, i, p, 1, false);
    }
    uint64_t base = EXT4_NDIR_BLOCKS, span = 1;
    for (unsigned level = 1; level <= 3 && r == 0 && base < w->limit; level++) {
        span *= per;
        uint64_t p = ifmt_le32(ib + 4 * (EXT4_NDIR_BLOCKS + level - 1));
        if (p)
            r = walk_indirect(w, p, level, base);
        base += span;
    }
    return r;
}

/* Decode the node's block map once. */
static int ensure_map(struct ifmt_fs *fs, struct ext4_inode *in)
{
    if (in->mapped)
        return IMGFMT_OK;
    const struct ext4 *e = fs->priv;
    struct map_walk w = { .fs = fs, .in = in, .e = e };
    w.limit = ifmt_div_round_up(in->size, e->block_size);
    w.max_reads = e->dev_blocks;
    int r;
    if (in->flags & EXT4_INODE_FL_EXTENTS) {
        r = walk_extent_node(&w, in->raw + EXT4_I_BLOCK, EXT4_I_BLOCK_SIZE, 0, -1, 0,
                             1ull << 32);
    } else {
        uint64_t per = e->block_size / 4;
        uint64_t need = 2 * ifmt_div_round_up(w.limit, per) + 3;
        if (need < w.max_reads)
            w.max_reads = need;
        r = walk_block_map(&w);
    }
    walk_free(&w);
    if (r < 0) {
        in->map.n = 0;
        return r;
    }
    in->mapped = true;
    return IMGFMT_OK;
}

/* The first run that ends after lblk (runs are sorted). */
static size_t find_run(const struct ext4_map *m, uint64_t lblk)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->runs[mid].lblk + m->runs[mid].len <= lblk)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Read [off, off+len) of the mapped node: holes and unwritten runs are
 * zeros, each stretch of a run one device read. */
static int map_read(struct ifmt_fs *fs, const struct ext4_inode *in, uint8_t *buf,
                    size_t len, uint64_t off)
{
    const struct ext4 *e = fs->priv;
    const struct ext4_map *m = &in->map;
    while (len) {
        uint64_t lblk = off / e->block_size;
        size_t i = find_run(m, lblk);
        uint64_t end = UINT64_MAX;
        bool data = false;
        if (i < m->n && m->runs[i].lblk <= lblk) {
            end = (m->runs[i].lblk + m->runs[i].len) * e->block_size;
            data = !m->runs[i].unwritten;
        } else if (i < m->n) {
            end = m->runs[i].lblk * e->block_size;
        }
        size_t n = end - off < len ? (size_t)(end - off) : len;
        if (data) {
            uint64_t dev = (m->runs[i].pblk + (lblk - m->runs[i].lblk)) * e->block_size +
                           off % e->block_size;
            int r = ifmt_fs_read(fs, buf, n, dev, "file data");
            if (r < 0)
                return r;
        } else {
            memset(buf, 0, n);
        }
        buf += n;
        off += n;
        len -= n;
    }
    return IMGFMT_OK;
}

/* ------------------------------------------------------------------ */
/* Inline data                                                         */
/* ------------------------------------------------------------------ */

/* The value of the in-inode attribute "system.data" (the part of inline
 * data past i_block); *len 0 when absent. */
static int inline_xattr(struct ifmt_fs *fs, const struct ext4_inode *in,
                        const uint8_t **val, size_t *len)
{
    const struct ext4 *e = fs->priv;
    *val = NULL;
    *len = 0;
    size_t start = EXT4_GOOD_OLD_INODE_SIZE + extra_isize(e, in->raw);
    size_t end = e->inode_size;
    if (start + 4 > end || ifmt_le32(in->raw + start) != EXT4_XATTR_MAGIC)
        return IMGFMT_OK;
    size_t base = start + 4, p = base;
    while (p + 4 <= end && ifmt_le32(in->raw + p) != 0) {
        const uint8_t *x = in->raw + p;
        if (p + EXT4_XATTR_ENTRY_SIZE > end || p + EXT4_XATTR_ENTRY_SIZE + x[0] > end)
            break;
        uint32_t offs = ifmt_le16(x + 2), inum = ifmt_le32(x + 4), size = ifmt_le32(x + 8);
        if (x[1] == EXT4_XATTR_INDEX_SYSTEM && x[0] == 4 && !memcmp(x + 16, "data", 4)) {
            if (inum || offs > end - base || size > end - base - offs)
                return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                     "ext4: inode %llu inline data attribute (offset %u, "
                                     "%u bytes) outside the inode",
                                     (unsigned long long)in->ino, offs, size);
            *val = in->raw + base + offs;
            *len = size;
            return IMGFMT_OK;
        }
        p += (EXT4_XATTR_ENTRY_SIZE + x[0] + 3u) & ~3u;
    }
    return IMGFMT_OK;
}

static int inline_read(struct ifmt_fs *fs, const struct ext4_inode *in, uint8_t *buf,
                       size_t len, uint64_t off)
{
    const uint8_t *val;
    size_t vlen;
    int r = inline_xattr(fs, in, &val, &vlen);
    if (r < 0)
        return r;
    if (in->size > EXT4_I_BLOCK_SIZE + vlen || off + len > in->size)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ext4: inode %llu inline size %llu beyond the %zu bytes it "
                             "holds", (unsigned long long)in->ino,
                             (unsigned long long)in->size, EXT4_I_BLOCK_SIZE + vlen);
    for (size_t i = 0; i < len; i++) {
        uint64_t o = off + i;
        buf[i] = o < EXT4_I_BLOCK_SIZE ? in->raw[EXT4_I_BLOCK + o]
                                       : val[o - EXT4_I_BLOCK_SIZE];
    }
    return IMGFMT_OK;
}

/* ------------------------------------------------------------------ */
/* Directories                                                         */
/* ------------------------------------------------------------------ */

static enum imgfmt_file_type dirent_type(uint8_t t)
{
    static const enum imgfmt_file_type map[8] = {
        IMGFMT_FILE_UNKNOWN, IMGFMT_FILE_REG, IMGFMT_FILE_DIR, IMGFMT_FILE_CHR,
        IMGFMT_FILE_BLK, IMGFMT_FILE_FIFO, IMGFMT_FILE_SOCK, IMGFMT_FILE_SYMLINK,
    };
    return t < 8 ? map[t] : IMGFMT_FILE_UNKNOWN;
}

struct dir_scan {
    struct ifmt_fs *fs;
    const struct ext4_inode *dir;
    ifmt_dirent_fn *fn;
    void *opaque;
};

static int dirent_corrupt(struct dir_scan *s, uint64_t blk, size_t off, const char *what,
                          unsigned v)
{
    return ifmt_fs_error(s->fs, IMGFMT_E_CORRUPT,
                         "ext4: directory inode %llu block %llu offset %zu: %s (%u)",
                         (unsigned long long)s->dir->ino, (unsigned long long)blk, off,
                         what, v);
}

/* Entries of one directory block (or inline region) of len bytes: 1 when
 * the callback asked to stop, 0 at the end, or an error. */
static int scan_dir_block(struct dir_scan *s, const uint8_t *p, size_t len, uint64_t blk)
{
    const struct ext4 *e = s->fs->priv;
    bool filetype = e->incompat & EXT4_INCOMPAT_FILETYPE;
    for (size_t off = 0; off < len;) {
        const uint8_t *de = p + off;
        if (len - off < EXT4_DIRENT_MIN_REC)
            return dirent_corrupt(s, blk, off, "entry truncated, bytes left",
                                  (unsigned)(len - off));
        uint64_t ino = ifmt_le32(de);
        uint32_t rec = ext4_rec_len(de, e->block_size);
        uint32_t name_len = filetype ? de[6] : ifmt_le16(de + 6);
        if (rec < EXT4_DIRENT_MIN_REC || rec % 4 || rec > len - off)
            return dirent_corrupt(s, blk, off, "record length runs past the block", rec);
        if (ino) {
            if (name_len == 0 || EXT4_DIRENT_HEADER + name_len > rec)
                return dirent_corrupt(s, blk, off, "name length past the record", name_len);
            if (ino > e->inodes_count)
                return dirent_corrupt(s, blk, off, "inode number out of range",
                                      (unsigned)ino);
            const char *name = (const char *)de + EXT4_DIRENT_HEADER;
            bool dot = (name_len == 1 && name[0] == '.') ||
                       (name_len == 2 && name[0] == '.' && name[1] == '.');
            if (!dot) {
                enum imgfmt_file_type t = filetype ? dirent_type(de[7]) : IMGFMT_FILE_UNKNOWN;
                int r = s->fn(s->opaque, name, name_len, ino, t);
                if (r != 0)
                    return r < 0 ? r : 1;
            }
        }
        off += rec;
    }
    return 0;
}

static int readdir_inline(struct dir_scan *s)
{
    const uint8_t *val;
    size_t vlen;
    int r = inline_xattr(s->fs, s->dir, &val, &vlen);
    if (r < 0)
        return r;
    /* i_block: the parent's inode number, then entries; the attribute
     * value, if any, holds more entries. */
    r = scan_dir_block(s, s->dir->raw + EXT4_I_BLOCK + 4, EXT4_I_BLOCK_SIZE - 4, 0);
    if (r == 0 && vlen)
        r = scan_dir_block(s, val, vlen, 1);
    return r;
}

/* Scan blocks [lblk, lblk+count) of one data run, in big reads. */
static int readdir_run(struct dir_scan *s, uint8_t *buf, size_t buf_blocks,
                       const struct ext4_run *run, uint64_t count)
{
    const struct ext4 *e = s->fs->priv;
    for (uint64_t done = 0; done < count;) {
        uint64_t n = count - done < buf_blocks ? count - done : buf_blocks;
        int r = ifmt_fs_read(s->fs, buf, (size_t)(n * e->block_size),
                             (run->pblk + done) * e->block_size, "directory block");
        if (r < 0)
            return r;
        for (uint64_t b = 0; b < n; b++) {
            r = scan_dir_block(s, buf + b * e->block_size, e->block_size,
                               run->lblk + done + b);
            if (r != 0)
                return r;
        }
        done += n;
    }
    return 0;
}

static int ext4_readdir(struct ifmt_fs *fs, struct ifmt_node *dir, ifmt_dirent_fn *fn,
                        void *opaque)
{
    struct ext4_inode *in = dir->priv;
    const struct ext4 *e = fs->priv;
    if (in->flags & EXT4_INODE_FL_ENCRYPT)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "ext4: directory inode %llu is encrypted",
                             (unsigned long long)in->ino);
    struct dir_scan s = { fs, in, fn, opaque };
    int r;
    if (in->flags & EXT4_INODE_FL_INLINE_DATA) {
        r = readdir_inline(&s);
        return r < 0 ? r : 0;
    }
    if ((r = ensure_map(fs, in)) < 0)
        return r;
    uint64_t blocks = ifmt_div_round_up(in->size, e->block_size);
    size_t buf_blocks = EXT4_DIR_CHUNK / e->block_size;
    if (buf_blocks > blocks)
        buf_blocks = blocks ? (size_t)blocks : 1;
    uint8_t *buf = malloc(buf_blocks * e->block_size);
    if (!buf)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ext4: out of memory");
    r = 0;
    for (size_t i = 0; i < in->map.n && r == 0; i++) {
        const struct ext4_run *run = &in->map.runs[i];
        if (run->lblk >= blocks)
            break;
        if (run->unwritten)
            continue;
        uint64_t count = blocks - run->lblk < run->len ? blocks - run->lblk : run->len;
        r = readdir_run(&s, buf, buf_blocks, run, count);
    }
    free(buf);
    return r < 0 ? r : 0;
}

/* ------------------------------------------------------------------ */
/* File data and symlinks                                              */
/* ------------------------------------------------------------------ */

static int ext4_read(struct ifmt_fs *fs, struct ifmt_node *node, void *buf, size_t len,
                     uint64_t off)
{
    struct ext4_inode *in = node->priv;
    if (in->flags & EXT4_INODE_FL_ENCRYPT)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "ext4: inode %llu is encrypted",
                             (unsigned long long)in->ino);
    if (in->flags & EXT4_INODE_FL_INLINE_DATA)
        return inline_read(fs, in, buf, len, off);
    int r = ensure_map(fs, in);
    return r < 0 ? r : map_read(fs, in, buf, len, off);
}

/* A fast symlink keeps its target in i_block: no blocks besides an
 * attribute block. */
static bool is_fast_symlink(const struct ext4 *e, const struct ext4_inode *in)
{
    uint64_t acl = ifmt_le32(in->raw + EXT4_I_FILE_ACL_LO) |
                   (uint64_t)ifmt_le16(in->raw + EXT4_I_FILE_ACL_HI) << 32;
    uint64_t ea_bytes = acl ? e->cluster_size : 0;
    return allocated_bytes(e, in->raw, in->flags) <= ea_bytes;
}

static int ext4_readlink(struct ifmt_fs *fs, struct ifmt_node *node, char **out,
                         size_t *len)
{
    struct ext4_inode *in = node->priv;
    const struct ext4 *e = fs->priv;
    if (in->flags & EXT4_INODE_FL_ENCRYPT)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "ext4: symlink inode %llu is encrypted",
                             (unsigned long long)in->ino);
    bool inl = in->flags & EXT4_INODE_FL_INLINE_DATA;
    bool fast = !inl && is_fast_symlink(e, in);
    if (in->size == 0 || in->size > EXT4_PATH_MAX ||
        (fast && in->size >= EXT4_I_BLOCK_SIZE))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ext4: symlink inode %llu target length %llu invalid",
                             (unsigned long long)in->ino, (unsigned long long)in->size);
    char *t = malloc((size_t)in->size + 1);
    if (!t)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ext4: out of memory");
    int r = IMGFMT_OK;
    if (fast)
        memcpy(t, in->raw + EXT4_I_BLOCK, (size_t)in->size);
    else
        r = ext4_read(fs, node, t, (size_t)in->size, 0);
    if (r < 0) {
        free(t);
        return r;
    }
    t[in->size] = '\0';
    *out = t;
    *len = strlen(t);
    return IMGFMT_OK;
}

const struct ifmt_fs_driver ifmt_ext4_driver = {
    .name = "ext4",
    .handles = ext4_handles,
    .mount = ext4_mount,
    .unmount = ext4_unmount,
    .open_node = ext4_open_node,
    .close_node = ext4_close_node,
    .readdir = ext4_readdir,
    .lookup = NULL,
    .read = ext4_read,
    .readlink = ext4_readlink,
};
