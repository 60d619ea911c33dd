/*
 * test-ntfs.c -- the NTFS driver on volumes made by mkntfs and populated
 * through ntfs-3g (tests/gen/mkntfs-fixtures.sh): listing, stat, every
 * file's contents against the checksums the FUSE mount gave
 * (testdata/ntfs-basic.sha256), fragmented, sparse and LZNT1-compressed
 * data, hard links over an $ATTRIBUTE_LIST, symlinks (Interix, reparse
 * symlink, junction), case-insensitive lookups through $UpCase, a
 * 1000-entry directory (a two-level index) looked up without a scan, and
 * patched bytes giving the right errors.
 */
#define IMGFMT_BUILDING 1
#include <zlib.h>

#include "testutil.h"
#include "../tools/sha256.h"  /* not tests/sha256.h (fs-dump's) */
#include "core/bytes.h"
#include "fs/ntfs-priv.h"

static uint8_t *basic, *bigdir, *fragmft;
static size_t basic_len, bigdir_len, fragmft_len;
static uint8_t *img;        /* the image under test (a copy to patch) */
static size_t img_len;

static uint8_t *load_gz(const char *name, size_t *len)
{
    gzFile f = gzopen(td_path(name), "rb");
    ck_assert_msg(f != NULL, "cannot open %s", td_path(name));
    size_t cap = 16u << 20, n = 0;
    uint8_t *b = malloc(cap);
    int r;
    while ((r = gzread(f, b + n, (unsigned)(cap - n))) > 0)
        n += (size_t)r;
    gzclose(f);
    *len = n;
    return b;
}

static void setup(void)
{
    if (!basic)
        basic = load_gz("ntfs-basic.img.gz", &basic_len);
    if (!bigdir)
        bigdir = load_gz("ntfs-bigdir.img.gz", &bigdir_len);
    if (!fragmft)
        fragmft = load_gz("ntfs-fragmft.img.gz", &fragmft_len);
}

static void use(const uint8_t *src, size_t len)
{
    free(img);
    img = malloc(len);
    memcpy(img, src, len);
    img_len = len;
}

/* ---- device with a read counter ---- */
static uint64_t bytes_read;
static ifmt_bdev_read_fn *mem_read;

static int counting_read(const struct ifmt_bdev *d, void *buf, size_t len, uint64_t off,
                         imgfmt_error *err)
{
    bytes_read += len;
    return mem_read(d, buf, len, off, err);
}

static int try_mount(struct ifmt_fs **fs, imgfmt_error *err)
{
    struct ifmt_bdev dev;
    ifmt_bdev_init_memory(&dev, img, img_len, "<test>");
    mem_read = dev.read;
    dev.read = counting_read;
    memset(err, 0, sizeof *err);
    return ifmt_fs_mount(&dev, &ifmt_ntfs_driver, NULL, fs, err);
}

static struct ifmt_fs *mount_ok(void)
{
    struct ifmt_fs *fs;
    imgfmt_error err;
    int r = try_mount(&fs, &err);
    ck_assert_msg(r == 0, "mount: %d %s", r, err.msg);
    return fs;
}

static void mount_fails(int code, const char *msg_part)
{
    struct ifmt_fs *fs;
    imgfmt_error err;
    int r = try_mount(&fs, &err);
    ck_assert_msg(r == code, "mount gave %d (%s), expected %d", r, err.msg, code);
    ck_assert_msg(strstr(err.msg, msg_part), "message '%s' lacks '%s'", err.msg, msg_part);
}

static bool has_warning(struct ifmt_fs *fs, const char *part)
{
    for (uint32_t i = 0; i < fs->nb_warnings; i++)
        if (strstr(fs->warnings[i], part))
            return true;
    return false;
}

/* Resolve an absolute path with the driver's lookup; < 0 on failure. */
static int resolve(struct ifmt_fs *fs, const char *path, uint64_t *id)
{
    *id = fs->root_id;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (!len)
            break;
        struct ifmt_node dir;
        int r = fs->drv->open_node(fs, *id, &dir);
        if (r < 0)
            return r;
        enum imgfmt_file_type t;
        r = fs->drv->lookup(fs, &dir, p, len, id, &t);
        fs->drv->close_node(fs, &dir);
        if (r < 0)
            return r;
        p += len;
    }
    return 0;
}

static void open_path(struct ifmt_fs *fs, const char *path, struct ifmt_node *n)
{
    uint64_t id;
    int r = resolve(fs, path, &id);
    ck_assert_msg(r == 0, "%s: %d %s", path, r, fs->err.msg);
    r = fs->drv->open_node(fs, id, n);
    ck_assert_msg(r == 0, "%s: open %d %s", path, r, fs->err.msg);
}

static void file_sha(struct ifmt_fs *fs, struct ifmt_node *n, char hex[65])
{
    static uint8_t buf[1 << 16];
    struct sha256 s;
    sha256_init(&s);
    for (uint64_t off = 0; off < n->st.size;) {
        size_t k = n->st.size - off < sizeof buf ? (size_t)(n->st.size - off) : sizeof buf;
        int r = fs->drv->read(fs, n, buf, k, off);
        ck_assert_msg(r == 0, "read: %d %s", r, fs->err.msg);
        sha256_update(&s, buf, k);
        off += k;
    }
    sha256_final_hex(&s, hex);
}

struct names {
    char name[64][256];
    uint64_t id[64];
    unsigned n, total;
};

static int collect(void *opaque, const char *name, size_t len, uint64_t id,
                   enum imgfmt_file_type type)
{
    struct names *c = opaque;
    (void)type;
    if (c->n < 64) {
        snprintf(c->name[c->n], sizeof c->name[0], "%.*s", (int)len, name);
        c->id[c->n++] = id;
    }
    c->total++;
    return 0;
}

static void list(struct ifmt_fs *fs, const char *path, struct names *c)
{
    struct ifmt_node n;
    memset(c, 0, sizeof *c);
    open_path(fs, path, &n);
    int r = fs->drv->readdir(fs, &n, collect, c);
    ck_assert_msg(r == 0, "readdir %s: %d %s", path, r, fs->err.msg);
    fs->drv->close_node(fs, &n);
}

/* ---- the fixture as ntfs-3g wrote it ---- */

START_TEST(mount_basic)
{
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    ck_assert_str_eq(fs->label, "fixture");
    ck_assert_uint_eq(strlen(fs->uuid), 16);
    for (int i = 0; i < 16; i++)
        ck_assert_msg(strchr("0123456789ABCDEF", fs->uuid[i]), "uuid %s", fs->uuid);
    ck_assert_uint_eq(fs->root_id, 5);
    ck_assert(has_warning(fs, "hiberfil.sys holds a hibernated Windows"));
    ck_assert(!has_warning(fs, "dirty"));
    ifmt_fs_unmount(fs);
}
END_TEST

START_TEST(list_root)
{
    static const char *const want[] = {
        "comp", "Docs", "frag.bin", "hello.txt", "hiberfil.sys", "héllo wörld ✓.txt",
        "junction", "links", "Long File Name.txt", "other.bin", "sparse.bin", "winlink", "wof-compressed.dll",
        "😀.txt" };
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    struct names c;
    list(fs, "/", &c);
    ck_assert_uint_eq(c.total, sizeof want / sizeof *want);
    for (unsigned i = 0; i < c.total; i++)
        ck_assert_str_eq(c.name[i], want[i]);
    list(fs, "/links", &c);
    ck_assert_uint_eq(c.total, 31);
    for (unsigned i = 1; i < c.n; i++)
        ck_assert_uint_eq(c.id[i], c.id[0]);      /* one file, 31 names */
    ifmt_fs_unmount(fs);
}
END_TEST

/* Every file the FUSE mount checksummed reads back the same here. */
START_TEST(contents_match_fuse)
{
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    FILE *f = fopen(td_path("ntfs-basic.sha256"), "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    unsigned files = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        ck_assert_uint_gt(strlen(line), 67);
        const char *path = line + 66;
        struct ifmt_node n;
        char hex[65];
        open_path(fs, path, &n);
        ck_assert_int_eq(n.st.type, IMGFMT_FILE_REG);
        file_sha(fs, &n, hex);
        ck_assert_msg(memcmp(hex, line, 64) == 0, "%s: %s, FUSE says %.64s", path, hex, line);
        fs->drv->close_node(fs, &n);
        files++;
    }
    fclose(f);
    ck_assert_uint_eq(files, 43);
    ifmt_fs_unmount(fs);
}
END_TEST

START_TEST(stat_nodes)
{
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    struct ifmt_node n;
    open_path(fs, "/hello.txt", &n);
    ck_assert_int_eq(n.st.type, IMGFMT_FILE_REG);
    ck_assert_uint_eq(n.st.mode, 0100644);
    ck_assert_uint_eq(n.st.size, 12);
    ck_assert_uint_eq(n.st.nlink, 1);
    ck_assert_uint_eq(n.st.uid, 0);
    ck_assert_uint_eq(n.st.ino, n.id);
    ck_assert(n.st.mtime.sec > 1577836800 && n.st.mtime.sec < 4102444800);  /* 2020..2100 */
    ck_assert(n.st.btime.sec > 1577836800);
    ck_assert(((struct ntfs_node *)n.priv)->data.resident);
    fs->drv->close_node(fs, &n);
    open_path(fs, "/Docs", &n);
    ck_assert_int_eq(n.st.type, IMGFMT_FILE_DIR);
    ck_assert_uint_eq(n.st.mode, 040755);
    fs->drv->close_node(fs, &n);
    open_path(fs, "/links/target", &n);
    ck_assert_uint_eq(n.st.nlink, 31);
    fs->drv->close_node(fs, &n);
    open_path(fs, "/Long File Name.txt", &n);      /* Win32 + DOS: one link */
    ck_assert_uint_eq(n.st.nlink, 1);
    fs->drv->close_node(fs, &n);
    open_path(fs, "/sparse.bin", &n);
    ck_assert(n.st.flags & IMGFMT_STAT_SPARSE);
    ck_assert_uint_eq(n.st.size, 4u << 20);
    fs->drv->close_node(fs, &n);
    open_path(fs, "/comp/numbers.txt", &n);
    ck_assert(n.st.flags & IMGFMT_STAT_COMPRESSED);
    ck_assert_uint_eq(((struct ntfs_node *)n.priv)->data.unit_clusters, 16);
    fs->drv->close_node(fs, &n);
    open_path(fs, "/frag.bin", &n);
    ck_assert_uint_gt(((struct ntfs_node *)n.priv)->data.nruns, 10);   /* fragmented */
    fs->drv->close_node(fs, &n);
    open_path(fs, "/wof-compressed.dll", &n);    /* present, refused */
    ck_assert_int_eq(n.st.type, IMGFMT_FILE_REG);
    ck_assert(n.st.flags & IMGFMT_STAT_REPARSE);
    uint8_t b[4];
    ck_assert_int_eq(fs->drv->read(fs, &n, b, 4, 0), IMGFMT_E_UNSUPPORTED);
    ck_assert(strstr(fs->err.msg, "WOF-compressed"));
    fs->drv->close_node(fs, &n);
    ifmt_fs_unmount(fs);
}
END_TEST

static void expect_link(struct ifmt_fs *fs, const char *path, const char *target)
{
    struct ifmt_node n;
    open_path(fs, path, &n);
    ck_assert_int_eq(n.st.type, IMGFMT_FILE_SYMLINK);
    ck_assert_uint_eq(n.st.mode, 0120777);
    char *t;
    size_t len;
    ck_assert_int_eq(fs->drv->readlink(fs, &n, &t, &len), 0);
    ck_assert_str_eq(t, target);
    ck_assert_uint_eq(len, strlen(target));
    ck_assert_uint_eq(n.st.size, len);
    free(t);
    fs->drv->close_node(fs, &n);
}

START_TEST(symlinks)
{
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    expect_link(fs, "/Docs/interix-link", "../hello.txt");   /* ntfs-3g's own */
    expect_link(fs, "/winlink", "../hello.txt");             /* relative reparse */
    expect_link(fs, "/junction", "/Docs");                   /* \??\C:\Docs */
    ifmt_fs_unmount(fs);
}
END_TEST

START_TEST(lookup_case_insensitive)
{
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    uint64_t a, b;
    ck_assert_int_eq(resolve(fs, "/Docs/ReadMe.TXT", &a), 0);
    ck_assert_int_eq(resolve(fs, "/docs/readme.txt", &b), 0);
    ck_assert_uint_eq(a, b);
    ck_assert_int_eq(resolve(fs, "/DOCS/README.TXT", &b), 0);
    ck_assert_uint_eq(a, b);
    /* é -> É needs $UpCase, not ASCII folding. */
    ck_assert_int_eq(resolve(fs, "/héllo wörld ✓.txt", &a), 0);
    ck_assert_int_eq(resolve(fs, "/HÉLLO WÖRLD ✓.TXT", &b), 0);
    ck_assert_uint_eq(a, b);
    ck_assert_int_eq(resolve(fs, "/😀.TXT", &b), 0);
    /* A DOS alias finds its file (it is not listed). */
    ck_assert_int_eq(resolve(fs, "/Long File Name.txt", &a), 0);
    ck_assert_int_eq(resolve(fs, "/longfi~1.txt", &b), 0);
    ck_assert_uint_eq(a, b);
    ck_assert_int_eq(resolve(fs, "/hello.txt ", &b), IMGFMT_E_NOT_FOUND);
    ck_assert_int_eq(resolve(fs, "/nothing", &b), IMGFMT_E_NOT_FOUND);
    ck_assert_int_eq(resolve(fs, "/$MFT", &b), IMGFMT_E_NOT_FOUND);   /* hidden */
    ck_assert_int_eq(resolve(fs, "/\xff", &b), IMGFMT_E_NOT_FOUND);
    ifmt_fs_unmount(fs);
}
END_TEST

#define BIG_FMT "entry-%04u-with-a-name-long-enough-to-fill-index-blocks-quickly"

static int check_big(void *opaque, const char *name, size_t len, uint64_t id,
                     enum imgfmt_file_type type)
{
    unsigned *i = opaque;
    char want[128];
    (void)id;
    snprintf(want, sizeof want, BIG_FMT, ++*i);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_msg(memcmp(name, want, len) == 0, "entry %u: %.*s", *i, (int)len, name);
    ck_assert_int_eq(type, IMGFMT_FILE_REG);
    return 0;
}

START_TEST(big_directory)
{
    use(bigdir, bigdir_len);
    struct ifmt_fs *fs = mount_ok();
    ck_assert_str_eq(fs->label, "bigdir");
    struct ifmt_node dir;
    open_path(fs, "/big", &dir);
    struct ntfs_node *nn = dir.priv;
    ck_assert_uint_gt(ntfs_index_alloc_size(nn->ix) / 4096, 50);
    unsigned seen = 0;
    ck_assert_int_eq(fs->drv->readdir(fs, &dir, check_big, &seen), 0);
    ck_assert_uint_eq(seen, 1000);
    /* Lookups descend the tree: with the block cache off, a few blocks. */
    struct ifmt_fs_cache *cache = fs->cache;
    fs->cache = NULL;
    for (unsigned i = 1; i <= 1000; i++) {
        char name[128];
        snprintf(name, sizeof name, BIG_FMT, i);
        if (i % 7 == 0)
            name[0] = 'E', name[1] = 'N';
        uint64_t id;
        enum imgfmt_file_type t;
        bytes_read = 0;
        int r = fs->drv->lookup(fs, &dir, name, strlen(name), &id, &t);
        ck_assert_msg(r == 0, "%s: %d %s", name, r, fs->err.msg);
        ck_assert_uint_le(bytes_read, 4 * 4096);
    }
    uint64_t id;
    ck_assert_int_eq(fs->drv->lookup(fs, &dir, "entry-0000", 10, &id, NULL),
                     IMGFMT_E_NOT_FOUND);
    ck_assert_int_eq(fs->drv->lookup(fs, &dir, "zzz", 3, &id, NULL), IMGFMT_E_NOT_FOUND);
    fs->cache = cache;
    fs->drv->close_node(fs, &dir);
    ifmt_fs_unmount(fs);
}
END_TEST

static int check_many(void *opaque, const char *name, size_t len, uint64_t id,
                      enum imgfmt_file_type type)
{
    struct ifmt_fs *fs = opaque;
    static unsigned i;
    char want[16];
    (void)type;
    if (len == 4 && memcmp(name, "n001", 4) == 0)
        i = 0;
    snprintf(want, sizeof want, "n%03u", ++i);
    ck_assert_uint_eq(len, 4);
    ck_assert(memcmp(name, want, 4) == 0);
    struct ifmt_node n;
    ck_assert_int_eq(fs->drv->open_node(fs, id, &n), 0);
    char buf[8] = { 0 };
    ck_assert_uint_eq(n.st.size, 4);
    ck_assert_int_eq(fs->drv->read(fs, &n, buf, 4, 0), 0);
    ck_assert(memcmp(buf, want + 1, 3) == 0 && buf[3] == '\n');
    fs->drv->close_node(fs, &n);
    return 0;
}

/* The $MFT grew into holes: its records come from many runs. */
START_TEST(fragmented_mft)
{
    use(fragmft, fragmft_len);
    struct ifmt_fs *fs = mount_ok();
    struct ntfs_vol *v = ntfs_vol(fs);
    ck_assert_uint_ge(v->mft.nruns, 5);
    uint64_t first_run_records = v->mft.runs[0].len * v->cluster_size / v->record_size;
    ck_assert_uint_gt(v->nrecords, first_run_records + 300);
    struct ifmt_node dir;
    open_path(fs, "/many", &dir);
    struct names c;
    list(fs, "/many", &c);
    ck_assert_uint_eq(c.total, 600);
    ck_assert_int_eq(fs->drv->readdir(fs, &dir, check_many, fs), 0);
    uint64_t id;
    ck_assert_int_eq(resolve(fs, "/many/n600", &id), 0);
    ck_assert_uint_gt(id, first_run_records);       /* beyond the first run */
    fs->drv->close_node(fs, &dir);
    ifmt_fs_unmount(fs);
}
END_TEST

/* ---- patched bytes ---- */

/* Byte offset of MFT record no in img (from the mounted volume's map). */
static uint64_t record_offset(struct ifmt_fs *fs, uint64_t no)
{
    struct ntfs_vol *v = ntfs_vol(fs);
    uint64_t byte = no * v->record_size, vcn = byte / v->cluster_size;
    for (size_t i = 0; i < v->mft.nruns; i++) {
        const struct ntfs_run *r = &v->mft.runs[i];
        if (vcn >= r->vcn && vcn < r->vcn + r->len)
            return (r->lcn + vcn - r->vcn) * v->cluster_size + byte % v->cluster_size;
    }
    ck_abort_msg("record %llu not mapped", (unsigned long long)no);
    return 0;
}

/* Offset in img of the first attribute of type in record no. */
static uint64_t attr_offset(struct ifmt_fs *fs, uint64_t no, uint32_t type)
{
    uint64_t rec = record_offset(fs, no);
    uint64_t p = rec + ifmt_le16(img + rec + 20);
    while (ifmt_le32(img + p) != type) {
        ck_assert_msg(ifmt_le32(img + p) != 0xFFFFFFFFu, "no attribute 0x%x", type);
        p += ifmt_le32(img + p + 4);
    }
    return p;
}

static uint64_t id_of(struct ifmt_fs *fs, const char *path)
{
    uint64_t id;
    ck_assert_int_eq(resolve(fs, path, &id), 0);
    return id;
}

static void poke(uint64_t off, uint8_t v)
{
    ck_assert_msg(off % 512 < 510, "patch at %llu hits a fix-up", (unsigned long long)off);
    img[off] = v;
}

static void open_fails(struct ifmt_fs *fs, const char *path, int code, const char *part)
{
    uint64_t id;
    struct ifmt_node n;
    int r = resolve(fs, path, &id);
    if (r == 0)
        r = fs->drv->open_node(fs, id, &n);
    ck_assert_msg(r == code, "%s: %d (%s), expected %d", path, r, fs->err.msg, code);
    ck_assert_msg(strstr(fs->err.msg, part), "'%s' lacks '%s'", fs->err.msg, part);
}

START_TEST(corrupt_fixup)
{
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    uint64_t root = record_offset(fs, 5);
    ifmt_fs_unmount(fs);
    img[root + 510] ^= 0xFF;          /* the end of sector 1 no longer matches */
    mount_fails(IMGFMT_E_CORRUPT, "MFT record 5: fix-up mismatch in sector 1");
}
END_TEST

START_TEST(corrupt_boot)
{
    use(basic, basic_len);
    img[3] = 'X';                      /* the backup at the end still works */
    struct ifmt_fs *fs = mount_ok();
    ck_assert(has_warning(fs, "using the backup"));
    ck_assert_str_eq(fs->label, "fixture");
    ifmt_fs_unmount(fs);
    img[img_len - 512 + 3] = 'X';
    mount_fails(IMGFMT_E_CORRUPT, "boot sector invalid (no NTFS signature)");
    use(basic, basic_len);
    memcpy(img + 3, "-FVE-FS-", 8);
    mount_fails(IMGFMT_E_UNSUPPORTED, "BitLocker");
    use(basic, basic_len);
    img[64] = 0x7F;                    /* 127 clusters per record */
    img[img_len - 512 + 64] = 0x7F;
    mount_fails(IMGFMT_E_CORRUPT, "record or index block size invalid");
}
END_TEST

/* Offset (from a mount of the pristine image) of attribute type of path. */
static uint64_t locate(const uint8_t *src, size_t len, const char *path, uint32_t type)
{
    use(src, len);
    struct ifmt_fs *fs = mount_ok();
    uint64_t a = attr_offset(fs, id_of(fs, path), type);
    ifmt_fs_unmount(fs);
    return a;
}

static void remount_open_fails(const char *path, int code, const char *part)
{
    struct ifmt_fs *fs = mount_ok();
    open_fails(fs, path, code, part);
    ifmt_fs_unmount(fs);
}

START_TEST(corrupt_runlist)
{
    uint64_t a = locate(basic, basic_len, "/frag.bin", NTFS_AT_DATA);
    uint64_t rl = a + ifmt_le16(img + a + 32);
    unsigned lb = img[rl] & 15, ob = img[rl] >> 4;
    ck_assert_uint_gt(ob, 0);
    for (unsigned i = 0; i < ob; i++)
        poke(rl + 1 + lb + i, i + 1 == ob ? 0x7F : 0xFF);
    remount_open_fails("/frag.bin", IMGFMT_E_CORRUPT, "outside the volume");
    a = locate(basic, basic_len, "/frag.bin", NTFS_AT_DATA);
    poke(a + 24, img[a + 24] + 1);     /* last VCN past what the runs map */
    remount_open_fails("/frag.bin", IMGFMT_E_CORRUPT, "runlist ends at VCN");
    a = locate(basic, basic_len, "/hello.txt", NTFS_AT_STANDARD_INFO);
    poke(a + 5, 0x10);                 /* attribute length 4 KiB */
    remount_open_fails("/hello.txt", IMGFMT_E_CORRUPT, "runs past the record");
}
END_TEST

START_TEST(corrupt_lznt1)
{
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    struct ifmt_node n;
    open_path(fs, "/comp/numbers.txt", &n);
    uint64_t lcn = ((struct ntfs_node *)n.priv)->data.runs[0].lcn;
    fs->drv->close_node(fs, &n);
    /* A chunk whose first item copies from before the start. */
    static const uint8_t bad[] = { 0x02, 0xB0, 0x01, 0x00, 0x00 };
    ifmt_fs_unmount(fs);
    memcpy(img + lcn * 4096, bad, sizeof bad);
    fs = mount_ok();
    open_path(fs, "/comp/numbers.txt", &n);
    uint8_t b[16];
    ck_assert_int_eq(fs->drv->read(fs, &n, b, sizeof b, 0), IMGFMT_E_CORRUPT);
    ck_assert(strstr(fs->err.msg, "LZNT1 back-reference"));
    fs->drv->close_node(fs, &n);
    ifmt_fs_unmount(fs);
}
END_TEST

START_TEST(corrupt_index_cycle)
{
    use(bigdir, bigdir_len);
    /* The first internal INDX block: point its first child at itself. */
    bool done = false;
    for (size_t off = 0; off + 4096 <= img_len && !done; off += 4096) {
        if (memcmp(img + off, "INDX", 4) != 0 || !(img[off + 24 + 12] & 1))
            continue;
        uint64_t e = off + 24 + ifmt_le32(img + off + 24);
        ck_assert(ifmt_le32(img + e + 12) & NTFS_IE_SUBNODE);
        uint64_t child = e + ifmt_le16(img + e + 8) - 8;
        for (int i = 0; i < 8; i++)
            poke(child + i, img[off + 16 + i]);
        done = true;
    }
    ck_assert(done);
    struct ifmt_fs *fs = mount_ok();
    struct ifmt_node dir;
    open_path(fs, "/big", &dir);
    unsigned seen = 0;
    ck_assert_int_eq(fs->drv->readdir(fs, &dir, check_big, &seen), IMGFMT_E_CORRUPT);
    ck_assert(strstr(fs->err.msg, "reached twice"));
    uint64_t id;
    int r = fs->drv->lookup(fs, &dir, "entry-0000", 10, &id, NULL);
    ck_assert_msg(r == IMGFMT_E_LIMIT || r == IMGFMT_E_NOT_FOUND, "lookup: %d", r);
    fs->drv->close_node(fs, &dir);
    ifmt_fs_unmount(fs);
}
END_TEST

START_TEST(corrupt_flags)
{
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    uint64_t si = attr_offset(fs, id_of(fs, "/hello.txt"), NTFS_AT_STANDARD_INFO);
    uint64_t vi = attr_offset(fs, 3, NTFS_AT_VOLUME_INFO);
    ifmt_fs_unmount(fs);
    poke(si + ifmt_le16(img + si + 20) + 33, 0x40);     /* FILE_ATTRIBUTE_ENCRYPTED */
    poke(vi + ifmt_le16(img + vi + 20) + 10, 0x01);     /* volume dirty */
    fs = mount_ok();
    ck_assert(has_warning(fs, "dirty"));
    struct ifmt_node n;
    open_path(fs, "/hello.txt", &n);
    ck_assert(n.st.flags & IMGFMT_STAT_ENCRYPTED);
    uint8_t b[4];
    ck_assert_int_eq(fs->drv->read(fs, &n, b, 4, 0), IMGFMT_E_UNSUPPORTED);
    ck_assert(strstr(fs->err.msg, "EFS-encrypted"));
    fs->drv->close_node(fs, &n);
    ifmt_fs_unmount(fs);
}
END_TEST

START_TEST(corrupt_attribute_list)
{
    use(basic, basic_len);
    struct ifmt_fs *fs = mount_ok();
    uint64_t base = id_of(fs, "/links/target");
    uint64_t a = attr_offset(fs, base, NTFS_AT_ATTR_LIST);
    ck_assert(img[a + 8]);                               /* non-resident */
    uint64_t rl = a + ifmt_le16(img + a + 32);
    unsigned lb = img[rl] & 15, ob = img[rl] >> 4;
    uint64_t lcn = 0;
    for (unsigned i = 0; i < ob; i++)
        lcn |= (uint64_t)img[rl + 1 + lb + i] << (8 * i);
    /* Point an entry for an extension record at another file's record. */
    uint64_t p = lcn * 4096, end = p + ifmt_le64(img + a + 48);
    while (p < end && !((ifmt_le64(img + p + 16) & 0xFFFFFFFFFFFFull) != base &&
                        ifmt_le32(img + p) == NTFS_AT_FILE_NAME))
        p += ifmt_le16(img + p + 4);
    ck_assert(p < end);
    uint64_t other = id_of(fs, "/hello.txt");
    ifmt_fs_unmount(fs);
    poke(p + 16, (uint8_t)other);
    poke(p + 17, 0);
    remount_open_fails("/links/target", IMGFMT_E_CORRUPT, "belongs to another file");
}
END_TEST

START_TEST(lznt1_decoder)
{
    /* "abcabcabcabc": three literals, then a copy of 9 from distance 3. */
    static const uint8_t in[] = { 0x05, 0xB0, 0x08, 'a', 'b', 'c', 0x06, 0x20 };
    uint8_t out[8192];
    const char *why = NULL;
    ck_assert_int_eq(ntfs_lznt1_decompress(in, sizeof in, out, sizeof out, &why), 0);
    ck_assert(memcmp(out, "abcabcabcabc", 12) == 0);
    ck_assert_uint_eq(out[12], 0);
    /* A chunk longer than its input. */
    static const uint8_t trunc[] = { 0xFF, 0xBF, 0x00 };
    ck_assert_int_eq(ntfs_lznt1_decompress(trunc, sizeof trunc, out, sizeof out, &why), -1);
    /* Output capped: a 4096-byte stored chunk into a 100-byte buffer. */
    uint8_t stored[2 + 4096];
    stored[0] = 0xFF;
    stored[1] = 0x3F;
    memset(stored + 2, 'x', 4096);
    ck_assert_int_eq(ntfs_lznt1_decompress(stored, sizeof stored, out, 100, &why), 0);
}
END_TEST

static Suite *ntfs_suite(void)
{
    Suite *s = suite_create("ntfs");
    TCase *t = tcase_create("fixture");
    tcase_add_unchecked_fixture(t, setup, NULL);
    tcase_add_test(t, mount_basic);
    tcase_add_test(t, list_root);
    tcase_add_test(t, contents_match_fuse);
    tcase_add_test(t, stat_nodes);
    tcase_add_test(t, symlinks);
    tcase_add_test(t, lookup_case_insensitive);
    tcase_add_test(t, big_directory);
    tcase_add_test(t, fragmented_mft);
    suite_add_tcase(s, t);
    TCase *c = tcase_create("corrupt");
    tcase_add_unchecked_fixture(c, setup, NULL);
    tcase_add_test(c, corrupt_fixup);
    tcase_add_test(c, corrupt_boot);
    tcase_add_test(c, corrupt_runlist);
    tcase_add_test(c, corrupt_lznt1);
    tcase_add_test(c, corrupt_index_cycle);
    tcase_add_test(c, corrupt_flags);
    tcase_add_test(c, corrupt_attribute_list);
    tcase_add_test(c, lznt1_decoder);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return run_suite(ntfs_suite());
}
