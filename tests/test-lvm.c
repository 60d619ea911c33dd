/*
 * test-lvm.c -- LVM2: the fixtures made by lvm2 (tests/gen/mklvm-fixtures.sh),
 * the metadata parser on text snippets (hostile ones included), and PVs
 * built in memory around crafted metadata texts.
 */
#define IMGFMT_BUILDING 1
#include <zlib.h>

#include "testutil.h"
#include "core/bytes.h"
#include "disk/lvm.h"

/* ---- fixtures -------------------------------------------------------- */

static uint8_t *gunzip_fixture(const char *name, size_t *len)
{
    char gz[256];
    snprintf(gz, sizeof gz, "%s.gz", name);
    gzFile f = gzopen(td_path(gz), "rb");
    ck_assert_msg(f != NULL, "cannot open %s", td_path(gz));
    size_t cap = 32u << 20, n = 0;
    uint8_t *buf = malloc(cap);
    int r;
    while ((r = gzread(f, buf + n, (unsigned)(cap - n))) > 0)
        n += (size_t)r;
    gzclose(f);
    *len = n;
    return buf;
}

struct fx {
    uint8_t *buf;
    size_t len;
    imgfmt_image *img;
    imgfmt_lvm *lvm;
};

static void fx_open(struct fx *f, const char *name)
{
    imgfmt_error err = {0};
    f->buf = gunzip_fixture(name, &f->len);
    f->img = open_mem_ok(f->buf, f->len);
    int r = imgfmt_lvm_scan(f->img, &f->lvm, &err);
    ck_assert_msg(r == 0, "scan %s: %d %s", name, r, err.msg);
}

static void fx_close(struct fx *f)
{
    imgfmt_lvm_free(f->lvm);
    imgfmt_close(f->img);
    free(f->buf);
}

static void find(imgfmt_lvm *lvm, const char *name, uint32_t *vg, uint32_t *lv,
                 imgfmt_lvm_lv *info)
{
    int r = imgfmt_lvm_find_lv(lvm, name, vg, lv);
    ck_assert_msg(r == 0, "%s: %d %s", name, r, imgfmt_lvm_last_error(lvm)->msg);
    ck_assert_int_eq(imgfmt_lvm_get_lv(lvm, *vg, *lv, info), 0);
}

/* Every 4 KiB block k of LV name starts with "<name> block <k>\n", the rest
 * zeros (what the generator wrote). */
static void check_pattern(imgfmt_lvm *lvm, const char *full)
{
    uint32_t vg, lv;
    imgfmt_lvm_lv info;
    find(lvm, full, &vg, &lv, &info);
    ck_assert(info.readable);
    ck_assert_uint_eq(info.size % 4096, 0);
    uint8_t *got = malloc(info.size), want[4096];
    /* Reads that straddle segment and stripe boundaries: odd sizes. */
    for (uint64_t off = 0; off < info.size;) {
        size_t n = info.size - off < 12345 ? (size_t)(info.size - off) : 12345;
        int r = imgfmt_lvm_pread(lvm, vg, lv, got + off, n, off);
        ck_assert_msg(r == 0, "%s at %llu: %s", full, (unsigned long long)off,
                      imgfmt_lvm_last_error(lvm)->msg);
        off += n;
    }
    for (uint64_t k = 0; k < info.size / 4096; k++) {
        memset(want, 0, sizeof want);
        snprintf((char *)want, sizeof want, "%s block %llu\n", info.name,
                 (unsigned long long)k);
        ck_assert_msg(memcmp(got + k * 4096, want, 4096) == 0, "%s block %llu differs",
                      full, (unsigned long long)k);
    }
    free(got);
}

START_TEST(two_pv_layout)
{
    struct fx f;
    fx_open(&f, "lvm-two-pv.img");
    ck_assert_uint_eq(imgfmt_lvm_nb_vgs(f.lvm), 1);
    imgfmt_lvm_vg vg;
    ck_assert_int_eq(imgfmt_lvm_get_vg(f.lvm, 0, &vg), 0);
    ck_assert_str_eq(vg.name, "vg0");
    ck_assert_uint_eq(vg.extent_size, 1u << 20);
    ck_assert_uint_eq(vg.nb_pvs, 2);
    ck_assert_uint_eq(vg.nb_missing_pvs, 0);
    ck_assert_uint_eq(vg.nb_lvs, 6);       /* lin other stripe pool + 2 hidden */
    ck_assert_int_eq(imgfmt_lvm_get_vg(f.lvm, 1, &vg), IMGFMT_E_RANGE);

    uint32_t v, l;
    imgfmt_lvm_lv lv;
    imgfmt_lvm_segment s;
    find(f.lvm, "vg0/lin", &v, &l, &lv);
    ck_assert_uint_eq(lv.size, 4u << 20);
    ck_assert_uint_eq(lv.nb_segments, 2);  /* extended past "other" */
    ck_assert_str_eq(lv.type, "linear");
    ck_assert(lv.visible);
    ck_assert_int_eq(imgfmt_lvm_get_segment(f.lvm, v, l, 1, &s), 0);
    ck_assert_uint_eq(s.start, 2u << 20);
    ck_assert_uint_eq(s.length, 2u << 20);
    ck_assert_uint_eq(s.nb_stripes, 1);
    ck_assert_int_eq(imgfmt_lvm_get_segment(f.lvm, v, l, 2, &s), IMGFMT_E_RANGE);

    find(f.lvm, "vg0/stripe", &v, &l, &lv);
    ck_assert_str_eq(lv.type, "striped");
    ck_assert_int_eq(imgfmt_lvm_get_segment(f.lvm, v, l, 0, &s), 0);
    ck_assert_uint_eq(s.nb_stripes, 2);
    ck_assert_uint_eq(s.stripe_size, 65536);

    find(f.lvm, "vg0/pool_tdata", &v, &l, &lv);
    ck_assert(!lv.visible);
    fx_close(&f);
}
END_TEST

START_TEST(two_pv_data)
{
    struct fx f;
    fx_open(&f, "lvm-two-pv.img");
    check_pattern(f.lvm, "vg0/other");
    check_pattern(f.lvm, "vg0/stripe");
    fx_close(&f);
}
END_TEST

START_TEST(thin_pool_refused)
{
    struct fx f;
    fx_open(&f, "lvm-two-pv.img");
    uint32_t v, l;
    imgfmt_lvm_lv lv;
    find(f.lvm, "vg0/pool", &v, &l, &lv);
    ck_assert(!lv.readable);
    ck_assert_str_eq(lv.type, "thin-pool");
    ck_assert_ptr_nonnull(strstr(lv.refusal, "thin-pool"));
    uint8_t b[512];
    ck_assert_int_eq(imgfmt_lvm_pread(f.lvm, v, l, b, sizeof b, 0), IMGFMT_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(imgfmt_lvm_last_error(f.lvm)->msg, "vg0/pool"));
    fx_close(&f);
}
END_TEST

START_TEST(names)
{
    struct fx f;
    fx_open(&f, "lvm-two-pv.img");
    uint32_t v, l, v2, l2;
    imgfmt_lvm_lv lv;
    find(f.lvm, "vg0/other", &v, &l, &lv);
    find(f.lvm, "/dev/vg0/other", &v2, &l2, &lv);
    ck_assert_uint_eq(l, l2);
    find(f.lvm, "/dev/mapper/vg0-other", &v2, &l2, &lv);
    ck_assert_uint_eq(l, l2);
    ck_assert_int_eq(imgfmt_lvm_find_lv(f.lvm, "vg0/nope", &v, &l), IMGFMT_E_NOT_FOUND);
    ck_assert_int_eq(imgfmt_lvm_find_lv(f.lvm, "vg0", &v, &l), IMGFMT_E_NOT_FOUND);
    ck_assert_int_eq(imgfmt_lvm_find_lv(f.lvm, "/dev/mapper/vg0", &v, &l),
                     IMGFMT_E_NOT_FOUND);
    uint8_t b[16];
    find(f.lvm, "vg0/other", &v, &l, &lv);
    ck_assert_int_eq(imgfmt_lvm_pread(f.lvm, v, l, b, sizeof b, lv.size - 8),
                     IMGFMT_E_RANGE);
    fx_close(&f);
}
END_TEST

/* The first metadata area of the whole-disk PV: its current text wraps
 * past the end of the area (checked here, so the test cannot lose it). */
START_TEST(whole_disk_wrapped)
{
    struct fx f;
    fx_open(&f, "lvm-whole.img");
    const uint8_t *mda = f.buf + 4096;
    ck_assert_mem_eq(mda + 4, LVM_MDA_MAGIC, LVM_MDA_MAGIC_LEN);
    ck_assert_uint_gt(ifmt_le64(mda + 40) + ifmt_le64(mda + 48), ifmt_le64(mda + 32));
    ck_assert_uint_eq(imgfmt_lvm_nb_vgs(f.lvm), 1);
    imgfmt_lvm_vg vg;
    imgfmt_lvm_get_vg(f.lvm, 0, &vg);
    ck_assert_str_eq(vg.name, "vg1");
    ck_assert_uint_ge(vg.seqno, 60);
    check_pattern(f.lvm, "vg1/data");
    ck_assert_uint_eq(imgfmt_lvm_nb_warnings(f.lvm), 0);
    fx_close(&f);
}
END_TEST

START_TEST(missing_pv)
{
    struct fx f;
    fx_open(&f, "lvm-missing.img");
    imgfmt_lvm_vg vg;
    imgfmt_lvm_get_vg(f.lvm, 0, &vg);
    ck_assert_uint_eq(vg.nb_pvs, 2);
    ck_assert_uint_eq(vg.nb_missing_pvs, 1);
    ck_assert_ptr_nonnull(strstr(vg.missing_pv, "pv1"));
    uint32_t v, l;
    imgfmt_lvm_lv lv;
    find(f.lvm, "vg2/spans", &v, &l, &lv);
    ck_assert(!lv.readable);
    ck_assert_ptr_nonnull(strstr(lv.refusal, "missing"));
    uint8_t b[512];
    ck_assert_int_eq(imgfmt_lvm_pread(f.lvm, v, l, b, sizeof b, 0), IMGFMT_E_BACKING);
    ck_assert_ptr_nonnull(strstr(imgfmt_lvm_last_error(f.lvm)->msg, "pv1"));
    fx_close(&f);
}
END_TEST

/* Damage in a copy of the whole-disk fixture (two metadata areas). */
static int scan_damaged(uint8_t *buf, size_t len, imgfmt_error *err, uint32_t *warnings)
{
    imgfmt_image *img = open_mem_ok(buf, len);
    imgfmt_lvm *lvm = NULL;
    int r = imgfmt_lvm_scan(img, &lvm, err);
    *warnings = r == 0 ? imgfmt_lvm_nb_warnings(lvm) : 0;
    imgfmt_lvm_free(lvm);
    imgfmt_close(img);
    return r;
}

START_TEST(damaged_copies)
{
    size_t len;
    uint8_t *buf = gunzip_fixture("lvm-whole.img", &len);
    imgfmt_error err = {0};
    uint32_t w;
    /* Text of the first area damaged: the second copy is used, a warning. */
    uint64_t m1 = 4096, t1 = m1 + ifmt_le64(buf + m1 + 40);
    buf[t1 + 10] ^= 1;
    ck_assert_int_eq(scan_damaged(buf, len, &err, &w), 0);
    ck_assert_uint_eq(w, 1);
    /* Both copies damaged: the checksum error. */
    uint64_t m2 = ifmt_le64(buf + 512 + 32 + 88);   /* PV header: second mda offset */
    ck_assert_mem_eq(buf + m2 + 4, LVM_MDA_MAGIC, LVM_MDA_MAGIC_LEN);
    uint64_t t2 = m2 + ifmt_le64(buf + m2 + 40);
    buf[t2 + 10] ^= 1;
    ck_assert_int_eq(scan_damaged(buf, len, &err, &w), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "checksum"));
    /* Both texts repaired, the second area's magic gone: a warning. */
    buf[t1 + 10] ^= 1;
    buf[t2 + 10] ^= 1;
    buf[m2 + 6] ^= 0x20;
    ck_assert_int_eq(scan_damaged(buf, len, &err, &w), 0);
    ck_assert_uint_eq(w, 1);
    /* The label's CRC wrong: no PV at all. */
    buf[512 + 16] ^= 1;
    ck_assert_int_eq(scan_damaged(buf, len, &err, &w), 0);
    imgfmt_image *img = open_mem_ok(buf, len);
    imgfmt_lvm *lvm;
    ck_assert_int_eq(imgfmt_lvm_scan(img, &lvm, NULL), 0);
    ck_assert_uint_eq(imgfmt_lvm_nb_vgs(lvm), 0);
    imgfmt_lvm_free(lvm);
    imgfmt_close(img);
    free(buf);
}
END_TEST

/* vg0/lin (two segments) holds an ext4 made by mke2fs -d: files read
 * through the LV device. */
START_TEST(ext4_on_lv)
{
    struct fx f;
    fx_open(&f, "lvm-two-pv.img");
    imgfmt_filesystem *fs;
    imgfmt_error err = {0};
    int r = imgfmt_fs_open_lv(f.lvm, "/dev/mapper/vg0-lin", NULL, &fs, &err);
    ck_assert_msg(r == 0, "%d %s", r, err.msg);
    ck_assert_str_eq(imgfmt_fs_type(fs), "ext4");
    ck_assert_str_eq(imgfmt_fs_label(fs), "lvroot");
    imgfmt_file *file;
    char buf[64];
    size_t got;
    ck_assert_int_eq(imgfmt_fs_open_file(fs, "/hello.txt", &file), 0);
    ck_assert_int_eq(imgfmt_file_pread(file, buf, sizeof buf, 0, &got), 0);
    ck_assert_uint_eq(got, 17);
    ck_assert_mem_eq(buf, "hello from an LV\n", 17);
    imgfmt_file_close(file);
    ck_assert_int_eq(imgfmt_fs_open_file(fs, "/dir/big.bin", &file), 0);
    ck_assert_uint_eq(imgfmt_file_stat(file)->size, 1u << 20);
    uint8_t *big = malloc(1u << 20);
    ck_assert_int_eq(imgfmt_file_pread(file, big, 1u << 20, 0, &got), 0);
    ck_assert_uint_eq(got, 1u << 20);
    for (size_t i = 0; i < got; i++)
        ck_assert_int_eq(big[i], (uint8_t)(i * 31 + 7));
    free(big);
    imgfmt_file_close(file);
    imgfmt_fs_close(fs);
    fx_close(&f);
}
END_TEST

START_TEST(open_lv_as_fs)
{
    struct fx f;
    fx_open(&f, "lvm-two-pv.img");
    imgfmt_filesystem *fs = (void *)1;
    imgfmt_error err = {0};
    /* The LV device reaches the signature probe: no file system on it. */
    ck_assert_int_eq(imgfmt_fs_open_lv(f.lvm, "vg0/other", NULL, &fs, &err),
                     IMGFMT_E_UNKNOWN_FORMAT);
    ck_assert_ptr_null(fs);
    ck_assert_ptr_nonnull(strstr(err.msg, "vg0/other"));
    ck_assert_int_eq(imgfmt_fs_open_lv(f.lvm, "vg0/pool", NULL, &fs, &err),
                     IMGFMT_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "thin-pool"));
    ck_assert_int_eq(imgfmt_fs_open_lv(f.lvm, "vg0/none", NULL, &fs, &err),
                     IMGFMT_E_NOT_FOUND);
    fx_close(&f);
    fx_open(&f, "lvm-missing.img");
    ck_assert_int_eq(imgfmt_fs_open_lv(f.lvm, "vg2/spans", NULL, &fs, &err),
                     IMGFMT_E_BACKING);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
    fx_close(&f);
}
END_TEST

/* imgfmt_volumes lists the visible LVs after the partitions. */
START_TEST(volumes_list_lvs)
{
    size_t len;
    uint8_t *buf = gunzip_fixture("lvm-two-pv.img", &len);
    imgfmt_image *img = open_mem_ok(buf, len);
    imgfmt_volume_list *l;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_volumes(img, &l, &err), 0);
    ck_assert_uint_eq(imgfmt_volumes_count(l), 2 + 4);   /* 2 PVs, 4 visible LVs */
    int i = imgfmt_volumes_find(l, "vg0/stripe");
    ck_assert_int_ge(i, 0);
    const imgfmt_volume *v = imgfmt_volumes_get(l, (uint32_t)i);
    ck_assert_str_eq(v->kind, "lv");
    ck_assert_str_eq(v->lv_path, "/dev/mapper/vg0-stripe");
    ck_assert_uint_eq(v->length, 2u << 20);
    ck_assert_int_lt(imgfmt_volumes_find(l, "vg0/pool_tdata"), 0);
    imgfmt_filesystem *fs;
    i = imgfmt_volumes_find(l, "vg0/pool");
    ck_assert_int_eq(imgfmt_volume_open(l, (uint32_t)i, NULL, &fs, &err),
                     IMGFMT_E_UNSUPPORTED);
    i = imgfmt_volumes_find(l, "vg0/other");
    ck_assert_int_eq(imgfmt_volume_open(l, (uint32_t)i, NULL, &fs, &err),
                     IMGFMT_E_UNKNOWN_FORMAT);
    i = imgfmt_volumes_find(l, "vg0/lin");
    ck_assert_str_eq(imgfmt_volumes_get(l, (uint32_t)i)->fs.name, "ext4");
    ck_assert_int_eq(imgfmt_volume_open(l, (uint32_t)i, NULL, &fs, &err), 0);
    imgfmt_fs_close(fs);
    imgfmt_volumes_free(l);
    imgfmt_close(img);
    free(buf);
}
END_TEST

/* ---- the parser ------------------------------------------------------ */

static int parse(const char *text, struct lvm_meta **m, imgfmt_error *err)
{
    return ifmt_lvm_meta_parse(text, strlen(text), 1u << 20, m, err);
}

START_TEST(parser_basics)
{
    const char *text =
        "# comment\n"
        "contents = \"Text Format Volume Group\"\nversion = 1\n"
        "description = \"Created *after* \\\"lvcreate\\\" \\\\ x\"\n"
        "vg0 {\n id = \"abc\" # trailing\n seqno = -3\n f = 1.5e3\n"
        " stripes = [ \"pv0\", 0, \"pv1\", 2048 ]\n empty = [ ]\n"
        " inner { deeper { x = 9223372036854775807 } }\n}\n";
    struct lvm_meta *m;
    imgfmt_error err = {0};
    ck_assert_int_eq(parse(text, &m, &err), 0);
    const struct lvm_node *root = ifmt_lvm_meta_root(m);
    ck_assert_str_eq(ifmt_lvm_get_str(root, "description"),
                     "Created *after* \"lvcreate\" \\ x");
    const struct lvm_node *vg = ifmt_lvm_get_section(root, "vg0");
    ck_assert_ptr_nonnull(vg);
    int64_t v;
    ck_assert(ifmt_lvm_get_num(vg, "seqno", &v));
    ck_assert_int_eq(v, -3);
    ck_assert_int_eq(ifmt_lvm_get(vg, "f")->kind, LVM_FLOAT);
    const struct lvm_node *st = ifmt_lvm_get(vg, "stripes");
    ck_assert_int_eq(st->kind, LVM_ARRAY);
    ck_assert_uint_eq(st->count, 4);
    ck_assert_int_eq(st->first->next->next->next->num, 2048);
    ck_assert(ifmt_lvm_array_has(vg, "stripes", "pv1"));
    ck_assert_uint_eq(ifmt_lvm_get(vg, "empty")->count, 0);
    const struct lvm_node *d = ifmt_lvm_get_section(ifmt_lvm_get_section(vg, "inner"),
                                                    "deeper");
    ck_assert(ifmt_lvm_get_num(d, "x", &v));
    ck_assert_int_eq(v, INT64_MAX);
    ck_assert_ptr_null(ifmt_lvm_get_str(vg, "seqno"));      /* wrong kind */
    ifmt_lvm_meta_free(m);
    /* A NUL ends the text. */
    const char nul[] = "a = 1\0garbage {";
    ck_assert_int_eq(ifmt_lvm_meta_parse(nul, sizeof nul, 1u << 20, &m, &err), 0);
    ifmt_lvm_meta_free(m);
}
END_TEST

static void parse_fails(const char *text, int code, const char *needle)
{
    struct lvm_meta *m = (void *)1;
    imgfmt_error err = {0};
    int r = parse(text, &m, &err);
    ck_assert_msg(r == code, "\"%.40s\": %d (%s)", text, r, err.msg);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, needle), "\"%s\" lacks \"%s\"", err.msg, needle);
}

START_TEST(parser_hostile)
{
    parse_fails("a = \"never ends\n\nb = 1\n", IMGFMT_E_CORRUPT, "line 1: unterminated string");
    parse_fails("a = 99999999999999999999\n", IMGFMT_E_CORRUPT, "64 bits");
    parse_fails("a = -99999999999999999999\n", IMGFMT_E_CORRUPT, "64 bits");
    parse_fails("a = 12abc\n", IMGFMT_E_CORRUPT, "malformed");
    parse_fails("a {\n b = 1\n", IMGFMT_E_CORRUPT, "not closed");
    parse_fails("}\n", IMGFMT_E_CORRUPT, "without a section");
    parse_fails("a = [ 1, 2\n", IMGFMT_E_CORRUPT, "unterminated array");
    parse_fails("a = [ 1 2 ]\n", IMGFMT_E_CORRUPT, "',' or ']'");
    parse_fails("a = [ [ 1 ] ]\n", IMGFMT_E_CORRUPT, "line 1");
    parse_fails("a = \n", IMGFMT_E_CORRUPT, "value expected");
    parse_fails("a b\n", IMGFMT_E_CORRUPT, "'=' or '{'");
    parse_fails("= 3\n", IMGFMT_E_CORRUPT, "name expected");
    parse_fails("a = 1\n\n\n\"x\" = 2\n", IMGFMT_E_CORRUPT, "line 4");
    /* Deep nesting. */
    char deep[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "a{");
    parse_fails(deep, IMGFMT_E_LIMIT, "nested deeper");
    /* Memory cap. */
    char *big = malloc(2u << 20);
    size_t n = 0;
    while (n < (2u << 20) - 16)
        n += (size_t)sprintf(big + n, "k%zu = 1\n", n);
    struct lvm_meta *m;
    imgfmt_error err = {0};
    ck_assert_int_eq(ifmt_lvm_meta_parse(big, n, 1u << 20, &m, &err), IMGFMT_E_LIMIT);
    ck_assert_int_eq(ifmt_lvm_meta_parse(big, n, 256u << 20, &m, &err), 0);
    ifmt_lvm_meta_free(m);
    free(big);
}
END_TEST

/* ---- PVs built in memory around a crafted text ------------------------ */

#define MEM_DISK (8u << 20)
#define MEM_MDA  4096u
#define MEM_MDA_SIZE (1u << 20)
static const char mem_uuid[] = "abcdef0123456789ABCDEF0123456789";

/* A disk that is one PV (label in sector 1, one metadata area at 4 KiB)
 * whose metadata is text. */
static uint8_t *mem_pv(const char *text)
{
    uint8_t *d = calloc(1, MEM_DISK);
    uint8_t *l = d + 512, *h = l + 32;
    memcpy(l, LVM_LABEL_ID, 8);
    ifmt_put_le64(l + 8, 1);
    ifmt_put_le32(l + 20, 32);
    memcpy(l + 24, LVM_LABEL_TYPE, 8);
    memcpy(h, mem_uuid, 32);
    ifmt_put_le64(h + 32, MEM_DISK);
    ifmt_put_le64(h + 40, MEM_MDA_SIZE + MEM_MDA);    /* data area; (0,0) */
    ifmt_put_le64(h + 72, MEM_MDA);                   /* metadata area; (0,0) */
    ifmt_put_le64(h + 80, MEM_MDA_SIZE);
    ifmt_put_le32(l + 16, ifmt_lvm_crc(LVM_CRC_INIT, l + 20, 512 - 20));
    uint8_t *m = d + MEM_MDA;
    memcpy(m + 4, LVM_MDA_MAGIC, LVM_MDA_MAGIC_LEN);
    ifmt_put_le32(m + 20, 1);
    ifmt_put_le64(m + 24, MEM_MDA);
    ifmt_put_le64(m + 32, MEM_MDA_SIZE);
    size_t n = strlen(text) + 1;
    memcpy(m + 512, text, n);
    ifmt_put_le64(m + 40, 512);
    ifmt_put_le64(m + 48, n);
    ifmt_put_le32(m + 56, ifmt_lvm_crc(LVM_CRC_INIT, (const uint8_t *)text, n));
    ifmt_put_le32(m, ifmt_lvm_crc(LVM_CRC_INIT, m + 4, 512 - 4));
    return d;
}

/* VG text: one PV (the memory one, 6 extents of 1 MiB from 1028 KiB), LVs. */
static char *vg_text(const char *lvs)
{
    static char t[8192];
    snprintf(t, sizeof t,
             "vgx {\nid = \"vgid00-0000-0000-0000-0000-0000-000000\"\nseqno = 3\n"
             "extent_size = 2048\nphysical_volumes {\npv0 {\n"
             "id = \"abcdef-0123-4567-89AB-CDEF-0123-456789\"\n"
             "pe_start = 2056\npe_count = 6\n}\n}\nlogical_volumes {\n%s}\n}\n", lvs);
    return t;
}

static char *lv_text(const char *name, const char *seg)
{
    static char t[4096];
    snprintf(t, sizeof t,
             "%s {\nid = \"x\"\nstatus = [\"READ\", \"VISIBLE\"]\nsegment_count = 1\n"
             "segment1 {\nstart_extent = 0\nextent_count = 2\n%s}\n}\n", name, seg);
    return t;
}

static int mem_scan(const char *lvs, imgfmt_lvm **lvm, uint8_t **disk, imgfmt_image **img,
                    imgfmt_error *err)
{
    *disk = mem_pv(vg_text(lvs));
    *img = open_mem_ok(*disk, MEM_DISK);
    return imgfmt_lvm_scan(*img, lvm, err);
}

static void mem_scan_fails(const char *lvs, int code, const char *needle)
{
    imgfmt_lvm *lvm = (void *)1;
    uint8_t *disk;
    imgfmt_image *img;
    imgfmt_error err = {0};
    int r = mem_scan(lvs, &lvm, &disk, &img, &err);
    ck_assert_msg(r == code, "%d (%s)", r, err.msg);
    ck_assert_ptr_null(lvm);
    ck_assert_msg(strstr(err.msg, needle), "\"%s\" lacks \"%s\"", err.msg, needle);
    imgfmt_close(img);
    free(disk);
}

START_TEST(mem_linear_ok)
{
    imgfmt_lvm *lvm;
    uint8_t *disk;
    imgfmt_image *img;
    imgfmt_error err = {0};
    const char *seg = "type = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", 4]\n";
    ck_assert_int_eq(mem_scan(lv_text("a", seg), &lvm, &disk, &img, &err), 0);
    uint32_t v, l;
    imgfmt_lvm_lv lv;
    find(lvm, "vgx/a", &v, &l, &lv);
    ck_assert(lv.readable);
    /* LV byte 0 = PV byte 2056*512 + 4 extents. */
    uint64_t at = 2056ull * 512 + 4ull * (1u << 20);
    memcpy(disk + at, "hello", 5);
    char b[5];
    ck_assert_int_eq(imgfmt_lvm_pread(lvm, v, l, b, 5, 0), 0);
    ck_assert_mem_eq(b, "hello", 5);
    imgfmt_lvm_free(lvm);
    imgfmt_close(img);
    free(disk);
}
END_TEST

START_TEST(mem_refused_by_name)
{
    static const char *const types[] = {"raid1", "mirror", "cache", "thin", "vdo",
                                        "writecache", "integrity", "error"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        char seg[128];
        snprintf(seg, sizeof seg, "type = \"%s\"\n", types[i]);
        imgfmt_lvm *lvm;
        uint8_t *disk;
        imgfmt_image *img;
        imgfmt_error err = {0};
        ck_assert_int_eq(mem_scan(lv_text("a", seg), &lvm, &disk, &img, &err), 0);
        imgfmt_lvm_lv lv;
        ck_assert_int_eq(imgfmt_lvm_get_lv(lvm, 0, 0, &lv), 0);
        ck_assert(!lv.readable);
        ck_assert_str_eq(lv.type, types[i]);
        ck_assert_ptr_nonnull(strstr(lv.refusal, types[i]));
        imgfmt_lvm_free(lvm);
        imgfmt_close(img);
        free(disk);
    }
}
END_TEST

START_TEST(mem_snapshot_store_refused)
{
    char lvs[4096];
    const char *lin = "type = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", 0]\n";
    const char *cow = "type = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", 2]\n";
    snprintf(lvs, sizeof lvs, "%s", lv_text("origin", lin));
    strcat(lvs, lv_text("snap", cow));
    strcat(lvs, "snapshot0 {\nid = \"y\"\nstatus = [\"READ\"]\nsegment_count = 1\n"
                "segment1 {\nstart_extent = 0\nextent_count = 2\ntype = \"snapshot\"\n"
                "chunk_size = 8\norigin = \"origin\"\ncow_store = \"snap\"\n}\n}\n");
    imgfmt_lvm *lvm;
    uint8_t *disk;
    imgfmt_image *img;
    imgfmt_error err = {0};
    ck_assert_int_eq(mem_scan(lvs, &lvm, &disk, &img, &err), 0);
    uint32_t v, l;
    imgfmt_lvm_lv lv;
    find(lvm, "vgx/origin", &v, &l, &lv);
    ck_assert(lv.readable);
    find(lvm, "vgx/snap", &v, &l, &lv);
    ck_assert(!lv.readable);
    ck_assert_str_eq(lv.type, "snapshot");
    ck_assert_ptr_nonnull(strstr(lv.refusal, "copy-on-write store of origin"));
    find(lvm, "vgx/snapshot0", &v, &l, &lv);
    ck_assert(!lv.readable);
    imgfmt_lvm_free(lvm);
    imgfmt_close(img);
    free(disk);
}
END_TEST

START_TEST(mem_bad_segments)
{
    mem_scan_fails(lv_text("a", "type = \"striped\"\nstripe_count = 1\n"
                                "stripes = [\"pv0\", 5]\n"),
                   IMGFMT_E_CORRUPT, "beyond pv0");
    mem_scan_fails(lv_text("a", "type = \"striped\"\nstripe_count = 1\n"
                                "stripes = [\"pv9\", 0]\n"),
                   IMGFMT_E_CORRUPT, "names no PV");
    mem_scan_fails(lv_text("a", "type = \"striped\"\nstripe_count = 2\n"
                                "stripes = [\"pv0\", 0]\n"),
                   IMGFMT_E_CORRUPT, "stripe_size");
    mem_scan_fails(lv_text("a", "type = \"striped\"\nstripe_count = 2\nstripe_size = 3\n"
                                "stripes = [\"pv0\", 0, \"pv0\", 3]\n"),
                   IMGFMT_E_CORRUPT, "does not divide");
    mem_scan_fails(lv_text("a", "type = \"striped\"\nstripe_count = 1000\n"),
                   IMGFMT_E_LIMIT, "stripe_count");
    mem_scan_fails(lv_text("a", "type = \"striped\"\nstripe_count = 1\n"
                                "stripes = [\"pv0\", -1]\n"),
                   IMGFMT_E_CORRUPT, "names no PV");
    mem_scan_fails(lv_text("a", "stripe_count = 1\n"), IMGFMT_E_CORRUPT, "no type");
    mem_scan_fails("a {\nid = \"x\"\nsegment_count = 99999999\n}\n", IMGFMT_E_LIMIT,
                   "segment_count");
    mem_scan_fails("a {\nid = \"x\"\nsegment_count = 2\nsegment1 {\nstart_extent = 0\n"
                   "extent_count = 1\ntype = \"error\"\n}\nsegment2 {\nstart_extent = 3\n"
                   "extent_count = 1\ntype = \"error\"\n}\n}\n",
                   IMGFMT_E_CORRUPT, "expected to start at 1");
    mem_scan_fails("a {\nid = \"x\"\nsegment_count = 1\nsegment1 {\nstart_extent = 0\n"
                   "extent_count = 9223372036854775807\ntype = \"error\"\n}\n}\n",
                   IMGFMT_E_CORRUPT, "segment1");
}
END_TEST

START_TEST(mem_bad_vg)
{
    /* pe_count beyond the device. */
    char *t = vg_text("");
    char *p = strstr(t, "pe_count = 6");
    memcpy(p, "pe_count = 9", 12);
    uint8_t *disk = mem_pv(t);
    imgfmt_image *img = open_mem_ok(disk, MEM_DISK);
    imgfmt_lvm *lvm;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_lvm_scan(img, &lvm, &err), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "vgx/pv0"));
    imgfmt_close(img);
    free(disk);
    /* Syntax error in the only copy. */
    disk = mem_pv("vgx { id = \"a\" seqno = 1 \n");
    img = open_mem_ok(disk, MEM_DISK);
    ck_assert_int_eq(imgfmt_lvm_scan(img, &lvm, &err), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not closed"));
    imgfmt_close(img);
    free(disk);
    /* No seqno. */
    disk = mem_pv("vgx { id = \"a\" }\n");
    img = open_mem_ok(disk, MEM_DISK);
    ck_assert_int_eq(imgfmt_lvm_scan(img, &lvm, &err), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "seqno"));
    imgfmt_close(img);
    free(disk);
}
END_TEST

START_TEST(mem_bad_areas)
{
    uint8_t *disk = mem_pv(vg_text(""));
    imgfmt_lvm *lvm;
    imgfmt_error err = {0};
    /* Raw location past the area. */
    uint8_t *m = disk + MEM_MDA;
    ifmt_put_le64(m + 40, MEM_MDA_SIZE + 5);
    ifmt_put_le32(m, ifmt_lvm_crc(LVM_CRC_INIT, m + 4, 512 - 4));
    imgfmt_image *img = open_mem_ok(disk, MEM_DISK);
    ck_assert_int_eq(imgfmt_lvm_scan(img, &lvm, &err), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "outside its"));
    imgfmt_close(img);
    /* Metadata area beyond the disk (PV header, label CRC redone). */
    uint8_t *l = disk + 512;
    ifmt_put_le64(l + 32 + 80, MEM_DISK);
    ifmt_put_le32(l + 16, ifmt_lvm_crc(LVM_CRC_INIT, l + 20, 512 - 20));
    img = open_mem_ok(disk, MEM_DISK);
    ck_assert_int_eq(imgfmt_lvm_scan(img, &lvm, &err), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "outside the PV"));
    imgfmt_close(img);
    /* Area lists that never end. */
    memset(l + 32 + 40, 0xAB, 512 - 72);
    ifmt_put_le32(l + 16, ifmt_lvm_crc(LVM_CRC_INIT, l + 20, 512 - 20));
    img = open_mem_ok(disk, MEM_DISK);
    ck_assert_int_eq(imgfmt_lvm_scan(img, &lvm, &err), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "run past"));
    imgfmt_close(img);
    free(disk);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lvm");
    TCase *fx = tcase_create("fixtures");
    tcase_add_test(fx, two_pv_layout);
    tcase_add_test(fx, two_pv_data);
    tcase_add_test(fx, thin_pool_refused);
    tcase_add_test(fx, names);
    tcase_add_test(fx, whole_disk_wrapped);
    tcase_add_test(fx, missing_pv);
    tcase_add_test(fx, damaged_copies);
    tcase_add_test(fx, open_lv_as_fs);
    tcase_add_test(fx, ext4_on_lv);
    tcase_add_test(fx, volumes_list_lvs);
    suite_add_tcase(s, fx);
    TCase *ps = tcase_create("parser");
    tcase_add_test(ps, parser_basics);
    tcase_add_test(ps, parser_hostile);
    suite_add_tcase(s, ps);
    TCase *mem = tcase_create("crafted");
    tcase_add_test(mem, mem_linear_ok);
    tcase_add_test(mem, mem_refused_by_name);
    tcase_add_test(mem, mem_snapshot_store_refused);
    tcase_add_test(mem, mem_bad_segments);
    tcase_add_test(mem, mem_bad_vg);
    tcase_add_test(mem, mem_bad_areas);
    suite_add_tcase(s, mem);
    return run_suite(s);
}
