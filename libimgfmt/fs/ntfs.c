/*
 * ntfs.c -- the read-only NTFS driver: mounting (boot sector or its
 * backup, the $MFT's own runlist, $UpCase, $Volume), nodes, and the ops
 * table.  Records, attributes and data live in ntfs-attr.c, directory
 * indexes in ntfs-index.c, LZNT1 in ntfs-lznt1.c.
 *
 * What a node looks like from outside:
 *  - ids are MFT record numbers (the 48-bit part of a file reference);
 *  - NTFS has no POSIX owners or modes: like ntfs-3g without a user
 *    mapping, directories are 0755, files 0644, symlinks 0777, uid and
 *    gid 0; times come from $STANDARD_INFORMATION (atime = accessed,
 *    mtime = data modified, ctime = MFT record changed, btime = created);
 *  - nlink counts the file's names, a Win32 name and its DOS alias once;
 *  - only the unnamed $DATA stream is content (alternate streams are
 *    ignored);
 *  - symlinks are reparse points (symbolic links and junctions) and
 *    ntfs-3g's Interix links; a target on a drive letter ("\??\C:\x") is
 *    taken to be on this volume and reported as the guest path "/x";
 *    targets elsewhere (volume GUIDs, UNC shares) are reported as stored;
 *  - EFS-encrypted files, WOF-compressed files and other reparse points
 *    (dedup, cloud files) are listed and stat'ed, their content refused
 *    (UNSUPPORTED naming why).
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "fs/ntfs-priv.h"

#define MAX_REPARSE 16384u
#define MAX_INTERIX 8192u

/* ---- mounting --------------------------------------------------------- */

static bool valid_pow2(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

/* Check one boot sector; NULL if usable, else why not. */
static const char *parse_boot(const uint8_t *b, uint64_t dev_size, struct ntfs_vol *v)
{
    if (memcmp(b + NTFS_OEM_OFF, "NTFS    ", 8) != 0)
        return "no NTFS signature";
    if (b[510] != 0x55 || b[511] != 0xAA)
        return "no 0x55AA trailer";
    v->sector_size = ifmt_le16(b + NTFS_BPS_OFF);
    if (!valid_pow2(v->sector_size, 256, 4096))
        return "bytes per sector invalid";
    uint8_t spc = b[NTFS_SPC_OFF];
    uint64_t cs = spc > 0x80 ? (256u - spc < 32 ? 1ull << (256u - spc) : 0)
                             : (uint64_t)spc * v->sector_size;
    if (!valid_pow2(cs, v->sector_size, 2u << 20))
        return "sectors per cluster invalid";
    v->cluster_size = (uint32_t)cs;
    uint64_t sectors = ifmt_le64(b + NTFS_SECTORS_OFF), bytes;
    if (sectors == 0 || ifmt_mul_overflow(sectors, v->sector_size, &bytes) ||
        bytes > (1ull << 62))
        return "sector count invalid";
    (void)dev_size;
    v->total_clusters = bytes / cs;
    uint64_t rs = ntfs_size_code((int8_t)b[NTFS_REC_SIZE_OFF], v->cluster_size);
    uint64_t is = ntfs_size_code((int8_t)b[NTFS_IDX_SIZE_OFF], v->cluster_size);
    if (!valid_pow2(rs, 512, 65536) || !valid_pow2(is, 512, 65536))
        return "MFT record or index block size invalid";
    v->record_size = (uint32_t)rs;
    v->index_size = (uint32_t)is;
    if (ifmt_le64(b + NTFS_MFT_LCN_OFF) >= v->total_clusters)
        return "$MFT location beyond the volume";
    return NULL;
}

static int mount_boot(struct ifmt_fs *fs, struct ntfs_vol *v, uint8_t *boot)
{
    int r = ifmt_fs_read(fs, boot, 512, 0, "boot sector");
    if (r < 0)
        return r;
    if (memcmp(boot + NTFS_OEM_OFF, "-FVE-FS-", 8) == 0)
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "ntfs: %s is BitLocker-encrypted "
                             "(-FVE-FS-): not readable", fs->dev.name);
    const char *why = parse_boot(boot, fs->dev.size, v);
    if (!why)
        return IMGFMT_OK;
    /* The backup copy sits in the last sector of the volume. */
    static const uint32_t sector_sizes[] = { 512, 4096 };
    for (size_t i = 0; i < 2; i++) {
        uint64_t end = fs->dev.size / sector_sizes[i] * sector_sizes[i];
        if (end < 2 * (uint64_t)sector_sizes[i])
            continue;
        uint64_t at = end - sector_sizes[i];
        if (ifmt_fs_read(fs, boot, 512, at, "backup boot sector") < 0 ||
            parse_boot(boot, fs->dev.size, v) != NULL)
            continue;
        ifmt_fs_warn(fs, "ntfs: boot sector invalid (%s): using the backup at byte %llu",
                     why, (unsigned long long)at);
        return IMGFMT_OK;
    }
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: %s: boot sector invalid (%s), and no "
                         "valid backup at the end", fs->dev.name, why);
}

static void update_nrecords(struct ntfs_vol *v)
{
    uint64_t mapped = v->mft.next_vcn * v->cluster_size;
    uint64_t bytes = v->mft.size < mapped ? v->mft.size : mapped;
    v->nrecords = bytes / v->record_size;
}

static int add_mft_extent(struct ifmt_fs *fs, const struct ntfs_attr *at, void *opaque)
{
    struct ntfs_vol *v = opaque;
    if (at->name_len != 0)
        return 0;
    if (!at->nonresident)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: $MFT data is resident");
    if (ifmt_le64(at->a + 16) < v->mft.next_vcn)
        return 0;       /* already mapped from record 0 */
    int r = ntfs_stream_add_extent(fs, &v->mft, at);
    if (r == 0)
        update_nrecords(v);
    return r;
}

/* $MFT's own $DATA: the extents in record 0, then those its attribute
 * list places in other records (reachable through what is mapped so far). */
static int mount_mft(struct ifmt_fs *fs, struct ntfs_vol *v, uint64_t mft_lcn)
{
    uint8_t *buf = v->scratch;
    int r = ifmt_fs_read(fs, buf, v->record_size, mft_lcn * v->cluster_size, "$MFT record 0");
    if (r == 0)
        r = ntfs_check_record(fs, 0, buf, true);
    uint32_t pos = 0;
    struct ntfs_attr at;
    while (r == 0 && (r = ntfs_attr_next(fs, 0, buf, &pos, &at)) == 1)
        r = at.type == NTFS_AT_DATA ? add_mft_extent(fs, &at, v) : 0;
    if (r < 0)
        return r;
    if (v->mft.nruns == 0 || v->mft.unit_clusters)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: $MFT has no usable $DATA");
    if (v->mft.runs[0].lcn != mft_lcn)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: $MFT data starts at cluster %llu, "
                             "the boot sector says %llu",
                             (unsigned long long)v->mft.runs[0].lcn,
                             (unsigned long long)mft_lcn);
    update_nrecords(v);
    struct ntfs_record rec;
    if ((r = ntfs_record_open(fs, 0, &rec)) < 0)
        return r;
    if (rec.alist)
        r = ntfs_for_each_attr(fs, &rec, NTFS_AT_DATA, add_mft_extent, v);
    ntfs_record_close(fs, &rec);
    if (r == 0 && ifmt_div_round_up(v->mft.size, v->cluster_size) > v->mft.next_vcn)
        r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: $MFT runlist maps %llu clusters of "
                          "its %llu bytes", (unsigned long long)v->mft.next_vcn,
                          (unsigned long long)v->mft.size);
    return r;
}

static int load_upcase(struct ifmt_fs *fs, struct ntfs_vol *v)
{
    struct ntfs_record rec;
    struct ntfs_stream s;
    uint8_t *raw = NULL;
    int r = ntfs_record_open(fs, NTFS_REC_UPCASE, &rec);
    if (r < 0)
        return r;
    r = ntfs_stream_load(fs, &rec, NTFS_AT_DATA, NULL, 0, &s);
    ntfs_record_close(fs, &rec);
    if (r == IMGFMT_E_NOT_FOUND)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: $UpCase has no data");
    if (r < 0)
        return r;
    if (s.size != 131072)
        r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: $UpCase is %llu bytes, not 131072",
                          (unsigned long long)s.size);
    else
        r = ntfs_stream_slurp(fs, &s, 131072, "$UpCase", &raw);
    ntfs_stream_free(fs, &s);
    if (r < 0)
        return r;
    for (uint32_t i = 0; i < 65536; i++)
        v->upcase[i] = ifmt_le16(raw + 2 * i);
    free(raw);
    ifmt_fs_uncharge(fs, 131072);
    return IMGFMT_OK;
}

static int volume_attr(struct ifmt_fs *fs, const struct ntfs_attr *at, void *opaque)
{
    bool *dirty = opaque;
    if (at->nonresident)
        return 0;
    if (at->type == NTFS_AT_VOLUME_NAME && at->value_len / 2 > 0) {
        if (ifmt_utf16le_to_utf8(at->value, at->value_len / 2, fs->label,
                                 sizeof fs->label) < 0)
            fs->label[0] = '\0';
    } else if (at->type == NTFS_AT_VOLUME_INFO && at->value_len >= 12) {
        *dirty = ifmt_le16(at->value + 10) & NTFS_VOLUME_DIRTY;
    }
    return 0;
}

/* Label and dirty flag from $Volume; problems there are only warnings. */
static void read_volume(struct ifmt_fs *fs)
{
    struct ntfs_record rec;
    bool dirty = false;
    int r = ntfs_record_open(fs, NTFS_REC_VOLUME, &rec);
    if (r == 0) {
        r = ntfs_for_each_attr(fs, &rec, NTFS_AT_VOLUME_NAME, volume_attr, &dirty);
        if (r == 0)
            r = ntfs_for_each_attr(fs, &rec, NTFS_AT_VOLUME_INFO, volume_attr, &dirty);
        ntfs_record_close(fs, &rec);
    }
    if (r < 0)
        ifmt_fs_warn(fs, "ntfs: $Volume unreadable (%s): no label", fs->err.msg);
    if (dirty)
        ifmt_fs_warn(fs, "ntfs: volume dirty flag set (not cleanly unmounted, or chkdsk "
                     "pending): recent changes may be missing or inconsistent");
}

/* hiberfil.sys starting with "hibr" is a hibernated Windows (also Fast
 * Startup): what is on the volume may be older than what Windows saw. */
static void check_hibernation(struct ifmt_fs *fs)
{
    static const char name[] = "hiberfil.sys";
    uint16_t u[sizeof name];
    for (size_t i = 0; i < sizeof name - 1; i++)
        u[i] = (uint16_t)name[i];
    struct ntfs_record rec;
    struct ntfs_index *ix;
    uint64_t id;
    if (ntfs_record_open(fs, NTFS_REC_ROOT, &rec) < 0)
        return;
    int r = ntfs_index_open(fs, &rec, &ix);
    ntfs_record_close(fs, &rec);
    if (r < 0)
        return;
    r = ntfs_index_find(fs, ix, u, sizeof name - 1, &id, NULL);
    ntfs_index_close(fs, ix);
    if (r < 0 || ntfs_record_open(fs, id, &rec) < 0)
        return;
    struct ntfs_stream s;
    uint8_t magic[4];
    if (ntfs_stream_load(fs, &rec, NTFS_AT_DATA, NULL, 0, &s) == 0) {
        if (s.size >= 4 && ntfs_stream_read(fs, &s, magic, 4, 0, "hiberfil.sys") == 0 &&
            (memcmp(magic, "hibr", 4) == 0 || memcmp(magic, "HIBR", 4) == 0))
            ifmt_fs_warn(fs, "ntfs: hiberfil.sys holds a hibernated Windows (Fast "
                         "Startup): files may be older than what Windows last saw");
        ntfs_stream_free(fs, &s);
    }
    ntfs_record_close(fs, &rec);
}

static int ntfs_mount(struct ifmt_fs *fs)
{
    struct ntfs_vol *v = calloc(1, sizeof *v);
    if (!v)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    fs->priv = v;
    uint8_t boot[512];
    int r = mount_boot(fs, v, boot);
    if (r < 0)
        return r;
    if ((uint64_t)v->total_clusters * v->cluster_size > fs->dev.size)
        ifmt_fs_warn(fs, "ntfs: the volume is %llu bytes, its device %llu: truncated image",
                     (unsigned long long)v->total_clusters * v->cluster_size,
                     (unsigned long long)fs->dev.size);
    v->scratch = malloc(v->record_size);
    v->upcase = malloc(65536 * sizeof *v->upcase);
    if (!v->scratch || !v->upcase)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    if ((r = mount_mft(fs, v, ifmt_le64(boot + NTFS_MFT_LCN_OFF))) < 0)
        return r;
    if ((r = load_upcase(fs, v)) == IMGFMT_E_CORRUPT) {
        ifmt_fs_warn(fs, "%s: names compare case-insensitively in ASCII only", fs->err.msg);
        for (uint32_t i = 0; i < 65536; i++)
            v->upcase[i] = (uint16_t)(i >= 'a' && i <= 'z' ? i - 32 : i);
    } else if (r < 0) {
        return r;
    }
    struct ntfs_record root;
    if ((r = ntfs_record_open(fs, NTFS_REC_ROOT, &root)) < 0)
        return r;
    bool dir = ifmt_le16(root.buf + NTFS_REC_FLAGS) & NTFS_REC_IS_DIR;
    ntfs_record_close(fs, &root);
    if (!dir)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: root record 5 is not a directory");
    fs->root_id = NTFS_REC_ROOT;
    snprintf(fs->uuid, sizeof fs->uuid, "%016llX",
             (unsigned long long)ifmt_le64(boot + NTFS_SERIAL_OFF));
    read_volume(fs);
    check_hibernation(fs);
    return IMGFMT_OK;
}

static void ntfs_unmount(struct ifmt_fs *fs)
{
    struct ntfs_vol *v = fs->priv;
    if (!v)
        return;
    ntfs_stream_free(fs, &v->mft);
    free(v->upcase);
    free(v->scratch);
    free(v);
    fs->priv = NULL;
}

/* ---- symlink targets -------------------------------------------------- */

/* Turn a Windows path (UTF-8, backslashes) into what readlink reports. */
static int make_target(struct ifmt_fs *fs, struct ntfs_node *n, char *path, bool relative)
{
    char *p = path;
    if (!relative) {
        if (strncmp(p, "\\??\\", 4) == 0 || strncmp(p, "\\\\?\\", 4) == 0)
            p += 4;
        bool drive = ((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z') && p[1] == ':' &&
                     (p[2] == '\\' || p[2] == '\0');
        if (drive) {
            p += 2;             /* "C:\x" -> "\x" -> "/x"; "C:" -> "/" */
            if (*p == '\0')
                *--p = '\\';
        } else {
            p = path;           /* outside the volume: as stored */
        }
    }
    if (relative || p != path)
        for (char *c = p; *c; c++)
            if (*c == '\\')
                *c = '/';
    n->target_len = strlen(p);
    n->target = malloc(n->target_len + 1);
    if (!n->target)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    memcpy(n->target, p, n->target_len + 1);
    return IMGFMT_OK;
}

/* Symbolic link or junction reparse data (rp, len bytes). */
static int reparse_target(struct ifmt_fs *fs, uint64_t id, struct ntfs_node *n,
                          const uint8_t *rp, size_t len)
{
    size_t hdr = n->tag == NTFS_TAG_SYMLINK ? 20 : 16;
    if (len < hdr || ifmt_le16(rp + 4) > len - 8 || ifmt_le16(rp + 4) < hdr - 8)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: reparse data "
                             "truncated", (unsigned long long)id);
    size_t buf_len = ifmt_le16(rp + 4) - (hdr - 8);
    const uint8_t *pathbuf = rp + hdr;
    size_t so = ifmt_le16(rp + 8), sl = ifmt_le16(rp + 10);
    size_t po = ifmt_le16(rp + 12), pl = ifmt_le16(rp + 14);
    if (sl == 0) {
        so = po;
        sl = pl;
    }
    if (so > buf_len || sl > buf_len - so || sl % 2 || sl == 0)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: reparse target "
                             "outside its data", (unsigned long long)id);
    char path[4 * 8192 + 4];
    if (ifmt_utf16le_to_utf8(pathbuf + so, sl / 2, path, sizeof path) < 0)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: reparse target too "
                             "long", (unsigned long long)id);
    bool relative = n->tag == NTFS_TAG_SYMLINK && (ifmt_le32(rp + 16) & NTFS_SYMLINK_RELATIVE);
    return make_target(fs, n, path, relative);
}

/* ---- nodes ------------------------------------------------------------ */

static int count_name(struct ifmt_fs *fs, const struct ntfs_attr *at, void *opaque)
{
    (void)fs;
    if (!at->nonresident && at->value_len > NTFS_FN_NAMESPACE &&
        at->value[NTFS_FN_NAMESPACE] != NTFS_NS_DOS)
        (*(uint64_t *)opaque)++;
    return 0;
}

static void set_times(imgfmt_stat *st, const uint8_t *si)
{
    ntfs_filetime(ifmt_le64(si + 0), &st->btime.sec, &st->btime.nsec);
    ntfs_filetime(ifmt_le64(si + 8), &st->mtime.sec, &st->mtime.nsec);
    ntfs_filetime(ifmt_le64(si + 16), &st->ctime.sec, &st->ctime.nsec);
    ntfs_filetime(ifmt_le64(si + 24), &st->atime.sec, &st->atime.nsec);
}

static int read_std_info(struct ifmt_fs *fs, const struct ntfs_record *rec,
                         struct ntfs_node *n, imgfmt_stat *st)
{
    uint32_t pos = 0;
    struct ntfs_attr at;
    int r;
    while ((r = ntfs_attr_next(fs, rec->no, rec->buf, &pos, &at)) == 1) {
        if (at.type != NTFS_AT_STANDARD_INFO)
            continue;
        if (at.nonresident || at.value_len < 48)
            break;
        set_times(st, at.value);
        n->fa = ifmt_le32(at.value + 32);
        return IMGFMT_OK;
    }
    return r < 0 ? r : ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: no usable "
                                     "$STANDARD_INFORMATION", (unsigned long long)rec->no);
}

static int read_reparse(struct ifmt_fs *fs, const struct ntfs_record *rec,
                        struct ntfs_node *n)
{
    struct ntfs_stream s;
    uint8_t *rp;
    int r = ntfs_stream_load(fs, rec, NTFS_AT_REPARSE, NULL, 0, &s);
    if (r == IMGFMT_E_NOT_FOUND)
        return IMGFMT_OK;
    if (r == 0)
        r = ntfs_stream_slurp(fs, &s, MAX_REPARSE, "reparse data", &rp);
    size_t len = (size_t)s.size;
    ntfs_stream_free(fs, &s);
    if (r < 0)
        return r;
    if (len < 8) {
        r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: reparse data of %zu "
                          "bytes", (unsigned long long)rec->no, len);
    } else {
        n->tag = ifmt_le32(rp);
        if (n->tag == NTFS_TAG_SYMLINK || n->tag == NTFS_TAG_MOUNT_POINT)
            r = reparse_target(fs, rec->no, n, rp, len);
        else
            n->refuse = n->tag == NTFS_TAG_WOF ? NTFS_READ_WOF : NTFS_READ_REPARSE;
    }
    free(rp);
    ifmt_fs_uncharge(fs, len);
    return r;
}

/* ntfs-3g's Interix files: a system file whose data starts "IntxLNK\1"
 * (a symlink, UTF-16 target follows) or "IntxCHR\0"/"IntxBLK\0" (a device,
 * u64 major and minor follow). */
static int read_interix(struct ifmt_fs *fs, uint64_t id, struct ntfs_node *n,
                        imgfmt_stat *st)
{
    uint64_t size = n->data.size;
    if (!(n->fa & NTFS_FA_SYSTEM) || size < 8 || size > MAX_INTERIX || n->refuse)
        return IMGFMT_OK;
    uint8_t b[MAX_INTERIX];
    int r = ntfs_stream_read(fs, &n->data, b, (size_t)size, 0, "Interix file");
    if (r < 0)
        return r;
    if (memcmp(b, "IntxLNK\1", 8) == 0 && size % 2 == 0) {
        char path[3 * MAX_INTERIX / 2 + 4];
        if (ifmt_utf16le_to_utf8(b + 8, (size_t)(size - 8) / 2, path, sizeof path) <= 0)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: empty Interix "
                                 "link", (unsigned long long)id);
        st->type = IMGFMT_FILE_SYMLINK;
        return make_target(fs, n, path, true);
    }
    bool chr = memcmp(b, "IntxCHR\0", 8) == 0, blk = memcmp(b, "IntxBLK\0", 8) == 0;
    if ((chr || blk) && size == 24) {
        st->type = chr ? IMGFMT_FILE_CHR : IMGFMT_FILE_BLK;
        st->rdev_major = (uint32_t)ifmt_le64(b + 8);
        st->rdev_minor = (uint32_t)ifmt_le64(b + 16);
    }
    return IMGFMT_OK;
}

static int open_file_data(struct ifmt_fs *fs, const struct ntfs_record *rec,
                          struct ntfs_node *n, imgfmt_stat *st)
{
    int r = ntfs_stream_load(fs, rec, NTFS_AT_DATA, NULL, 0, &n->data);
    if (r == IMGFMT_E_NOT_FOUND) {
        memset(&n->data, 0, sizeof n->data);
        n->data.resident = true;
        r = 0;
    }
    if (r < 0)
        return r;
    if (n->data.flags & NTFS_ATTR_COMPRESSED)
        st->flags |= IMGFMT_STAT_COMPRESSED;
    if (n->data.flags & NTFS_ATTR_SPARSE)
        st->flags |= IMGFMT_STAT_SPARSE;
    if ((n->data.flags & NTFS_ATTR_ENCRYPTED) || (n->fa & NTFS_FA_ENCRYPTED)) {
        st->flags |= IMGFMT_STAT_ENCRYPTED;
        n->refuse = NTFS_READ_EFS;
    }
    if ((n->data.flags & NTFS_ATTR_COMPRESSED) && !n->data.unit_clusters &&
        !n->data.resident && !n->refuse)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: compressed data "
                             "without a compression unit", (unsigned long long)rec->no);
    st->size = n->data.size;
    return read_interix(fs, rec->no, n, st);
}

static int fill_node(struct ifmt_fs *fs, const struct ntfs_record *rec, struct ntfs_node *n,
                     imgfmt_stat *st)
{
    int r = read_std_info(fs, rec, n, st);
    if (r == 0)
        r = ntfs_for_each_attr(fs, rec, NTFS_AT_FILE_NAME, count_name, &st->nlink);
    if (r == 0)
        r = read_reparse(fs, rec, n);
    if (r < 0)
        return r;
    if (n->fa & NTFS_FA_REPARSE || n->tag)
        st->flags |= IMGFMT_STAT_REPARSE;
    if (n->target) {
        st->type = IMGFMT_FILE_SYMLINK;
        st->size = n->target_len;
        st->mode = 0120777;
        return IMGFMT_OK;
    }
    if (ifmt_le16(rec->buf + NTFS_REC_FLAGS) & NTFS_REC_IS_DIR) {
        st->type = IMGFMT_FILE_DIR;
        st->mode = 040755;
        if ((r = ntfs_index_open(fs, rec, &n->ix)) < 0)
            return r;
        st->size = ntfs_index_alloc_size(n->ix);
        return IMGFMT_OK;
    }
    st->type = IMGFMT_FILE_REG;
    if ((r = open_file_data(fs, rec, n, st)) < 0)
        return r;
    static const uint32_t fmt[] = { [IMGFMT_FILE_REG] = 0100000, [IMGFMT_FILE_SYMLINK] =
                                    0120000, [IMGFMT_FILE_CHR] = 020000,
                                    [IMGFMT_FILE_BLK] = 060000 };
    st->mode = fmt[st->type] | (st->type == IMGFMT_FILE_SYMLINK ? 0777 : 0644);
    if (st->type == IMGFMT_FILE_SYMLINK) {
        st->size = n->target_len;
        ntfs_stream_free(fs, &n->data);
    }
    return IMGFMT_OK;
}

static void free_node(struct ifmt_fs *fs, struct ntfs_node *n)
{
    ntfs_stream_free(fs, &n->data);
    ntfs_index_close(fs, n->ix);
    free(n->target);
    free(n);
}

static int ntfs_open_node(struct ifmt_fs *fs, uint64_t id, struct ifmt_node *node)
{
    memset(&node->st, 0, sizeof node->st);
    node->id = id;
    node->priv = NULL;
    struct ntfs_node *n = calloc(1, sizeof *n);
    if (!n)
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    struct ntfs_record rec;
    int r = ntfs_record_open(fs, id, &rec);
    if (r == 0) {
        node->st.ino = id;
        r = fill_node(fs, &rec, n, &node->st);
        ntfs_record_close(fs, &rec);
    }
    if (r < 0) {
        free_node(fs, n);
        return r;
    }
    node->priv = n;
    return IMGFMT_OK;
}

static void ntfs_close_node(struct ifmt_fs *fs, struct ifmt_node *node)
{
    if (node->priv)
        free_node(fs, node->priv);
    node->priv = NULL;
}

static int ntfs_readdir(struct ifmt_fs *fs, struct ifmt_node *dir, ifmt_dirent_fn *fn,
                        void *opaque)
{
    struct ntfs_node *n = dir->priv;
    if (!n || !n->ix)
        return ifmt_fs_error(fs, IMGFMT_E_NOT_DIR, "ntfs: record %llu is not a directory",
                             (unsigned long long)dir->id);
    return ntfs_index_list(fs, n->ix, fn, opaque);
}

static int ntfs_lookup(struct ifmt_fs *fs, struct ifmt_node *dir, const char *name,
                       size_t name_len, uint64_t *id, enum imgfmt_file_type *type)
{
    struct ntfs_node *n = dir->priv;
    if (!n || !n->ix)
        return ifmt_fs_error(fs, IMGFMT_E_NOT_DIR, "ntfs: record %llu is not a directory",
                             (unsigned long long)dir->id);
    uint16_t u[256];
    long len = ntfs_utf8_to_utf16(name, name_len, u, 255);
    if (len <= 0)
        return IMGFMT_E_NOT_FOUND;    /* no NTFS name can be spelled so */
    return ntfs_index_find(fs, n->ix, u, (size_t)len, id, type);
}

static int ntfs_read(struct ifmt_fs *fs, struct ifmt_node *node, void *buf, size_t len,
                     uint64_t off)
{
    struct ntfs_node *n = node->priv;
    if (!n || node->st.type != IMGFMT_FILE_REG)
        return ifmt_fs_error(fs, IMGFMT_E_INVAL, "ntfs: record %llu is not a regular file",
                             (unsigned long long)node->id);
    switch (n->refuse) {
    case NTFS_READ_EFS:
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "ntfs: record %llu is EFS-encrypted: "
                             "content not readable", (unsigned long long)node->id);
    case NTFS_READ_WOF:
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "ntfs: record %llu is WOF-compressed "
                             "(reparse tag 0x80000017): content not read",
                             (unsigned long long)node->id);
    case NTFS_READ_REPARSE:
        return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "ntfs: record %llu is a reparse point "
                             "with tag 0x%08X: content not read",
                             (unsigned long long)node->id, n->tag);
    case NTFS_READ_OK:
        break;
    }
    return ntfs_stream_read(fs, &n->data, buf, len, off, "file data");
}

static int ntfs_readlink(struct ifmt_fs *fs, struct ifmt_node *node, char **out,
                         size_t *len)
{
    struct ntfs_node *n = node->priv;
    if (!n || !n->target)
        return ifmt_fs_error(fs, IMGFMT_E_INVAL, "ntfs: record %llu is not a symlink",
                             (unsigned long long)node->id);
    if (!(*out = malloc(n->target_len + 1)))
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    memcpy(*out, n->target, n->target_len + 1);
    *len = n->target_len;
    return IMGFMT_OK;
}

static bool ntfs_handles(enum imgfmt_fs_type t)
{
    return t == IMGFMT_FS_NTFS;
}

const struct ifmt_fs_driver ifmt_ntfs_driver = {
    .name = "ntfs",
    .handles = ntfs_handles,
    .mount = ntfs_mount,
    .unmount = ntfs_unmount,
    .open_node = ntfs_open_node,
    .close_node = ntfs_close_node,
    .readdir = ntfs_readdir,
    .lookup = ntfs_lookup,
    .read = ntfs_read,
    .readlink = ntfs_readlink,
};
