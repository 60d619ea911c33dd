/*
 * ntfs-index.c -- directory indexes ($I30): the B+ tree rooted in
 * $INDEX_ROOT with its "INDX" blocks in $INDEX_ALLOCATION.  Listing walks
 * the tree in order (each index block at most once: a visited set); a
 * lookup descends one path, comparing names the way NTFS sorts them
 * (upper-cased through the volume's $UpCase table, then exact).
 *
 * Listing rules: DOS 8.3 aliases are skipped (each file is listed under
 * its Win32 or POSIX names), and so are the metadata files (records below
 * 16: $MFT, $Bitmap, ..., and the root's own "." entry), as ntfs-3g and
 * ntfsls do.  A lookup also matches a DOS alias, as Windows does.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "fs/ntfs-priv.h"

#define MASK48 0x0000FFFFFFFFFFFFull

static const uint8_t I30_NAME[8] = { '$', 0, 'I', 0, '3', 0, '0', 0 };

struct ntfs_index {
    uint64_t dir;               /* record number, for messages */
    struct ntfs_stream root;    /* $INDEX_ROOT value */
    struct ntfs_stream alloc;   /* $INDEX_ALLOCATION (alloc.size 0 if none) */
    uint32_t block_size, vcn_bytes;
    uint64_t nblocks;
    uint8_t *visited;           /* one bit per index block */
    uint64_t charged;
};

struct ntfs_entry {
    uint64_t ref;
    uint32_t len;
    uint32_t flags;
    const uint8_t *key;         /* $FILE_NAME value (not for the last entry) */
    uint64_t child_vcn;
};

static int ix_corrupt(struct ifmt_fs *fs, const struct ntfs_index *ix, uint64_t vcn,
                      const char *what)
{
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: directory %llu: index %s%s (VCN %llu)",
                         (unsigned long long)ix->dir, what,
                         vcn == UINT64_MAX ? " in the root" : "", (unsigned long long)
                         (vcn == UINT64_MAX ? 0 : vcn));
}

static int check_root(struct ifmt_fs *fs, struct ntfs_index *ix)
{
    const uint8_t *v = ix->root.data;
    if (ix->root.size < 32 || ifmt_le32(v) != NTFS_AT_FILE_NAME)
        return ix_corrupt(fs, ix, UINT64_MAX, "root too short or not a file-name index");
    if (ifmt_le32(v + 4) != NTFS_COLLATION_FILENAME)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "ntfs: directory %llu: index "
                             "collation %u", (unsigned long long)ix->dir, ifmt_le32(v + 4));
    uint32_t bs = ifmt_le32(v + 8);
    if (bs < 512 || bs > 65536 || (bs & (bs - 1)))
        return ix_corrupt(fs, ix, UINT64_MAX, "block size invalid");
    ix->block_size = bs;
    uint32_t cs = ntfs_vol(fs)->cluster_size;
    ix->vcn_bytes = bs >= cs ? cs : 512;
    return IMGFMT_OK;
}

int ntfs_index_open(struct ifmt_fs *fs, const struct ntfs_record *rec,
                    struct ntfs_index **out)
{
    *out = NULL;
    struct ntfs_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    ix->dir = rec->no;
    int r = ntfs_stream_load(fs, rec, NTFS_AT_INDEX_ROOT, I30_NAME, 4, &ix->root);
    if (r == IMGFMT_E_NOT_FOUND)
        r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: directory %llu has no $INDEX_ROOT",
                          (unsigned long long)rec->no);
    else if (r == 0 && !ix->root.resident)
        r = ix_corrupt(fs, ix, UINT64_MAX, "root not resident");
    if (r == 0)
        r = check_root(fs, ix);
    if (r == 0) {
        r = ntfs_stream_load(fs, rec, NTFS_AT_INDEX_ALLOC, I30_NAME, 4, &ix->alloc);
        if (r == IMGFMT_E_NOT_FOUND)
            r = 0;
        else if (r == 0 && (ix->alloc.resident || ix->alloc.unit_clusters))
            r = ix_corrupt(fs, ix, 0, "allocation resident or compressed");
    }
    if (r == 0) {
        ix->nblocks = ix->alloc.size / ix->block_size;
        ix->charged = ix->nblocks / 8 + 1;
        r = ifmt_fs_charge(fs, ix->charged, "index visited set");
        if (r < 0)
            ix->charged = 0;
        else if (!(ix->visited = calloc(1, (size_t)ix->charged)))
            r = ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    }
    if (r < 0) {
        ntfs_index_close(fs, ix);
        return r;
    }
    *out = ix;
    return IMGFMT_OK;
}

void ntfs_index_close(struct ifmt_fs *fs, struct ntfs_index *ix)
{
    if (!ix)
        return;
    ntfs_stream_free(fs, &ix->root);
    ntfs_stream_free(fs, &ix->alloc);
    ifmt_fs_uncharge(fs, ix->charged);
    free(ix->visited);
    free(ix);
}

uint64_t ntfs_index_alloc_size(const struct ntfs_index *ix)
{
    return ix->alloc.size;
}

/* Parse the entry at p (left bytes to the node's end). */
static int parse_entry(struct ifmt_fs *fs, const struct ntfs_index *ix, uint64_t vcn,
                       const uint8_t *p, size_t left, struct ntfs_entry *e)
{
    if (left < 16)
        return ix_corrupt(fs, ix, vcn, "entries run past the node");
    e->ref = ifmt_le64(p) & MASK48;
    e->len = ifmt_le16(p + 8);
    uint32_t key_len = ifmt_le16(p + 10);
    e->flags = ifmt_le32(p + 12);
    e->key = NULL;
    uint32_t tail = e->flags & NTFS_IE_SUBNODE ? 8 : 0;
    if (e->len < 16 + tail || e->len % 8 || e->len > left)
        return ix_corrupt(fs, ix, vcn, "entry length invalid");
    if (tail)
        e->child_vcn = ifmt_le64(p + e->len - 8);
    if (e->flags & NTFS_IE_LAST)
        return IMGFMT_OK;
    if (key_len < NTFS_FN_NAME || key_len > e->len - 16 - tail ||
        NTFS_FN_NAME + 2u * p[16 + NTFS_FN_NAME_LEN] > key_len)
        return ix_corrupt(fs, ix, vcn, "entry key invalid");
    e->key = p + 16;
    return IMGFMT_OK;
}

/* The node header at node, inside a buffer of avail bytes: entries range. */
static int node_range(struct ifmt_fs *fs, const struct ntfs_index *ix, uint64_t vcn,
                      const uint8_t *node, size_t avail, const uint8_t **begin,
                      const uint8_t **end)
{
    if (avail < 16)
        return ix_corrupt(fs, ix, vcn, "node header truncated");
    uint32_t first = ifmt_le32(node), len = ifmt_le32(node + 4);
    if (first < 16 || first > len || len > avail)
        return ix_corrupt(fs, ix, vcn, "node entries outside the node");
    *begin = node + first;
    *end = node + len;
    return IMGFMT_OK;
}

/* Read index block vcn into buf (block_size bytes), fix-ups applied. */
static int read_block(struct ifmt_fs *fs, struct ntfs_index *ix, uint64_t vcn, uint8_t *buf)
{
    uint64_t off;
    if (ifmt_mul_overflow(vcn, ix->vcn_bytes, &off) || off % ix->block_size ||
        off / ix->block_size >= ix->nblocks)
        return ix_corrupt(fs, ix, vcn, "block outside $INDEX_ALLOCATION");
    int r = ntfs_stream_read(fs, &ix->alloc, buf, ix->block_size, off, "index block");
    if (r < 0)
        return r;
    unsigned stride;
    if (memcmp(buf, "INDX", 4) != 0)
        return ix_corrupt(fs, ix, vcn, "block without INDX signature");
    if (ntfs_apply_fixups(buf, ix->block_size, &stride) < 0)
        return ix_corrupt(fs, ix, vcn, "block fix-ups invalid");
    if (ifmt_le64(buf + NTFS_INDX_VCN) != vcn)
        return ix_corrupt(fs, ix, vcn, "block names another VCN");
    return IMGFMT_OK;
}

/* ---- listing ---------------------------------------------------------- */

static enum imgfmt_file_type key_type(const uint8_t *key)
{
    uint32_t fa = ifmt_le32(key + NTFS_FN_ATTRS);
    if (fa & (NTFS_FA_REPARSE | NTFS_FA_SYSTEM))
        return IMGFMT_FILE_UNKNOWN;
    return fa & NTFS_FA_DIRECTORY ? IMGFMT_FILE_DIR : IMGFMT_FILE_REG;
}

static int emit(struct ifmt_fs *fs, const struct ntfs_entry *e, ifmt_dirent_fn *fn,
                void *opaque)
{
    if (e->key[NTFS_FN_NAMESPACE] == NTFS_NS_DOS || e->ref < NTFS_FIRST_USER)
        return 0;
    char name[1024];
    int n = ifmt_utf16le_to_utf8(e->key + NTFS_FN_NAME, e->key[NTFS_FN_NAME_LEN], name,
                                 sizeof name);
    if (n <= 0)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: empty file name",
                             (unsigned long long)e->ref);
    return fn(opaque, name, (size_t)n, e->ref, key_type(e->key));
}

static int list_block(struct ifmt_fs *fs, struct ntfs_index *ix, uint64_t vcn,
                      unsigned depth, ifmt_dirent_fn *fn, void *opaque);

/* In-order walk of one node: each entry's subtree, then the entry. */
static int list_node(struct ifmt_fs *fs, struct ntfs_index *ix, uint64_t vcn,
                     const uint8_t *node, size_t avail, unsigned depth, ifmt_dirent_fn *fn,
                     void *opaque)
{
    const uint8_t *p, *end;
    int r = node_range(fs, ix, vcn, node, avail, &p, &end);
    while (r == 0) {
        struct ntfs_entry e;
        if ((r = parse_entry(fs, ix, vcn, p, (size_t)(end - p), &e)) < 0)
            return r;
        if (e.flags & NTFS_IE_SUBNODE &&
            (r = list_block(fs, ix, e.child_vcn, depth + 1, fn, opaque)) != 0)
            return r;
        if (e.flags & NTFS_IE_LAST)
            return 0;
        if ((r = emit(fs, &e, fn, opaque)) != 0)
            return r;
        p += e.len;
    }
    return r;
}

static int list_block(struct ifmt_fs *fs, struct ntfs_index *ix, uint64_t vcn,
                      unsigned depth, ifmt_dirent_fn *fn, void *opaque)
{
    if (depth > NTFS_MAX_INDEX_DEPTH)
        return ifmt_fs_error(fs, IMGFMT_E_LIMIT, "ntfs: directory %llu: index deeper than "
                             "%u levels", (unsigned long long)ix->dir, NTFS_MAX_INDEX_DEPTH);
    uint64_t off;
    if (ifmt_mul_overflow(vcn, ix->vcn_bytes, &off) || off / ix->block_size >= ix->nblocks)
        return ix_corrupt(fs, ix, vcn, "block outside $INDEX_ALLOCATION");
    uint64_t b = off / ix->block_size;
    if (ix->visited[b / 8] & (1u << (b % 8)))
        return ix_corrupt(fs, ix, vcn, "block reached twice (a cycle)");
    ix->visited[b / 8] |= (uint8_t)(1u << (b % 8));
    int r = ifmt_fs_charge(fs, ix->block_size, "index block");
    if (r < 0)
        return r;
    uint8_t *buf = malloc(ix->block_size);
    if (!buf)
        r = ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    else if ((r = read_block(fs, ix, vcn, buf)) == 0)
        r = list_node(fs, ix, vcn, buf + NTFS_INDX_NODE, ix->block_size - NTFS_INDX_NODE,
                      depth, fn, opaque);
    free(buf);
    ifmt_fs_uncharge(fs, ix->block_size);
    return r;
}

int ntfs_index_list(struct ifmt_fs *fs, struct ntfs_index *ix, ifmt_dirent_fn *fn,
                    void *opaque)
{
    memset(ix->visited, 0, (size_t)ix->charged);
    int r = list_node(fs, ix, UINT64_MAX, ix->root.data + NTFS_IR_NODE,
                      (size_t)ix->root.size - NTFS_IR_NODE, 0, fn, opaque);
    return r > 0 ? 0 : r;
}

/* ---- lookup ----------------------------------------------------------- */

/* NTFS file-name order: upper-cased code units, then length; 0 if equal. */
static int collate_ci(const uint16_t *up, const uint16_t *a, size_t na, const uint8_t *b,
                      size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++) {
        uint16_t x = up[a[i]], y = up[ifmt_le16(b + 2 * i)];
        if (x != y)
            return x < y ? -1 : 1;
    }
    return na == nb ? 0 : na < nb ? -1 : 1;
}

static int collate_exact(const uint16_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++) {
        uint16_t y = ifmt_le16(b + 2 * i);
        if (a[i] != y)
            return a[i] < y ? -1 : 1;
    }
    return na == nb ? 0 : na < nb ? -1 : 1;
}

struct find_state {
    const uint16_t *name;
    size_t len;
    uint64_t found;             /* a case-insensitive match, + 1 */
    enum imgfmt_file_type type;
};

/* Search one node: 1 exact match, 0 with *child set (or UINT64_MAX: leaf). */
static int find_in_node(struct ifmt_fs *fs, struct ntfs_index *ix, uint64_t vcn,
                        const uint8_t *node, size_t avail, struct find_state *st,
                        uint64_t *child)
{
    const uint16_t *up = ntfs_vol(fs)->upcase;
    const uint8_t *p, *end;
    int r = node_range(fs, ix, vcn, node, avail, &p, &end);
    while (r == 0) {
        struct ntfs_entry e;
        if ((r = parse_entry(fs, ix, vcn, p, (size_t)(end - p), &e)) < 0)
            return r;
        int c = -1;
        if (!(e.flags & NTFS_IE_LAST)) {
            const uint8_t *nm = e.key + NTFS_FN_NAME;
            size_t nl = e.key[NTFS_FN_NAME_LEN];
            c = collate_ci(up, st->name, st->len, nm, nl);
            if (c == 0 && e.ref >= NTFS_FIRST_USER) {
                if (!st->found) {
                    st->found = e.ref + 1;
                    st->type = key_type(e.key);
                }
                if ((c = collate_exact(st->name, st->len, nm, nl)) == 0) {
                    st->found = e.ref + 1;
                    st->type = key_type(e.key);
                    return 1;
                }
            }
        }
        if (c < 0) {
            *child = e.flags & NTFS_IE_SUBNODE ? e.child_vcn : UINT64_MAX;
            return 0;
        }
        p += e.len;
    }
    return r;
}

int ntfs_index_find(struct ifmt_fs *fs, struct ntfs_index *ix, const uint16_t *name,
                    size_t name_len, uint64_t *id, enum imgfmt_file_type *type)
{
    struct find_state st = { name, name_len, 0, IMGFMT_FILE_UNKNOWN };
    uint64_t child = UINT64_MAX;
    int r = find_in_node(fs, ix, UINT64_MAX, ix->root.data + NTFS_IR_NODE,
                         (size_t)ix->root.size - NTFS_IR_NODE, &st, &child);
    uint8_t *buf = NULL;
    for (unsigned depth = 1; r == 0 && child != UINT64_MAX; depth++) {
        if (depth > NTFS_MAX_INDEX_DEPTH) {
            r = ifmt_fs_error(fs, IMGFMT_E_LIMIT, "ntfs: directory %llu: index deeper "
                              "than %u levels", (unsigned long long)ix->dir,
                              NTFS_MAX_INDEX_DEPTH);
            break;
        }
        if (!buf && !(buf = malloc(ix->block_size))) {
            r = ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
            break;
        }
        uint64_t vcn = child;
        child = UINT64_MAX;
        if ((r = read_block(fs, ix, vcn, buf)) == 0)
            r = find_in_node(fs, ix, vcn, buf + NTFS_INDX_NODE,
                             ix->block_size - NTFS_INDX_NODE, &st, &child);
    }
    free(buf);
    if (r < 0)
        return r;
    if (!st.found)
        return IMGFMT_E_NOT_FOUND;
    *id = st.found - 1;
    if (type)
        *type = st.type;
    return IMGFMT_OK;
}

long ntfs_utf8_to_utf16(const char *s, size_t n, uint16_t *out, size_t cap)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = p[i], need;
        if (c < 0x80)
            need = 0;
        else if ((c & 0xE0) == 0xC0)
            need = 1, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0)
            need = 2, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0)
            need = 3, c &= 0x07;
        else
            return -1;
        if (need > n - i - 1)
            return -1;
        for (uint32_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return -1;
            c = c << 6 | (p[i + k] & 0x3F);
        }
        static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
        if (c < min[need] || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000))
            return -1;
        i += need + 1;
        if (c >= 0x10000) {
            if (o + 2 > cap)
                return -1;
            c -= 0x10000;
            out[o++] = (uint16_t)(0xD800 + (c >> 10));
            out[o++] = (uint16_t)(0xDC00 + (c & 0x3FF));
        } else {
            if (o + 1 > cap)
                return -1;
            out[o++] = (uint16_t)c;
        }
    }
    return (long)o;
}
