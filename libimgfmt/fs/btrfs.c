/*
 * btrfs.c -- read-only btrfs on one device.
 *
 * Mount: the superblock at 64 KiB (the copies at 64 MiB and 256 GiB when
 * it is bad), the chunk map (bootstrapped from the superblock's system
 * chunk array, then read whole from the chunk tree; SINGLE and DUP
 * chunks, DUP read from its first stripe), the root tree, and the
 * subvolume to show: opts.subvol (a path from the top level), else
 * opts.subvolid, else the default subvolume (the "default" dir item in the
 * root tree's directory, 5 when absent) -- what a plain mount shows.
 *
 * Node ids: a subvolume's tree and an inode number packed into 64 bits:
 *     id = tree_index << 48 | inode
 * where tree_index indexes the table of subvolume trees this mount has
 * met (0 = the mounted subvolume; others are added as readdir or lookup
 * cross into them) and inode < 2^48.  A dir item whose location is a
 * ROOT_ITEM key is a subvolume: its id is (index of that tree, 256).
 *
 * Bounds: a tree block's level must be its parent's minus one (cap 8
 * levels), its first key must equal the parent's key and its last key
 * stay below the parent's next key, keys inside a block strictly increase
 * and every item lies inside its leaf; so walks cannot loop.  Tree block
 * and superblock checksums are verified when crc32c (xxhash, sha256 and
 * blake2b are not); file data checksums are not.  Decompressed output is
 * capped at the extent's ram_bytes, itself capped at 128 KiB.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "imgfmt-config.h"
#if IMGFMT_HAVE_ZSTD
#include <zstd.h>
#endif
#if IMGFMT_HAVE_LZO
#include <lzo/lzo1x.h>
#endif

#include "core/checked.h"
#include "fs/btrfs-format.h"
#include "fs/fs.h"

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define BTRFS_VERIFY_CSUM 0   /* let the fuzzer past the checksums */
#else
#define BTRFS_VERIFY_CSUM 1
#endif

#define ID_INO_BITS 48
#define ID_INO_MASK ((1ull << ID_INO_BITS) - 1)
#define MAX_TREES 0xffffu
#define NODE_CACHE_SLOTS 64u
#define MAX_CHUNKS 65536u
#define SYMLINK_MAX 4095u

struct btrfs_chunk {
    uint64_t logical, length, physical, type;
    uint64_t mirror;    /* DUP: physical start of the second copy; else NO_MIRROR */
};
#define NO_MIRROR UINT64_MAX

/* A subvolume tree this mount has met; root read on first use. */
struct btrfs_tree {
    uint64_t objectid;
    uint64_t bytenr;
    uint8_t level;
    int loaded;
};

/* The root of one tree: where its top block is and its level. */
struct btrfs_root {
    uint64_t objectid, bytenr;
    uint8_t level;
};

struct btrfs_fs {
    uint8_t sb[BTRFS_SB_SIZE];
    uint8_t meta_fsid[16];      /* what tree block headers carry */
    uint32_t sectorsize, nodesize;
    uint16_t csum_type;
    uint64_t devid;
    int warned_short;           /* a chunk reaches past the device */
    struct btrfs_root root_tree, chunk_tree;
    struct btrfs_chunk *chunks;
    size_t nb_chunks;
    struct btrfs_tree *trees;
    size_t nb_trees, cap_trees;
    uint8_t *cache;             /* NODE_CACHE_SLOTS tree blocks */
    uint64_t cache_tag[NODE_CACHE_SLOTS];   /* logical + 1; 0 = empty */
    uint8_t *dec;               /* the last decompressed extent */
    uint64_t dec_bytenr, dec_len;
    int dec_comp;
#if IMGFMT_HAVE_ZSTD
    ZSTD_DCtx *zstd;
#endif
};

/* A position in a tree: one block per level, root at lv[top]. */
struct btrfs_path {
    struct {
        uint8_t *buf;
        uint32_t nritems, slot;
    } lv[BTRFS_MAX_LEVEL];
    int top;
    int before_first;   /* positioned before the first item of the tree */
    uint64_t tree;      /* objectid, for messages */
};

static struct btrfs_fs *priv_of(struct ifmt_fs *fs)
{
    return fs->priv;
}

/* ------------------------------------------------------------------ */
/* Chunk map: logical to physical                                     */
/* ------------------------------------------------------------------ */

static const struct btrfs_chunk *chunk_find(const struct btrfs_chunk *c, size_t n,
                                            uint64_t logical)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (logical < c[mid].logical)
            hi = mid;
        else if (logical - c[mid].logical >= c[mid].length)
            lo = mid + 1;
        else
            return &c[mid];
    }
    return NULL;
}

/* Physical address of [logical, +len) in copy 0 (or copy 1 of a DUP
 * chunk: IMGFMT_E_NOT_FOUND without a message when there is none). */
static int map_copy(struct ifmt_fs *fs, uint64_t logical, uint64_t len, int copy,
                    uint64_t *phys, const char *what);

static int map_logical(struct ifmt_fs *fs, uint64_t logical, uint64_t len, uint64_t *phys,
                       const char *what)
{
    return map_copy(fs, logical, len, 0, phys, what);
}

static int map_copy(struct ifmt_fs *fs, uint64_t logical, uint64_t len, int copy,
                    uint64_t *phys, const char *what)
{
    struct btrfs_fs *b = priv_of(fs);
    const struct btrfs_chunk *c = chunk_find(b->chunks, b->nb_chunks, logical);
    if (!c)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: %s at logical %llu is in no chunk", what,
                             (unsigned long long)logical);
    uint64_t in = logical - c->logical;
    if (len > c->length - in)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: %s at logical %llu (+%llu) runs past the end of "
                             "its chunk at %llu", what, (unsigned long long)logical,
                             (unsigned long long)len, (unsigned long long)c->logical);
    if (copy && c->mirror == NO_MIRROR)
        return IMGFMT_E_NOT_FOUND;
    *phys = (copy ? c->mirror : c->physical) + in;
    return IMGFMT_OK;
}

static const char *profile_name(uint64_t type)
{
    static const struct { uint64_t bit; const char *name; } names[] = {
        { BTRFS_BG_RAID0, "RAID0" }, { BTRFS_BG_RAID1, "RAID1" },
        { BTRFS_BG_RAID10, "RAID10" }, { BTRFS_BG_RAID5, "RAID5" },
        { BTRFS_BG_RAID6, "RAID6" }, { BTRFS_BG_RAID1C3, "RAID1C3" },
        { BTRFS_BG_RAID1C4, "RAID1C4" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (type & names[i].bit)
            return names[i].name;
    return "unknown";
}

/* Decode one chunk item (key offset = its logical start) of size bytes. */
static int chunk_parse(struct ifmt_fs *fs, uint64_t logical, const uint8_t *p, size_t size,
                       struct btrfs_chunk *out, size_t *used)
{
    struct btrfs_fs *b = priv_of(fs);
    if (size < BTRFS_CHUNK_SIZE)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: chunk item at logical %llu truncated (%zu bytes)",
                             (unsigned long long)logical, size);
    uint16_t stripes = ifmt_le16(p + BTRFS_CHUNK_NUM_STRIPES);
    size_t need = BTRFS_CHUNK_SIZE + (size_t)stripes * BTRFS_STRIPE_SIZE;
    if (stripes == 0 || need > size)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: chunk at logical %llu has %u stripes in %zu bytes",
                             (unsigned long long)logical, stripes, size);
    out->logical = logical;
    out->length = ifmt_le64(p + BTRFS_CHUNK_LENGTH);
    out->type = ifmt_le64(p + BTRFS_CHUNK_TYPE);
    uint64_t devid = ifmt_le64(p + BTRFS_CHUNK_SIZE);
    out->physical = ifmt_le64(p + BTRFS_CHUNK_SIZE + 8);
    uint64_t end;
    if (out->length == 0 || ifmt_add_overflow(logical, out->length, &end))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: chunk at logical %llu has length %llu",
                             (unsigned long long)logical, (unsigned long long)out->length);
    out->mirror = NO_MIRROR;
    uint64_t profile = out->type & BTRFS_BG_PROFILE_MASK;
    if (profile == BTRFS_BG_DUP && stripes >= 2 &&
        ifmt_le64(p + BTRFS_CHUNK_SIZE + BTRFS_STRIPE_SIZE) == b->devid &&
        ifmt_range_ok(ifmt_le64(p + BTRFS_CHUNK_SIZE + BTRFS_STRIPE_SIZE + 8), out->length,
                      fs->dev.size))
        out->mirror = ifmt_le64(p + BTRFS_CHUNK_SIZE + BTRFS_STRIPE_SIZE + 8);
    if (profile & ~BTRFS_BG_DUP)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "btrfs: chunk at logical %llu has the multi-device profile %s",
                             (unsigned long long)logical, profile_name(profile));
    if (devid != b->devid)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "btrfs: chunk at logical %llu lies on device %llu, not on "
                             "this one (%llu)", (unsigned long long)logical,
                             (unsigned long long)devid, (unsigned long long)b->devid);
    uint64_t pend;
    if (ifmt_add_overflow(out->physical, out->length, &pend))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: chunk at logical %llu: physical %llu (+%llu) past 2^64",
                             (unsigned long long)logical, (unsigned long long)out->physical,
                             (unsigned long long)out->length);
    /* A chunk reaching past the device is refused only when read: what a
     * truncated image still holds stays readable. */
    if (pend > fs->dev.size && !b->warned_short) {
        b->warned_short = 1;
        ifmt_fs_warn(fs, "btrfs: chunk at logical %llu (physical %llu +%llu) reaches past "
                     "the end of the device (%llu bytes): truncated image?",
                     (unsigned long long)logical, (unsigned long long)out->physical,
                     (unsigned long long)out->length, (unsigned long long)fs->dev.size);
    }
    *used = need;
    return IMGFMT_OK;
}

/* Insert c into the sorted map *v; CORRUPT if it overlaps a neighbour
 * (an identical copy of a chunk already there is skipped). */
static int chunk_insert(struct ifmt_fs *fs, struct btrfs_chunk **v, size_t *n,
                        const struct btrfs_chunk *c)
{
    size_t i = *n;
    while (i > 0 && (*v)[i - 1].logical > c->logical)
        i--;
    if (i > 0) {
        const struct btrfs_chunk *p = &(*v)[i - 1];
        if (p->logical == c->logical && p->length == c->length &&
            p->physical == c->physical)
            return IMGFMT_OK;
        if (c->logical - p->logical < p->length)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "btrfs: chunk at logical %llu overlaps the chunk at %llu",
                                 (unsigned long long)c->logical,
                                 (unsigned long long)p->logical);
    }
    if (i < *n && (*v)[i].logical - c->logical < c->length)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: chunk at logical %llu overlaps the chunk at %llu",
                             (unsigned long long)c->logical,
                             (unsigned long long)(*v)[i].logical);
    if (*n >= MAX_CHUNKS)
        return ifmt_fs_error(fs, IMGFMT_E_LIMIT, "btrfs: more than %u chunks", MAX_CHUNKS);
    int r = ifmt_fs_charge(fs, sizeof **v, "chunk map");
    if (r < 0)
        return r;
    struct btrfs_chunk *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory (chunk map)");
    memmove(nv + i + 1, nv + i, (*n - i) * sizeof *nv);
    nv[i] = *c;
    *v = nv;
    (*n)++;
    return IMGFMT_OK;
}

static int load_sys_chunks(struct ifmt_fs *fs)
{
    struct btrfs_fs *b = priv_of(fs);
    uint32_t size = ifmt_le32(b->sb + BTRFS_SB_SYS_ARRAY_SIZE);
    if (size > BTRFS_SB_SYS_ARRAY_MAX)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: system chunk array of %u bytes (at most %u)", size,
                             BTRFS_SB_SYS_ARRAY_MAX);
    const uint8_t *p = b->sb + BTRFS_SB_SYS_ARRAY;
    uint32_t pos = 0;
    while (pos < size) {
        struct btrfs_key k;
        if (size - pos < BTRFS_KEY_SIZE)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "btrfs: system chunk array: key at %u truncated", pos);
        btrfs_key_load(&k, p + pos);
        pos += BTRFS_KEY_SIZE;
        if (k.type != BTRFS_CHUNK_ITEM)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "btrfs: system chunk array: item type %u at %u", k.type,
                                 pos - BTRFS_KEY_SIZE);
        struct btrfs_chunk c;
        size_t used;
        int r = chunk_parse(fs, k.offset, p + pos, size - pos, &c, &used);
        if (r < 0 || (r = chunk_insert(fs, &b->chunks, &b->nb_chunks, &c)) < 0)
            return r;
        pos += (uint32_t)used;
    }
    if (b->nb_chunks == 0)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: empty system chunk array");
    return IMGFMT_OK;
}

/* ------------------------------------------------------------------ */
/* Tree blocks                                                        */
/* ------------------------------------------------------------------ */

static int block_error(struct ifmt_fs *fs, uint64_t tree, uint64_t logical, const char *why)
{
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: tree %llu block at logical %llu: %s",
                         (unsigned long long)tree, (unsigned long long)logical, why);
}

/* Checks that need no parent: header, checksum, item table, key order. */
static int block_check(struct ifmt_fs *fs, const uint8_t *blk, uint64_t logical,
                       uint64_t tree)
{
    struct btrfs_fs *b = priv_of(fs);
    if (ifmt_le64(blk + BTRFS_HDR_BYTENR) != logical)
        return block_error(fs, tree, logical, "header names another address");
    if (memcmp(blk + BTRFS_HDR_FSID, b->meta_fsid, 16) != 0)
        return block_error(fs, tree, logical, "fsid is not this file system's");
    if (BTRFS_VERIFY_CSUM && b->csum_type == BTRFS_CSUM_CRC32C &&
        ifmt_crc32c(0, blk + BTRFS_SB_FSID, b->nodesize - BTRFS_SB_FSID) !=
            ifmt_le32(blk + BTRFS_HDR_CSUM))
        return block_error(fs, tree, logical, "checksum mismatch");
    uint8_t level = blk[BTRFS_HDR_LEVEL];
    uint32_t n = ifmt_le32(blk + BTRFS_HDR_NRITEMS);
    uint32_t room = b->nodesize - BTRFS_HDR_SIZE;
    uint32_t isz = level ? BTRFS_INNER_ITEM : BTRFS_LEAF_ITEM;
    if (level >= BTRFS_MAX_LEVEL)
        return block_error(fs, tree, logical, "level above 7");
    if (n > room / isz || (level && n == 0))
        return block_error(fs, tree, logical, "item count does not fit the block");
    struct btrfs_key prev = { 0, 0, 0 };
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *it = blk + BTRFS_HDR_SIZE + (size_t)i * isz;
        struct btrfs_key k;
        btrfs_key_load(&k, it);
        if (i > 0 && btrfs_key_cmp(&prev, &k) >= 0)
            return block_error(fs, tree, logical, "keys out of order");
        prev = k;
        if (level) {
            if (ifmt_le64(it + BTRFS_KEY_SIZE) == 0)
                return block_error(fs, tree, logical, "null child pointer");
            continue;
        }
        uint32_t off = ifmt_le32(it + BTRFS_KEY_SIZE), size = ifmt_le32(it + 21);
        if (off < n * BTRFS_LEAF_ITEM || off > room || size > room - off)
            return block_error(fs, tree, logical, "item data outside the leaf");
    }
    return IMGFMT_OK;
}

/* Read copy (0, or 1 of a DUP chunk) of the block at logical into blk
 * and check it. */
static int block_read_copy(struct ifmt_fs *fs, uint64_t logical, uint64_t tree, int copy,
                           uint8_t *blk)
{
    struct btrfs_fs *b = priv_of(fs);
    uint64_t phys;
    int r = map_copy(fs, logical, b->nodesize, copy, &phys, "tree block");
    if (r < 0 || (r = ifmt_fs_read(fs, blk, b->nodesize, phys, "btrfs tree block")) < 0)
        return r;
    return block_check(fs, blk, logical, tree);
}

/* The block at logical, checked, through the node cache. */
static int block_get(struct ifmt_fs *fs, uint64_t logical, uint64_t tree,
                     const uint8_t **out)
{
    struct btrfs_fs *b = priv_of(fs);
    unsigned slot = (unsigned)((logical / b->nodesize) % NODE_CACHE_SLOTS);
    uint8_t *blk = b->cache + (size_t)slot * b->nodesize;
    if (b->cache_tag[slot] != logical + 1) {
        b->cache_tag[slot] = 0;
        int r = block_read_copy(fs, logical, tree, 0, blk);
        if (r == IMGFMT_E_CORRUPT) {
            /* DUP: the second copy, as the kernel does when one is bad. */
            imgfmt_error first = fs->err;
            int r2 = block_read_copy(fs, logical, tree, 1, blk);
            if (r2 == IMGFMT_OK)
                ifmt_fs_warn(fs, "%s; read its DUP copy", first.msg);
            else
                fs->err = first;
            r = r2 == IMGFMT_OK ? r2 : r;
        }
        if (r < 0)
            return r;
        b->cache_tag[slot] = logical + 1;
    }
    *out = blk;
    return IMGFMT_OK;
}

static void path_free(struct ifmt_fs *fs, struct btrfs_path *p)
{
    for (int i = 0; i < BTRFS_MAX_LEVEL; i++) {
        if (p->lv[i].buf) {
            free(p->lv[i].buf);
            ifmt_fs_uncharge(fs, priv_of(fs)->nodesize);
        }
        p->lv[i].buf = NULL;
    }
}

static void path_init(struct btrfs_path *p, uint64_t tree)
{
    memset(p, 0, sizeof *p);
    p->tree = tree;
}

static void item_key(const struct btrfs_path *p, int level, uint32_t slot,
                     struct btrfs_key *k)
{
    size_t isz = level ? BTRFS_INNER_ITEM : BTRFS_LEAF_ITEM;
    btrfs_key_load(k, p->lv[level].buf + BTRFS_HDR_SIZE + slot * isz);
}

/* Load the block at logical into level lv of p; it must have that level. */
static int path_load(struct ifmt_fs *fs, struct btrfs_path *p, int lv, uint64_t logical)
{
    struct btrfs_fs *b = priv_of(fs);
    const uint8_t *blk;
    int r = block_get(fs, logical, p->tree, &blk);
    if (r < 0)
        return r;
    if (blk[BTRFS_HDR_LEVEL] != lv)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: tree %llu block at logical %llu has level %u, "
                             "expected %d", (unsigned long long)p->tree,
                             (unsigned long long)logical, blk[BTRFS_HDR_LEVEL], lv);
    if (!p->lv[lv].buf) {
        if ((r = ifmt_fs_charge(fs, b->nodesize, "btrfs tree path")) < 0)
            return r;
        if (!(p->lv[lv].buf = malloc(b->nodesize))) {
            ifmt_fs_uncharge(fs, b->nodesize);
            return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory (tree path)");
        }
    }
    memcpy(p->lv[lv].buf, blk, b->nodesize);
    p->lv[lv].nritems = ifmt_le32(blk + BTRFS_HDR_NRITEMS);
    p->lv[lv].slot = 0;
    return IMGFMT_OK;
}

/* Load the child under the current slot of level lv (> 0) into lv - 1 and
 * check it fits its parent's key range. */
static int path_descend(struct ifmt_fs *fs, struct btrfs_path *p, int lv)
{
    uint32_t slot = p->lv[lv].slot;
    const uint8_t *it = p->lv[lv].buf + BTRFS_HDR_SIZE + (size_t)slot * BTRFS_INNER_ITEM;
    uint64_t child = ifmt_le64(it + BTRFS_KEY_SIZE);
    int r = path_load(fs, p, lv - 1, child);
    if (r < 0)
        return r;
    struct btrfs_key pk, first, last, next;
    item_key(p, lv, slot, &pk);
    if (p->lv[lv - 1].nritems == 0)
        return block_error(fs, p->tree, child, "empty block below the root");
    item_key(p, lv - 1, 0, &first);
    item_key(p, lv - 1, p->lv[lv - 1].nritems - 1, &last);
    if (btrfs_key_cmp(&first, &pk) != 0)
        return block_error(fs, p->tree, child, "first key differs from its parent's");
    if (slot + 1 < p->lv[lv].nritems) {
        item_key(p, lv, slot + 1, &next);
        if (btrfs_key_cmp(&last, &next) >= 0)
            return block_error(fs, p->tree, child, "keys reach past its parent's next");
    }
    return IMGFMT_OK;
}

/* Last slot of level lv whose key is <= key; UINT32_MAX if none. */
static uint32_t slot_at_or_below(const struct btrfs_path *p, int lv,
                                 const struct btrfs_key *key)
{
    uint32_t lo = 0, hi = p->lv[lv].nritems;   /* answer in [lo - 1, hi) */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        struct btrfs_key k;
        item_key(p, lv, mid, &k);
        if (btrfs_key_cmp(&k, key) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? UINT32_MAX : lo - 1;
}

/* Position p at the last item <= key.  1 when found, 0 when every item is
 * above key (p is then before the first item), <0 on error. */
static int path_search(struct ifmt_fs *fs, struct btrfs_path *p,
                       const struct btrfs_root *root, const struct btrfs_key *key)
{
    int r = path_load(fs, p, root->level, root->bytenr);
    if (r < 0)
        return r;
    p->top = root->level;
    p->before_first = 0;
    for (int lv = root->level; lv >= 0; lv--) {
        uint32_t s = slot_at_or_below(p, lv, key);
        if (s == UINT32_MAX) {
            /* Only possible at the root: every item is above key. */
            p->before_first = 1;
            for (; lv > 0; lv--) {
                p->lv[lv].slot = 0;
                if ((r = path_descend(fs, p, lv)) < 0)
                    return r;
            }
            p->lv[0].slot = 0;
            return 0;
        }
        p->lv[lv].slot = s;
        if (lv > 0 && (r = path_descend(fs, p, lv)) < 0)
            return r;
    }
    return 1;
}

/* Move to the next item: 1 moved, 0 at the end, <0 error. */
static int path_next(struct ifmt_fs *fs, struct btrfs_path *p)
{
    if (p->before_first) {
        p->before_first = 0;
        return p->lv[0].nritems > 0;
    }
    if (p->lv[0].slot + 1 < p->lv[0].nritems) {
        p->lv[0].slot++;
        return 1;
    }
    int lv = 1;
    while (lv <= p->top && p->lv[lv].slot + 1 >= p->lv[lv].nritems)
        lv++;
    if (lv > p->top)
        return 0;
    p->lv[lv].slot++;
    for (; lv > 0; lv--) {
        int r = path_descend(fs, p, lv);
        if (r < 0)
            return r;
        p->lv[lv - 1].slot = 0;
    }
    return 1;
}

/* The current leaf item of p. */
static void path_item(const struct btrfs_path *p, struct btrfs_key *k, const uint8_t **data,
                      uint32_t *size)
{
    const uint8_t *it = p->lv[0].buf + BTRFS_HDR_SIZE + (size_t)p->lv[0].slot * BTRFS_LEAF_ITEM;
    btrfs_key_load(k, it);
    *data = p->lv[0].buf + BTRFS_HDR_SIZE + ifmt_le32(it + BTRFS_KEY_SIZE);
    *size = ifmt_le32(it + 21);
}

/* Position p at the first item >= key: 1 found one, 0 none, <0 error. */
static int path_first_at_or_above(struct ifmt_fs *fs, struct btrfs_path *p,
                                  const struct btrfs_root *root, const struct btrfs_key *key)
{
    int r = path_search(fs, p, root, key);
    if (r < 0)
        return r;
    if (r == 1) {
        struct btrfs_key k;
        const uint8_t *d;
        uint32_t sz;
        path_item(p, &k, &d, &sz);
        if (btrfs_key_cmp(&k, key) == 0)
            return 1;
    }
    return path_next(fs, p);
}

/* Copy out the item with exactly key: 1 found (*data malloc'ed, *size),
 * 0 absent, <0 error.  Items are at most a node in size. */
static int tree_lookup(struct ifmt_fs *fs, const struct btrfs_root *root,
                       const struct btrfs_key *key, uint8_t **data, uint32_t *size)
{
    struct btrfs_path p;
    path_init(&p, root->objectid);
    int r = path_search(fs, &p, root, key);
    if (r == 1) {
        struct btrfs_key k;
        const uint8_t *d;
        path_item(&p, &k, &d, size);
        r = 0;
        if (btrfs_key_cmp(&k, key) == 0) {
            *data = malloc(*size ? *size : 1);
            if (!*data)
                r = ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory");
            else {
                memcpy(*data, d, *size);
                r = 1;
            }
        }
    }
    path_free(fs, &p);
    return r;
}

/* ------------------------------------------------------------------ */
/* Superblock and mount                                               */
/* ------------------------------------------------------------------ */

static const uint64_t sb_offsets[] = { 0x10000ull, 0x4000000ull, 0x4000000000ull };

static int is_pow2_between(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

/* NULL if the copy at off is usable, else why not. */
static const char *sb_problem(const uint8_t *sb, uint64_t off)
{
    if (memcmp(sb + BTRFS_SB_MAGIC, "_BHRfS_M", 8) != 0)
        return "no magic";
    if (ifmt_le64(sb + BTRFS_SB_BYTENR) != off)
        return "it names another offset";
    uint16_t csum = ifmt_le16(sb + BTRFS_SB_CSUM_TYPE);
    if (BTRFS_VERIFY_CSUM && csum == BTRFS_CSUM_CRC32C &&
        ifmt_crc32c(0, sb + BTRFS_SB_FSID, BTRFS_SB_SIZE - BTRFS_SB_FSID) !=
            ifmt_le32(sb + BTRFS_SB_CSUM))
        return "checksum mismatch";
    return NULL;
}

static int read_superblock(struct ifmt_fs *fs)
{
    struct btrfs_fs *b = priv_of(fs);
    const char *first = NULL;
    for (size_t i = 0; i < sizeof sb_offsets / sizeof sb_offsets[0]; i++) {
        uint64_t off = sb_offsets[i];
        if (!ifmt_range_ok(off, BTRFS_SB_SIZE, fs->dev.size))
            break;
        int r = ifmt_fs_read(fs, b->sb, BTRFS_SB_SIZE, off, "btrfs superblock");
        if (r < 0)
            return r;
        const char *why = sb_problem(b->sb, off);
        if (!why) {
            if (i > 0)
                ifmt_fs_warn(fs, "btrfs: primary superblock unusable (%s); using the "
                             "copy at byte %llu", first, (unsigned long long)off);
            return IMGFMT_OK;
        }
        if (i == 0)
            first = why;
    }
    if (!first)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: device of %llu bytes too small for a superblock",
                             (unsigned long long)fs->dev.size);
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: superblock at 64 KiB: %s, and no "
                         "usable copy", first);
}

static int check_incompat(struct ifmt_fs *fs, uint64_t incompat)
{
    static const struct { uint64_t bit; const char *name; } refused[] = {
        { BTRFS_INCOMPAT_ZONED, "zoned" },
        { BTRFS_INCOMPAT_EXTENT_TREE_V2, "extent-tree-v2" },
        { BTRFS_INCOMPAT_RAID_STRIPE_TREE, "raid-stripe-tree" },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (incompat & refused[i].bit)
            return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                                 "btrfs: incompatible feature %s is not supported",
                                 refused[i].name);
    uint64_t unknown = incompat & ~(BTRFS_INCOMPAT_UNDERSTOOD | BTRFS_INCOMPAT_SIMPLE_QUOTA);
    if (unknown)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                             "btrfs: unknown incompatible feature bits 0x%llx",
                             (unsigned long long)unknown);
    return IMGFMT_OK;
}

static int parse_superblock(struct ifmt_fs *fs)
{
    struct btrfs_fs *b = priv_of(fs);
    const uint8_t *sb = b->sb;
    uint64_t incompat = ifmt_le64(sb + BTRFS_SB_INCOMPAT);
    int r = check_incompat(fs, incompat);
    if (r < 0)
        return r;
    b->sectorsize = ifmt_le32(sb + BTRFS_SB_SECTORSIZE);
    b->nodesize = ifmt_le32(sb + BTRFS_SB_NODESIZE);
    if (!is_pow2_between(b->sectorsize, 4096, 65536) ||
        !is_pow2_between(b->nodesize, b->sectorsize, 65536))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: sector size %u / node size %u invalid", b->sectorsize,
                             b->nodesize);
    b->csum_type = ifmt_le16(sb + BTRFS_SB_CSUM_TYPE);
    if (b->csum_type > BTRFS_CSUM_MAX)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "btrfs: unknown checksum type %u",
                             b->csum_type);
    memcpy(b->meta_fsid, sb + ((incompat & BTRFS_INCOMPAT_METADATA_UUID)
                                   ? BTRFS_SB_METADATA_UUID : BTRFS_SB_FSID), 16);
    b->devid = ifmt_le64(sb + BTRFS_SB_DEVID);
    b->root_tree = (struct btrfs_root){ 1, ifmt_le64(sb + BTRFS_SB_ROOT),
                                        sb[BTRFS_SB_ROOT_LEVEL] };
    b->chunk_tree = (struct btrfs_root){ 3, ifmt_le64(sb + BTRFS_SB_CHUNK_ROOT),
                                         sb[BTRFS_SB_CHUNK_LEVEL] };
    if (b->root_tree.level >= BTRFS_MAX_LEVEL || b->chunk_tree.level >= BTRFS_MAX_LEVEL)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: tree root level above 7");
    if (ifmt_le64(sb + BTRFS_SB_LOG_ROOT) != 0)
        ifmt_fs_warn(fs, "btrfs: log tree present (not cleanly unmounted): it is not "
                     "replayed, recent fsync'ed changes may be missing");
    return IMGFMT_OK;
}

/* Label and fsid as btrfs prints them. */
static void set_label_uuid(struct ifmt_fs *fs)
{
    const uint8_t *sb = priv_of(fs)->sb;
    size_t n = strnlen((const char *)sb + BTRFS_SB_LABEL, 255);
    memcpy(fs->label, sb + BTRFS_SB_LABEL, n);
    fs->label[n] = '\0';
    const uint8_t *u = sb + BTRFS_SB_FSID;
    snprintf(fs->uuid, sizeof fs->uuid,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
             u[12], u[13], u[14], u[15]);
}

/* Replace the bootstrap map with every chunk of the chunk tree. */
static int load_chunk_tree(struct ifmt_fs *fs)
{
    struct btrfs_fs *b = priv_of(fs);
    struct btrfs_chunk *all = NULL;
    size_t n = 0;
    struct btrfs_path p;
    path_init(&p, 3);
    struct btrfs_key start = { BTRFS_CHUNK_OBJECTID, BTRFS_CHUNK_ITEM, 0 };
    int r = path_first_at_or_above(fs, &p, &b->chunk_tree, &start);
    for (; r == 1; r = path_next(fs, &p)) {
        struct btrfs_key k;
        const uint8_t *d;
        uint32_t sz;
        size_t used;
        struct btrfs_chunk c;
        path_item(&p, &k, &d, &sz);
        if (k.objectid != BTRFS_CHUNK_OBJECTID || k.type != BTRFS_CHUNK_ITEM)
            break;
        if ((r = chunk_parse(fs, k.offset, d, sz, &c, &used)) < 0 ||
            (r = chunk_insert(fs, &all, &n, &c)) < 0)
            break;
    }
    path_free(fs, &p);
    if (r >= 0 && n == 0)
        r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: chunk tree holds no chunk");
    if (r < 0) {
        free(all);
        return r;
    }
    free(b->chunks);
    b->chunks = all;
    b->nb_chunks = n;
    return IMGFMT_OK;
}

/* The root of subvolume tree objectid from its ROOT_ITEM: 0, NOT_FOUND
 * (no message) when absent or deleted, <0 error. */
static int find_root(struct ifmt_fs *fs, uint64_t objectid, struct btrfs_root *out)
{
    struct btrfs_fs *b = priv_of(fs);
    struct btrfs_path p;
    path_init(&p, 1);
    struct btrfs_key key = { objectid, BTRFS_ROOT_ITEM, 0 };
    int r = path_first_at_or_above(fs, &p, &b->root_tree, &key);
    if (r == 1) {
        struct btrfs_key k;
        const uint8_t *d;
        uint32_t sz;
        path_item(&p, &k, &d, &sz);
        if (k.objectid != objectid || k.type != BTRFS_ROOT_ITEM ||
            ifmt_le32(d + BTRFS_ROOT_REFS) == 0)
            r = IMGFMT_E_NOT_FOUND;
        else if (sz < BTRFS_ROOT_MIN || d[BTRFS_ROOT_LEVEL] >= BTRFS_MAX_LEVEL)
            r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                              "btrfs: root item of tree %llu invalid (%u bytes, level %u)",
                              (unsigned long long)objectid, sz,
                              sz > BTRFS_ROOT_LEVEL ? d[BTRFS_ROOT_LEVEL] : 0);
        else {
            *out = (struct btrfs_root){ objectid, ifmt_le64(d + BTRFS_ROOT_BYTENR),
                                        d[BTRFS_ROOT_LEVEL] };
            r = IMGFMT_OK;
        }
    } else if (r == 0) {
        r = IMGFMT_E_NOT_FOUND;
    }
    path_free(fs, &p);
    return r;
}

/* ------------------------------------------------------------------ */
/* Subvolume trees and node ids                                       */
/* ------------------------------------------------------------------ */

static uint64_t pack_id(size_t tree, uint64_t ino)
{
    return (uint64_t)tree << ID_INO_BITS | ino;
}

/* Index of tree objectid in the table, added if new. */
static int tree_index(struct ifmt_fs *fs, uint64_t objectid, size_t *idx)
{
    struct btrfs_fs *b = priv_of(fs);
    for (size_t i = 0; i < b->nb_trees; i++)
        if (b->trees[i].objectid == objectid) {
            *idx = i;
            return IMGFMT_OK;
        }
    if (b->nb_trees >= MAX_TREES)
        return ifmt_fs_error(fs, IMGFMT_E_LIMIT, "btrfs: more than %u subvolumes met",
                             MAX_TREES);
    if (b->nb_trees == b->cap_trees) {
        size_t cap = b->cap_trees ? 2 * b->cap_trees : 8;
        int r = ifmt_fs_charge(fs, (cap - b->cap_trees) * sizeof *b->trees,
                               "subvolume table");
        if (r < 0)
            return r;
        struct btrfs_tree *t = realloc(b->trees, cap * sizeof *t);
        if (!t)
            return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory (subvolumes)");
        b->trees = t;
        b->cap_trees = cap;
    }
    b->trees[b->nb_trees] = (struct btrfs_tree){ objectid, 0, 0, 0 };
    *idx = b->nb_trees++;
    return IMGFMT_OK;
}

/* The root of the tree at index idx, read from the root tree on first use. */
static int tree_root(struct ifmt_fs *fs, size_t idx, struct btrfs_root *out)
{
    struct btrfs_fs *b = priv_of(fs);
    if (idx >= b->nb_trees)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: node id names subvolume slot "
                             "%zu of %zu", idx, b->nb_trees);
    struct btrfs_tree *t = &b->trees[idx];
    if (!t->loaded) {
        struct btrfs_root root;
        int r = find_root(fs, t->objectid, &root);
        if (r == IMGFMT_E_NOT_FOUND)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: subvolume %llu has no root "
                                 "item", (unsigned long long)t->objectid);
        if (r < 0)
            return r;
        t = &b->trees[idx];
        t->bytenr = root.bytenr;
        t->level = root.level;
        t->loaded = 1;
    }
    *out = (struct btrfs_root){ t->objectid, t->bytenr, t->level };
    return IMGFMT_OK;
}

static int split_id(struct ifmt_fs *fs, uint64_t id, struct btrfs_root *root, uint64_t *ino)
{
    *ino = id & ID_INO_MASK;
    return tree_root(fs, (size_t)(id >> ID_INO_BITS), root);
}

/* ------------------------------------------------------------------ */
/* Directory entries                                                  */
/* ------------------------------------------------------------------ */

struct btrfs_dirent {
    struct btrfs_key location;
    uint8_t type;
    const char *name;
    uint16_t name_len;
    size_t total;       /* bytes of this entry in the item */
};

/* Decode the entry at p (avail bytes left in the item). */
static int dirent_parse(struct ifmt_fs *fs, uint64_t dir, const uint8_t *p, size_t avail,
                        struct btrfs_dirent *e)
{
    if (avail < BTRFS_DIR_HDR)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: directory %llu entry truncated (%zu bytes)",
                             (unsigned long long)dir, avail);
    btrfs_key_load(&e->location, p + BTRFS_DIR_LOCATION);
    e->name_len = ifmt_le16(p + BTRFS_DIR_NAME_LEN);
    e->type = p[BTRFS_DIR_TYPE];
    e->name = (const char *)p + BTRFS_DIR_HDR;
    e->total = BTRFS_DIR_HDR + (size_t)e->name_len + ifmt_le16(p + BTRFS_DIR_DATA_LEN);
    if (e->total > avail || e->name_len == 0 || e->name_len > BTRFS_NAME_MAX)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: directory %llu entry with a %u-byte name overruns "
                             "its item", (unsigned long long)dir, e->name_len);
    if (memchr(e->name, '/', e->name_len) || memchr(e->name, '\0', e->name_len))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "btrfs: directory %llu entry name holds '/' or NUL",
                             (unsigned long long)dir);
    return IMGFMT_OK;
}

static enum imgfmt_file_type dirent_type(uint8_t t)
{
    static const enum imgfmt_file_type types[] = {
        IMGFMT_FILE_UNKNOWN, IMGFMT_FILE_REG, IMGFMT_FILE_DIR, IMGFMT_FILE_CHR,
        IMGFMT_FILE_BLK, IMGFMT_FILE_FIFO, IMGFMT_FILE_SOCK, IMGFMT_FILE_SYMLINK,
    };
    return t < sizeof types / sizeof types[0] ? types[t] : IMGFMT_FILE_UNKNOWN;
}

/* Whether the subvolume entry e of directory dir in tree parent is the
 * subvolume's real link (a ROOT_REF parent -> subvolume naming dir and the
 * name).  A snapshot copies its nested subvolumes' entries without one:
 * the kernel shows those as empty directories, and so do we. */
static int subvol_linked(struct ifmt_fs *fs, uint64_t parent, uint64_t dir,
                         const struct btrfs_dirent *e, int *linked)
{
    struct btrfs_key key = { parent, BTRFS_ROOT_REF, e->location.objectid };
    uint8_t *d = NULL;
    uint32_t sz;
    int r = tree_lookup(fs, &priv_of(fs)->root_tree, &key, &d, &sz);
    *linked = 0;
    if (r <= 0)
        return r;
    if (sz >= BTRFS_ROOT_REF_NAME && ifmt_le64(d) == dir &&
        ifmt_le16(d + BTRFS_ROOT_REF_NAME_LEN) == e->name_len &&
        (size_t)sz - BTRFS_ROOT_REF_NAME >= e->name_len &&
        memcmp(d + BTRFS_ROOT_REF_NAME, e->name, e->name_len) == 0)
        *linked = 1;
    free(d);
    return IMGFMT_OK;
}

/* The node id an entry of the directory in tree slot tree points to: an
 * inode of the same tree, or the root directory of a subvolume. */
static int dirent_id(struct ifmt_fs *fs, size_t tree, uint64_t dir,
                     const struct btrfs_dirent *e, uint64_t *id)
{
    const struct btrfs_key *loc = &e->location;
    if (loc->type == BTRFS_INODE_ITEM) {
        if (loc->objectid > ID_INO_MASK)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "btrfs: directory %llu entry names inode %llu (too large)",
                                 (unsigned long long)dir,
                                 (unsigned long long)loc->objectid);
        *id = pack_id(tree, loc->objectid);
        return IMGFMT_OK;
    }
    if (loc->type == BTRFS_ROOT_ITEM) {
        int linked;
        int r = subvol_linked(fs, priv_of(fs)->trees[tree].objectid, dir, e, &linked);
        if (r < 0)
            return r;
        if (!linked) {
            *id = pack_id(tree, BTRFS_EMPTY_SUBVOL_DIR);
            return IMGFMT_OK;
        }
        size_t idx;
        if ((r = tree_index(fs, loc->objectid, &idx)) < 0)
            return r;
        *id = pack_id(idx, BTRFS_FIRST_FREE);
        return IMGFMT_OK;
    }
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                         "btrfs: directory %llu entry points to an item of type %u",
                         (unsigned long long)dir, loc->type);
}

static int btrfs_readdir(struct ifmt_fs *fs, struct ifmt_node *dir, ifmt_dirent_fn *fn,
                         void *opaque)
{
    struct btrfs_root root;
    uint64_t ino;
    int r = split_id(fs, dir->id, &root, &ino);
    if (r < 0)
        return r;
    size_t tree = (size_t)(dir->id >> ID_INO_BITS);
    struct btrfs_path p;
    path_init(&p, root.objectid);
    struct btrfs_key start = { ino, BTRFS_DIR_INDEX, 0 };
    r = path_first_at_or_above(fs, &p, &root, &start);
    for (; r == 1; r = path_next(fs, &p)) {
        struct btrfs_key k;
        const uint8_t *d;
        uint32_t sz;
        struct btrfs_dirent e;
        uint64_t id;
        path_item(&p, &k, &d, &sz);
        if (k.objectid != ino || k.type != BTRFS_DIR_INDEX)
            break;
        if ((r = dirent_parse(fs, ino, d, sz, &e)) < 0 ||
            (r = dirent_id(fs, tree, ino, &e, &id)) < 0)
            break;
        if ((r = fn(opaque, e.name, e.name_len, id, dirent_type(e.type))) != 0)
            break;
    }
    path_free(fs, &p);
    return r < 0 ? r : 0;
}

/* The name hash of dir items: CRC-32C seeded with ~1, no final inversion. */
static uint64_t name_hash(const char *name, size_t len)
{
    return (uint32_t)~ifmt_crc32c(1, name, len);
}

static int btrfs_lookup(struct ifmt_fs *fs, struct ifmt_node *dir, const char *name,
                        size_t name_len, uint64_t *id, enum imgfmt_file_type *type)
{
    struct btrfs_root root;
    uint64_t ino;
    int r = split_id(fs, dir->id, &root, &ino);
    if (r < 0)
        return r;
    struct btrfs_key key = { ino, BTRFS_DIR_ITEM, name_hash(name, name_len) };
    uint8_t *d = NULL;
    uint32_t sz;
    if ((r = tree_lookup(fs, &root, &key, &d, &sz)) <= 0)
        return r < 0 ? r : IMGFMT_E_NOT_FOUND;
    r = IMGFMT_E_NOT_FOUND;
    for (size_t pos = 0; pos < sz;) {
        struct btrfs_dirent e;
        int q = dirent_parse(fs, ino, d + pos, sz - pos, &e);
        if (q < 0) {
            r = q;
            break;
        }
        if (e.name_len == name_len && memcmp(e.name, name, name_len) == 0) {
            r = dirent_id(fs, (size_t)(dir->id >> ID_INO_BITS), ino, &e, id);
            *type = dirent_type(e.type);
            break;
        }
        pos += e.total;
    }
    free(d);
    return r;
}

/* ------------------------------------------------------------------ */
/* Inodes                                                             */
/* ------------------------------------------------------------------ */

static imgfmt_timespec load_time(const uint8_t *p)
{
    imgfmt_timespec t = { (int64_t)ifmt_le64(p), ifmt_le32(p + 8) };
    return t;
}

static int mode_type(uint32_t mode, enum imgfmt_file_type *t)
{
    switch (mode & 0170000u) {
    case 0100000u: *t = IMGFMT_FILE_REG; return 1;
    case 0040000u: *t = IMGFMT_FILE_DIR; return 1;
    case 0120000u: *t = IMGFMT_FILE_SYMLINK; return 1;
    case 0020000u: *t = IMGFMT_FILE_CHR; return 1;
    case 0060000u: *t = IMGFMT_FILE_BLK; return 1;
    case 0010000u: *t = IMGFMT_FILE_FIFO; return 1;
    case 0140000u: *t = IMGFMT_FILE_SOCK; return 1;
    default: return 0;
    }
}

/* The stand-in the kernel shows for an unlinked subvolume entry. */
static int empty_subvol_dir(uint64_t id, uint64_t subvol, struct ifmt_node *node)
{
    memset(&node->st, 0, sizeof node->st);
    node->st.ino = BTRFS_EMPTY_SUBVOL_DIR;
    node->st.subvol = subvol;
    node->st.type = IMGFMT_FILE_DIR;
    node->st.mode = 040755;
    node->st.nlink = 1;
    node->id = id;
    node->priv = NULL;
    return IMGFMT_OK;
}

static int btrfs_open_node(struct ifmt_fs *fs, uint64_t id, struct ifmt_node *node)
{
    struct btrfs_root root;
    uint64_t ino;
    int r = split_id(fs, id, &root, &ino);
    if (r < 0)
        return r;
    if (ino == BTRFS_EMPTY_SUBVOL_DIR)
        return empty_subvol_dir(id, root.objectid, node);
    struct btrfs_key key = { ino, BTRFS_INODE_ITEM, 0 };
    uint8_t *d = NULL;
    uint32_t sz;
    if ((r = tree_lookup(fs, &root, &key, &d, &sz)) <= 0)
        return r < 0 ? r : ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                         "btrfs: subvolume %llu inode %llu not found",
                                         (unsigned long long)root.objectid,
                                         (unsigned long long)ino);
    imgfmt_stat *st = &node->st;
    memset(st, 0, sizeof *st);
    if (sz < BTRFS_INODE_ITEM_SIZE) {
        free(d);
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: subvolume %llu inode %llu: "
                             "item of %u bytes", (unsigned long long)root.objectid,
                             (unsigned long long)ino, sz);
    }
    st->mode = ifmt_le32(d + BTRFS_INODE_MODE);
    if (!mode_type(st->mode, &st->type)) {
        free(d);
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: subvolume %llu inode %llu has "
                             "mode 0%o of no known type", (unsigned long long)root.objectid,
                             (unsigned long long)ino, st->mode);
    }
    st->ino = ino;
    st->subvol = root.objectid;
    st->size = ifmt_le64(d + BTRFS_INODE_SIZE);
    st->nlink = ifmt_le32(d + BTRFS_INODE_NLINK);
    st->uid = ifmt_le32(d + BTRFS_INODE_UID);
    st->gid = ifmt_le32(d + BTRFS_INODE_GID);
    uint64_t rdev = ifmt_le64(d + BTRFS_INODE_RDEV);   /* the kernel's dev_t: 12:20 */
    st->rdev_major = (uint32_t)(rdev >> 20) & 0xfffu;
    st->rdev_minor = (uint32_t)rdev & 0xfffffu;
    st->atime = load_time(d + BTRFS_INODE_ATIME);
    st->ctime = load_time(d + BTRFS_INODE_CTIME);
    st->mtime = load_time(d + BTRFS_INODE_MTIME);
    st->btime = load_time(d + BTRFS_INODE_OTIME);
    if (ifmt_le64(d + BTRFS_INODE_FLAGS) & BTRFS_INODE_FLAG_COMPRESS)
        st->flags |= IMGFMT_STAT_COMPRESSED;
    free(d);
    node->id = id;
    node->priv = NULL;
    return IMGFMT_OK;
}

static void btrfs_close_node(struct ifmt_fs *fs, struct ifmt_node *node)
{
    (void)fs;
    node->priv = NULL;
}

/* ------------------------------------------------------------------ */
/* Decompression                                                      */
/* ------------------------------------------------------------------ */

/* Each inflates in into out (out_len bytes, pre-zeroed) and stops when
 * out is full: output never exceeds the extent's ram_bytes. */
static int inflate_zlib(struct ifmt_fs *fs, const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t out_len, const char *what)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit(&s) != Z_OK)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: %s: zlib init failed", what);
    s.next_in = (Bytef *)(uintptr_t)in;
    s.avail_in = (uInt)in_len;
    s.next_out = out;
    s.avail_out = (uInt)out_len;
    int z;
    do
        z = inflate(&s, Z_NO_FLUSH);
    while (z == Z_OK && s.avail_out > 0);
    inflateEnd(&s);
    if (z == Z_STREAM_END || s.avail_out == 0)
        return IMGFMT_OK;
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: %s: zlib data %s", what,
                         z == Z_BUF_ERROR ? "truncated" : "invalid");
}

static int inflate_zstd(struct ifmt_fs *fs, const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t out_len, const char *what)
{
#if IMGFMT_HAVE_ZSTD
    struct btrfs_fs *b = priv_of(fs);
    if (!b->zstd) {
        if (!(b->zstd = ZSTD_createDCtx()))
            return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory (zstd)");
        /* btrfs writes windows of at most 128 KiB: this bounds the memory. */
        ZSTD_DCtx_setParameter(b->zstd, ZSTD_d_windowLogMax, 20);
    }
    ZSTD_DCtx_reset(b->zstd, ZSTD_reset_session_only);
    ZSTD_inBuffer ib = { in, in_len, 0 };
    ZSTD_outBuffer ob = { out, out_len, 0 };
    while (ob.pos < ob.size) {
        size_t in_was = ib.pos, out_was = ob.pos;
        size_t z = ZSTD_decompressStream(b->zstd, &ob, &ib);
        if (ZSTD_isError(z))
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: %s: zstd data invalid (%s)",
                                 what, ZSTD_getErrorName(z));
        if (z == 0)
            break;
        if (ib.pos == in_was && ob.pos == out_was)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: %s: zstd data truncated",
                                 what);
    }
    return IMGFMT_OK;
#else
    (void)in, (void)in_len, (void)out, (void)out_len;
    return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                         "btrfs: %s is zstd-compressed: this build has no zstd", what);
#endif
}

#if IMGFMT_HAVE_LZO
/* One lzo segment (at most one sector of output) into out at *done. */
static int lzo_segment(struct ifmt_fs *fs, const uint8_t *seg, uint32_t seg_len,
                       uint8_t *out, size_t out_len, size_t *done, uint8_t *sector,
                       const char *what)
{
    uint32_t ss = priv_of(fs)->sectorsize;
    lzo_uint n = ss;
    int z = lzo1x_decompress_safe(seg, seg_len, sector, &n, NULL);
    if (z != LZO_E_OK)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: %s: lzo segment invalid (%d)",
                             what, z);
    size_t take = out_len - *done < n ? out_len - *done : n;
    memcpy(out + *done, sector, take);
    *done += take;
    return IMGFMT_OK;
}
#endif

/* btrfs's lzo framing: u32 total length (header included), then segments
 * of u32 length + LZO1X data, each one sector of output at most; a segment
 * header never crosses a sector boundary (the 0-3 bytes left are padding). */
static int inflate_lzo(struct ifmt_fs *fs, const uint8_t *in, size_t in_len, uint8_t *out,
                       size_t out_len, const char *what)
{
#if IMGFMT_HAVE_LZO
    uint32_t ss = priv_of(fs)->sectorsize;
    uint32_t total = in_len >= 4 ? ifmt_le32(in) : 0;
    if (total < 4 || total > in_len)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: %s: lzo total length %u of "
                             "%zu bytes", what, total, in_len);
    uint8_t *sector = malloc(ss);
    if (!sector)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory (lzo)");
    size_t pos = 4, done = 0;
    int r = IMGFMT_OK;
    while (pos < total && done < out_len && r == IMGFMT_OK) {
        if (ss - pos % ss < 4)
            pos += ss - pos % ss;
        if (pos >= total)
            break;
        uint32_t seg = total - pos >= 4 ? ifmt_le32(in + pos) : 0;
        pos += 4;
        if (seg == 0 || seg > total - pos || seg > ss + ss / 16 + 67)
            r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: %s: lzo segment of %u bytes "
                              "at %zu invalid", what, seg, pos - 4);
        else
            r = lzo_segment(fs, in + pos, seg, out, out_len, &done, sector, what);
        pos += seg;
    }
    free(sector);
    return r;
#else
    (void)in, (void)in_len, (void)out, (void)out_len;
    return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED,
                         "btrfs: %s is lzo-compressed: this build has no lzo", what);
#endif
}

static int decompress(struct ifmt_fs *fs, int comp, const uint8_t *in, size_t in_len,
                      uint8_t *out, size_t out_len, const char *what)
{
    memset(out, 0, out_len);
    switch (comp) {
    case BTRFS_COMPRESS_ZLIB: return inflate_zlib(fs, in, in_len, out, out_len, what);
    case BTRFS_COMPRESS_LZO: return inflate_lzo(fs, in, in_len, out, out_len, what);
    case BTRFS_COMPRESS_ZSTD: return inflate_zstd(fs, in, in_len, out, out_len, what);
    default:
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "btrfs: %s: unknown compression %d",
                             what, comp);
    }
}

/* ------------------------------------------------------------------ */
/* File data                                                          */
/* ------------------------------------------------------------------ */

struct btrfs_extent {
    uint64_t start, len;        /* file bytes covered */
    int type, comp;
    uint64_t ram_bytes, disk_bytenr, disk_bytes, offset;
    const uint8_t *inline_data;
    uint32_t inline_len;
};

static int extent_error(struct ifmt_fs *fs, int code, const char *what, const char *why)
{
    return ifmt_fs_error(fs, code, "btrfs: %s: %s", what, why);
}

static int extent_decode(struct ifmt_fs *fs, uint64_t start, const uint8_t *d, uint32_t sz,
                         struct btrfs_extent *x, const char *what)
{
    if (sz < BTRFS_FE_INLINE_DATA)
        return extent_error(fs, IMGFMT_E_CORRUPT, what, "extent item truncated");
    memset(x, 0, sizeof *x);
    x->start = start;
    x->ram_bytes = ifmt_le64(d + BTRFS_FE_RAM_BYTES);
    x->comp = d[BTRFS_FE_COMPRESSION];
    x->type = d[BTRFS_FE_TYPE];
    if (d[BTRFS_FE_ENCRYPTION] || ifmt_le16(d + BTRFS_FE_OTHER))
        return extent_error(fs, IMGFMT_E_UNSUPPORTED, what, "encrypted or encoded extent");
    if (x->comp > BTRFS_COMPRESS_ZSTD)
        return extent_error(fs, IMGFMT_E_UNSUPPORTED, what, "unknown compression type");
    if (x->comp && x->ram_bytes > BTRFS_MAX_COMPRESSED)
        return extent_error(fs, IMGFMT_E_CORRUPT, what,
                            "compressed extent of more than 128 KiB (ram_bytes)");
    if (x->type == BTRFS_FE_INLINE) {
        x->inline_data = d + BTRFS_FE_INLINE_DATA;
        x->inline_len = sz - BTRFS_FE_INLINE_DATA;
        x->len = x->comp ? x->ram_bytes : x->inline_len;
    } else if (x->type == BTRFS_FE_REG || x->type == BTRFS_FE_PREALLOC) {
        if (sz < BTRFS_FE_REG_SIZE)
            return extent_error(fs, IMGFMT_E_CORRUPT, what, "extent item truncated");
        x->disk_bytenr = ifmt_le64(d + BTRFS_FE_DISK_BYTENR);
        x->disk_bytes = ifmt_le64(d + BTRFS_FE_DISK_BYTES);
        x->offset = ifmt_le64(d + BTRFS_FE_OFFSET);
        x->len = ifmt_le64(d + BTRFS_FE_NUM_BYTES);
        uint64_t end;
        if (x->comp && x->disk_bytenr &&
            (x->disk_bytes > BTRFS_MAX_COMPRESSED ||
             ifmt_add_overflow(x->offset, x->len, &end) || end > x->ram_bytes))
            return extent_error(fs, IMGFMT_E_CORRUPT, what,
                                "compressed extent range outside its data");
    } else {
        return extent_error(fs, IMGFMT_E_CORRUPT, what, "unknown extent type");
    }
    uint64_t fend;
    if (ifmt_add_overflow(x->start, x->len, &fend))
        return extent_error(fs, IMGFMT_E_CORRUPT, what, "extent past 2^64");
    return IMGFMT_OK;
}

/* The whole decompressed data of regular extent x, cached by address. */
static int extent_inflated(struct ifmt_fs *fs, const struct btrfs_extent *x,
                           const char *what)
{
    struct btrfs_fs *b = priv_of(fs);
    if (b->dec_len == x->ram_bytes && b->dec_bytenr == x->disk_bytenr &&
        b->dec_comp == x->comp)
        return IMGFMT_OK;
    b->dec_len = 0;
    uint64_t phys;
    int r = map_logical(fs, x->disk_bytenr, x->disk_bytes, &phys, what);
    if (r < 0)
        return r;
    uint8_t *in = malloc(x->disk_bytes ? (size_t)x->disk_bytes : 1);
    if (!in)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory (extent)");
    r = ifmt_fs_read(fs, in, (size_t)x->disk_bytes, phys, "btrfs compressed extent");
    if (r == 0)
        r = decompress(fs, x->comp, in, (size_t)x->disk_bytes, b->dec,
                       (size_t)x->ram_bytes, what);
    free(in);
    if (r < 0)
        return r;
    b->dec_len = x->ram_bytes;
    b->dec_bytenr = x->disk_bytenr;
    b->dec_comp = x->comp;
    return IMGFMT_OK;
}

/* Copy what x holds of [off, off + len) into buf (buf[0] = byte off). */
static int extent_copy(struct ifmt_fs *fs, const struct btrfs_extent *x, uint8_t *buf,
                       uint64_t off, size_t len, const char *what)
{
    uint64_t lo = off > x->start ? off : x->start;
    uint64_t hi = off + len < x->start + x->len ? off + len : x->start + x->len;
    if (lo >= hi)
        return IMGFMT_OK;
    uint8_t *dst = buf + (lo - off);
    size_t n = (size_t)(hi - lo);
    uint64_t rel = lo - x->start;
    struct btrfs_fs *b = priv_of(fs);
    if (x->type == BTRFS_FE_INLINE && !x->comp) {
        memcpy(dst, x->inline_data + rel, n);
    } else if (x->type == BTRFS_FE_INLINE) {
        int r = decompress(fs, x->comp, x->inline_data, x->inline_len, b->dec,
                           (size_t)x->ram_bytes, what);
        b->dec_len = 0;   /* the cache now holds no regular extent */
        if (r < 0)
            return r;
        memcpy(dst, b->dec + rel, n);
    } else if (x->type == BTRFS_FE_PREALLOC || x->disk_bytenr == 0) {
        return IMGFMT_OK;   /* unwritten or a hole: zeros */
    } else if (x->comp) {
        int r = extent_inflated(fs, x, what);
        if (r < 0)
            return r;
        memcpy(dst, b->dec + x->offset + rel, n);
    } else {
        uint64_t logical, phys;
        if (ifmt_add_overflow(x->disk_bytenr, x->offset, &logical) ||
            ifmt_add_overflow(logical, rel, &logical))
            return extent_error(fs, IMGFMT_E_CORRUPT, what, "extent address past 2^64");
        int r = map_logical(fs, logical, n, &phys, what);
        if (r < 0)
            return r;
        return ifmt_fs_read(fs, dst, n, phys, "btrfs file data");
    }
    return IMGFMT_OK;
}

static int read_extents(struct ifmt_fs *fs, const struct btrfs_root *root, uint64_t ino,
                        uint8_t *buf, size_t len, uint64_t off)
{
    struct btrfs_path p;
    path_init(&p, root->objectid);
    struct btrfs_key key = { ino, BTRFS_EXTENT_DATA, off };
    int r = path_search(fs, &p, root, &key);
    if (r == 0)
        r = path_next(fs, &p);
    for (; r == 1; r = path_next(fs, &p)) {
        struct btrfs_key k;
        const uint8_t *d;
        uint32_t sz;
        path_item(&p, &k, &d, &sz);
        if (k.objectid < ino || (k.objectid == ino && k.type < BTRFS_EXTENT_DATA))
            continue;
        if (k.objectid != ino || k.type != BTRFS_EXTENT_DATA ||
            (k.offset >= off && k.offset - off >= len))
            break;
        char what[96];
        snprintf(what, sizeof what, "subvolume %llu inode %llu extent at %llu",
                 (unsigned long long)root->objectid, (unsigned long long)ino,
                 (unsigned long long)k.offset);
        struct btrfs_extent x;
        if ((r = extent_decode(fs, k.offset, d, sz, &x, what)) < 0 ||
            (r = extent_copy(fs, &x, buf, off, len, what)) < 0)
            break;
    }
    path_free(fs, &p);
    return r < 0 ? r : IMGFMT_OK;
}

static int btrfs_read(struct ifmt_fs *fs, struct ifmt_node *node, void *buf, size_t len,
                      uint64_t off)
{
    struct btrfs_root root;
    uint64_t ino;
    int r = split_id(fs, node->id, &root, &ino);
    if (r < 0)
        return r;
    memset(buf, 0, len);
    if (len == 0)
        return IMGFMT_OK;
    return read_extents(fs, &root, ino, buf, len, off);
}

static int btrfs_readlink(struct ifmt_fs *fs, struct ifmt_node *node, char **out,
                          size_t *len)
{
    uint64_t size = node->st.size;
    if (size > SYMLINK_MAX)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "btrfs: symlink inode %llu of %llu "
                             "bytes", (unsigned long long)node->st.ino,
                             (unsigned long long)size);
    char *s = malloc((size_t)size + 1);
    if (!s)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory");
    int r = btrfs_read(fs, node, s, (size_t)size, 0);
    if (r < 0) {
        free(s);
        return r;
    }
    s[size] = '\0';
    *out = s;
    *len = (size_t)size;
    return IMGFMT_OK;
}

/* ------------------------------------------------------------------ */
/* Which subvolume to show                                            */
/* ------------------------------------------------------------------ */

/* The "default" entry of the root tree's directory: the subvolume a plain
 * mount shows (5, the top level, when there is none). */
static int default_subvol(struct ifmt_fs *fs, uint64_t *out)
{
    struct btrfs_fs *b = priv_of(fs);
    uint64_t dir = ifmt_le64(b->sb + BTRFS_SB_ROOT_DIR);
    struct btrfs_key key = { dir, BTRFS_DIR_ITEM, name_hash("default", 7) };
    uint8_t *d = NULL;
    uint32_t sz;
    *out = BTRFS_FS_TREE;
    int r = tree_lookup(fs, &b->root_tree, &key, &d, &sz);
    if (r <= 0)
        return r;
    for (size_t pos = 0; pos < sz;) {
        struct btrfs_dirent e;
        if ((r = dirent_parse(fs, dir, d + pos, sz - pos, &e)) < 0)
            break;
        if (e.name_len == 7 && memcmp(e.name, "default", 7) == 0) {
            *out = e.location.objectid;
            break;
        }
        pos += e.total;
    }
    free(d);
    return r < 0 ? r : IMGFMT_OK;
}

/* Walk one component of a subvol= path from node *id (a directory). */
static int subvol_step(struct ifmt_fs *fs, uint64_t *id, const char *name, size_t len)
{
    struct ifmt_node n;
    memset(&n, 0, sizeof n);
    int r = btrfs_open_node(fs, *id, &n);
    if (r < 0)
        return r;
    if (n.st.type != IMGFMT_FILE_DIR)
        return ifmt_fs_error(fs, IMGFMT_E_NOT_DIR, "btrfs: subvol=%s: %.*s is not a "
                             "directory", fs->opts.subvol, (int)len, name);
    enum imgfmt_file_type t;
    r = btrfs_lookup(fs, &n, name, len, id, &t);
    if (r == IMGFMT_E_NOT_FOUND)
        return ifmt_fs_error(fs, r, "btrfs: subvol=%s: %.*s not found", fs->opts.subvol,
                             (int)len, name);
    return r;
}

/* The subvolume at path (from the top level), like mount -o subvol=. */
static int subvol_by_path(struct ifmt_fs *fs, const char *path, uint64_t *out)
{
    struct btrfs_fs *b = priv_of(fs);
    size_t idx;
    b->nb_trees = 0;
    int r = tree_index(fs, BTRFS_FS_TREE, &idx);
    uint64_t id = pack_id(0, BTRFS_FIRST_FREE);
    for (const char *s = path; r == 0 && *s;) {
        size_t len = strcspn(s, "/");
        if (len == 2 && s[0] == '.' && s[1] == '.')
            return ifmt_fs_error(fs, IMGFMT_E_INVAL, "btrfs: subvol=%s: '..' not allowed",
                                 path);
        if (len > 0 && !(len == 1 && s[0] == '.'))
            r = subvol_step(fs, &id, s, len);
        s += len;
        s += *s == '/';
    }
    if (r < 0)
        return r;
    if ((id & ID_INO_MASK) != BTRFS_FIRST_FREE)
        return ifmt_fs_error(fs, IMGFMT_E_INVAL, "btrfs: subvol=%s is not a subvolume",
                             path);
    *out = b->trees[id >> ID_INO_BITS].objectid;
    return IMGFMT_OK;
}

static int choose_subvol(struct ifmt_fs *fs, uint64_t *out)
{
    int r;
    if (fs->opts.subvol) {
        if ((r = subvol_by_path(fs, fs->opts.subvol, out)) < 0)
            return r;
        if (fs->opts.subvolid && fs->opts.subvolid != *out)
            return ifmt_fs_error(fs, IMGFMT_E_INVAL, "btrfs: subvol=%s is subvolume %llu, "
                                 "not subvolid %llu", fs->opts.subvol,
                                 (unsigned long long)*out,
                                 (unsigned long long)fs->opts.subvolid);
        return IMGFMT_OK;
    }
    if (fs->opts.subvolid) {
        *out = fs->opts.subvolid;
        struct btrfs_root root;
        r = find_root(fs, *out, &root);
        if (r == IMGFMT_E_NOT_FOUND)
            return ifmt_fs_error(fs, r, "btrfs: no subvolume with id %llu",
                                 (unsigned long long)*out);
        return r;
    }
    return default_subvol(fs, out);
}

/* ------------------------------------------------------------------ */
/* Mount                                                              */
/* ------------------------------------------------------------------ */

static int alloc_buffers(struct ifmt_fs *fs)
{
    struct btrfs_fs *b = priv_of(fs);
    size_t cache = (size_t)NODE_CACHE_SLOTS * b->nodesize;
    int r = ifmt_fs_charge(fs, cache + BTRFS_MAX_COMPRESSED, "btrfs block cache");
    if (r < 0)
        return r;
    b->cache = malloc(cache);
    b->dec = malloc(BTRFS_MAX_COMPRESSED);
    if (!b->cache || !b->dec)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory (block cache)");
    return IMGFMT_OK;
}

static int btrfs_mount(struct ifmt_fs *fs)
{
    struct btrfs_fs *b = calloc(1, sizeof *b);
    if (!b)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "btrfs: out of memory");
    fs->priv = b;
    int r = read_superblock(fs);
    if (r < 0 || (r = parse_superblock(fs)) < 0 || (r = load_sys_chunks(fs)) < 0)
        return r;
    uint64_t devices = ifmt_le64(b->sb + BTRFS_SB_NUM_DEVICES);
    if (devices != 1)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "btrfs: the file system spans %llu "
                             "devices; only single-device file systems are read",
                             (unsigned long long)devices);
    if ((r = alloc_buffers(fs)) < 0 || (r = load_chunk_tree(fs)) < 0)
        return r;
#if IMGFMT_HAVE_LZO
    if (lzo_init() != LZO_E_OK)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "btrfs: liblzo2 failed to start");
#endif
    uint64_t subvol = BTRFS_FS_TREE;
    if ((r = choose_subvol(fs, &subvol)) < 0)
        return r;
    size_t idx;
    struct btrfs_root root;
    b->nb_trees = 0;
    if ((r = tree_index(fs, subvol, &idx)) < 0 || (r = tree_root(fs, idx, &root)) < 0)
        return r;
    fs->root_id = pack_id(0, BTRFS_FIRST_FREE);
    set_label_uuid(fs);
    return IMGFMT_OK;
}

static void btrfs_unmount(struct ifmt_fs *fs)
{
    struct btrfs_fs *b = fs->priv;
    if (!b)
        return;
    free(b->chunks);
    free(b->trees);
    free(b->cache);
    free(b->dec);
#if IMGFMT_HAVE_ZSTD
    ZSTD_freeDCtx(b->zstd);
#endif
    free(b);
    fs->priv = NULL;
}

static bool btrfs_handles(enum imgfmt_fs_type t)
{
    return t == IMGFMT_FS_BTRFS;
}

const struct ifmt_fs_driver ifmt_btrfs_driver = {
    .name = "btrfs",
    .handles = btrfs_handles,
    .mount = btrfs_mount,
    .unmount = btrfs_unmount,
    .open_node = btrfs_open_node,
    .close_node = btrfs_close_node,
    .readdir = btrfs_readdir,
    .lookup = btrfs_lookup,
    .read = btrfs_read,
    .readlink = btrfs_readlink,
};
