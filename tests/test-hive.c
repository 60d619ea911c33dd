/*
 * test-hive.c -- REGF hives: hivex's fixtures (../shared/fixtures/hivex:
 * minimal, special, rlenvalue_test_hive; the suite is skipped, exit 77,
 * without them), testdata/hive-system.gz (hivexregedit --merge, made by
 * tests/gen/mkhive-fixtures.sh) and corruptions crafted in copies of it.
 */
#define IMGFMT_BUILDING 1
#include <zlib.h>

#include "testutil.h"
#include "core/bytes.h"
#include "inspect/hive.h"

static uint8_t *read_file(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");      /* reads plain files too */
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 16u << 20, n = 0;
    uint8_t *buf = malloc(cap);
    int r;
    while ((r = gzread(f, buf + n, (unsigned)(cap - n))) > 0)
        n += (size_t)r;
    gzclose(f);
    *len = n;
    return buf;
}

static const char *shared(const char *name)
{
    static char p[8192];
    const char *dir = getenv("IMGFMT_TESTDATA");
    snprintf(p, sizeof p, "%s/../../shared/fixtures/hivex/%s", dir ? dir : "testdata", name);
    return p;
}

static imgfmt_hive *open_ok(const uint8_t *buf, size_t len)
{
    imgfmt_hive *h;
    imgfmt_error err = {0};
    int r = imgfmt_hive_open_memory(buf, len, &h, &err);
    ck_assert_msg(r == 0, "open: %d %s", r, err.msg);
    return h;
}

static imgfmt_hive *open_shared(const char *name)
{
    size_t len;
    uint8_t *buf = read_file(shared(name), &len);
    imgfmt_hive *h = open_ok(buf, len);
    free(buf);
    return h;
}

static imgfmt_hive_key key(imgfmt_hive *h, const char *path)
{
    imgfmt_hive_key k;
    int r = imgfmt_hive_lookup(h, imgfmt_hive_root(h), path, &k);
    ck_assert_msg(r == 0, "%s: %d %s", path, r, imgfmt_hive_last_error(h)->msg);
    return k;
}

static imgfmt_hive_value val(imgfmt_hive *h, imgfmt_hive_key k, const char *name)
{
    imgfmt_hive_value v;
    int r = imgfmt_hive_get_value(h, k, name, &v);
    ck_assert_msg(r == 0, "%s: %d %s", name, r, imgfmt_hive_last_error(h)->msg);
    return v;
}

static uint32_t dword(imgfmt_hive *h, imgfmt_hive_key k, const char *name)
{
    uint32_t d;
    ck_assert_int_eq(imgfmt_hive_value_dword(h, val(h, k, name), &d), 0);
    return d;
}

static const char *string(imgfmt_hive *h, imgfmt_hive_key k, const char *name)
{
    const char *s;
    int r = imgfmt_hive_value_string(h, val(h, k, name), &s);
    ck_assert_msg(r == 0, "%s: %s", name, imgfmt_hive_last_error(h)->msg);
    return s;
}

START_TEST(minimal)
{
    imgfmt_hive *h = open_shared("minimal");
    imgfmt_hive_key_info ki;
    ck_assert_int_eq(imgfmt_hive_key_stat(h, imgfmt_hive_root(h), &ki), 0);
    ck_assert_uint_eq(ki.nb_subkeys, 0);
    ck_assert_uint_eq(ki.nb_values, 0);
    ck_assert_int_eq(imgfmt_hive_dirty(h), 0);
    ck_assert_uint_eq(imgfmt_hive_nb_warnings(h), 0);
    imgfmt_hive_key k;
    ck_assert_int_eq(imgfmt_hive_lookup(h, imgfmt_hive_root(h), "\\", &k), 0);
    ck_assert_uint_eq(k, imgfmt_hive_root(h));
    ck_assert_int_eq(imgfmt_hive_lookup(h, k, "nope", &k), IMGFMT_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(imgfmt_hive_last_error(h)->msg, "nope"));
    imgfmt_hive_close(h);
}
END_TEST

/* Written by Windows XP's regedit: Latin-1 (compressed) and UTF-16 names. */
START_TEST(special)
{
    imgfmt_hive *h = open_shared("special");
    imgfmt_hive_iter *it;
    uint32_t x, n = 0;
    const char *names[3];
    char got[3][64];
    ck_assert_int_eq(imgfmt_hive_subkeys(h, imgfmt_hive_root(h), &it), 0);
    while (imgfmt_hive_next(it, &x) == 1) {
        imgfmt_hive_key_info ki;
        ck_assert_int_eq(imgfmt_hive_key_stat(h, x, &ki), 0);
        ck_assert_uint_lt(n, 3);
        snprintf(got[n], sizeof got[n], "%s", ki.name);
        names[n] = got[n];
        n++;
    }
    imgfmt_hive_iter_free(it);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(names[0], "abcd_\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f");
    ck_assert_str_eq(names[1], "weird\xe2\x84\xa2");
    ck_assert_str_eq(names[2], "zero");   /* "zero\0key": cut at the NUL */
    /* Case-insensitive, beyond ASCII. */
    imgfmt_hive_key k = key(h, "ABCD_\xc3\x84\xc3\x96\xc3\x9c\xc3\x9f");
    ck_assert_uint_eq(dword(h, k, "ABCD_\xc3\x84\xc3\x96\xc3\x9c\xc3\x9f"), 0);
    k = key(h, "WEIRD\xe2\x84\xa2");
    ck_assert_uint_eq(dword(h, k, "symbols $\xc2\xa3\xe2\x82\xa4\xe2\x82\xa7\xe2\x82\xac"), 0);
    imgfmt_hive_close(h);
}
END_TEST

/* REG_BINARY of 3..33 bytes: up to 4 inside the value record. */
START_TEST(rlenvalue)
{
    imgfmt_hive *h = open_shared("rlenvalue_test_hive");
    imgfmt_hive_key k = key(h, "ModerateValueParent");
    static const unsigned sizes[] = {3, 16, 30, 31, 32, 33};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char name[16];
        snprintf(name, sizeof name, "%uBytes", sizes[i]);
        imgfmt_hive_value v = val(h, k, name);
        imgfmt_hive_value_info vi;
        const uint8_t *d;
        size_t len;
        ck_assert_int_eq(imgfmt_hive_value_stat(h, v, &vi), 0);
        ck_assert_uint_eq(vi.type, IMGFMT_REG_BINARY);
        ck_assert_int_eq(imgfmt_hive_value_data(h, v, &d, &len), 0);
        ck_assert_uint_eq(len, sizes[i]);
        for (size_t j = 0; j < len; j++)
            ck_assert_int_eq(d[j], "0123456789ABCDEF"[j % 16]);
    }
    uint32_t dw;
    ck_assert_int_eq(imgfmt_hive_value_dword(h, val(h, k, "3Bytes"), &dw), IMGFMT_E_INVAL);
    imgfmt_hive_close(h);
}
END_TEST

/* ---- the SYSTEM-like hive ----------------------------------------- */

static uint8_t *system_hive(size_t *len)
{
    return read_file(td_path("hive-system.gz"), len);
}

START_TEST(system_services)
{
    size_t len;
    uint8_t *buf = system_hive(&len);
    imgfmt_hive *h = open_ok(buf, len);
    ck_assert_uint_eq(dword(h, key(h, "Select"), "Current"), 1);
    imgfmt_hive_key k = key(h, "controlset001\\SERVICES\\VioStor");
    ck_assert_uint_eq(dword(h, k, "type"), 1);
    ck_assert_uint_eq(dword(h, k, "Start"), 0);
    ck_assert_str_eq(string(h, k, "Group"), "SCSI miniport");
    ck_assert_str_eq(string(h, k, "ImagePath"), "system32\\drivers\\viostor.sys");
    ck_assert_uint_eq(dword(h, key(h, "ControlSet002\\Services\\viostor"), "Start"), 3);
    k = key(h, "ControlSet001\\Control\\CriticalDeviceDatabase\\"
               "PCI#VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00");
    ck_assert_str_eq(string(h, k, "ClassGUID"), "{4D36E97B-E325-11CE-BFC1-08002BE10318}");
    /* A UTF-16 key name, looked up in upper case. */
    k = key(h, "ControlSet001\\\xd0\x9a\xd0\x9b\xd0\xae\xd0\xa7\xe2\x84\xa2 utf16");
    ck_assert_uint_eq(dword(h, k, "\xd0\x97\xd0\x9d\xd0\x90\xd0\xa7\xd0\x95\xd0\x9d\xd0\x98\xd0\x95"), 7);
    imgfmt_hive_close(h);
    free(buf);
}
END_TEST

START_TEST(system_types)
{
    size_t len;
    uint8_t *buf = system_hive(&len);
    imgfmt_hive *h = open_ok(buf, len);
    imgfmt_hive_key k = key(h, "ControlSet001\\Types");
    ck_assert_str_eq(string(h, k, ""), "default value");
    ck_assert_uint_eq(dword(h, k, "dword"), 10);
    ck_assert_uint_eq(dword(h, k, "dword_be"), 0x102);
    uint64_t q;
    ck_assert_int_eq(imgfmt_hive_value_qword(h, val(h, k, "qword"), &q), 0);
    ck_assert_uint_eq(q, (1ull << 40) + 5);
    ck_assert_str_eq(string(h, k, "sz"), "text with \"quotes\" and \\backslash\\");
    ck_assert_str_eq(string(h, k, "sz_empty"), "");
    ck_assert_str_eq(string(h, k, "sz_nonul"), "AB");
    ck_assert_str_eq(string(h, k, "sz_utf16"),
                     "Gr\xc3\xbc\xc3\x9f" "e \xe2\x88\x91 \xe2\x82\xa4 \xf0\x9f\x98\x80");
    ck_assert_str_eq(string(h, k, "expand"), "%SystemRoot%\\x");
    ck_assert_str_eq(string(h, k, "link"), "\\Registry\\Machine\\X");
    const char *const *list;
    uint32_t n;
    ck_assert_int_eq(imgfmt_hive_value_strings(h, val(h, k, "multi"), &list, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(list[0], "one");
    ck_assert_str_eq(list[1], "two");
    ck_assert_int_eq(imgfmt_hive_value_strings(h, val(h, k, "multi_utf16"), &list, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(list[0], "\xd0\x9a\xd0\xbb\xd1\x8e\xd1\x87");
    const uint8_t *d;
    size_t dl;
    ck_assert_int_eq(imgfmt_hive_value_data(h, val(h, k, "big50k"), &d, &dl), 0);
    ck_assert_uint_eq(dl, 50000);
    for (size_t i = 0; i < dl; i++)
        ck_assert_int_eq(d[i], (uint8_t)(i * 13 + 1));
    ck_assert_int_eq(imgfmt_hive_value_data(h, val(h, k, "binary_empty"), &d, &dl), 0);
    ck_assert_uint_eq(dl, 0);
    imgfmt_hive_value_info vi;
    ck_assert_int_eq(imgfmt_hive_value_stat(h, val(h, k, "none"), &vi), 0);
    ck_assert_uint_eq(vi.type, IMGFMT_REG_NONE);
    ck_assert_uint_eq(vi.size, 2);
    /* Type mismatches are refused by name. */
    uint32_t dw;
    ck_assert_int_eq(imgfmt_hive_value_dword(h, val(h, k, "sz"), &dw), IMGFMT_E_INVAL);
    ck_assert_ptr_nonnull(strstr(imgfmt_hive_last_error(h)->msg, "not a DWORD"));
    ck_assert_int_eq(imgfmt_hive_value_qword(h, val(h, k, "dword"), &q), IMGFMT_E_INVAL);
    const char *s;
    ck_assert_int_eq(imgfmt_hive_value_string(h, val(h, k, "binary"), &s), IMGFMT_E_INVAL);
    imgfmt_hive_value v;
    ck_assert_int_eq(imgfmt_hive_get_value(h, k, "absent", &v), IMGFMT_E_NOT_FOUND);
    imgfmt_hive_close(h);
    free(buf);
}
END_TEST

START_TEST(system_many)
{
    size_t len;
    uint8_t *buf = system_hive(&len);
    imgfmt_hive *h = open_ok(buf, len);
    imgfmt_hive_key k = key(h, "ControlSet001\\Many");
    imgfmt_hive_iter *it;
    uint32_t x, n = 0;
    ck_assert_int_eq(imgfmt_hive_subkeys(h, k, &it), 0);
    while (imgfmt_hive_next(it, &x) == 1) {
        imgfmt_hive_key_info ki;
        char want[16];
        imgfmt_hive_key_stat(h, x, &ki);
        snprintf(want, sizeof want, "Key%05u", n++);
        ck_assert_str_eq(ki.name, want);
    }
    imgfmt_hive_iter_free(it);
    ck_assert_uint_eq(n, 1000);
    ck_assert_uint_eq(dword(h, key(h, "ControlSet001\\Many\\key00500"), "I"), 500);
    imgfmt_hive_close(h);
    free(buf);
}
END_TEST

/* Many's single lh list rebuilt as an ri list over an li list (keys 0-499)
 * and an lh list (500-999), carved out of the lh list's own cell (the
 * rest left as a free cell): the order and lookups must not change. */
START_TEST(ri_list)
{
    size_t len;
    uint8_t *buf = system_hive(&len);
    imgfmt_hive *h = open_ok(buf, len);
    imgfmt_hive_key many = key(h, "ControlSet001\\Many");
    imgfmt_hive_close(h);
    uint8_t *bins = buf + 4096;
    uint32_t L = ifmt_le32(bins + many + 4 + 28);
    uint32_t total = (uint32_t)0 - ifmt_le32(bins + L);
    ck_assert_uint_ge(total, 8008);
    uint8_t *old = malloc(total);
    memcpy(old, bins + L, total);
    const uint8_t *e = old + 8;               /* the lh entries: 8 bytes each */
    uint32_t li = L + 16, lh = li + 2008, rest = lh + 4008;
    ifmt_put_le32(bins + L, (uint32_t)-16);
    memcpy(bins + L + 4, "ri", 2);
    ifmt_put_le16(bins + L + 6, 2);
    ifmt_put_le32(bins + L + 8, li);
    ifmt_put_le32(bins + L + 12, lh);
    ifmt_put_le32(bins + li, (uint32_t)-2008);
    memcpy(bins + li + 4, "li", 2);
    ifmt_put_le16(bins + li + 6, 500);
    for (uint32_t i = 0; i < 500; i++)
        ifmt_put_le32(bins + li + 8 + 4 * i, ifmt_le32(e + 8 * i));
    ifmt_put_le32(bins + lh, (uint32_t)-4008);
    memcpy(bins + lh + 4, "lh", 2);
    ifmt_put_le16(bins + lh + 6, 500);
    memcpy(bins + lh + 8, e + 8 * 500, 8 * 500);
    ifmt_put_le32(bins + rest, total - (rest - L));
    free(old);
    h = open_ok(buf, len);
    imgfmt_hive_iter *it;
    uint32_t x, n = 0;
    ck_assert_int_eq(imgfmt_hive_subkeys(h, many, &it), 0);
    while (imgfmt_hive_next(it, &x) == 1) {
        imgfmt_hive_key_info ki;
        char want[16];
        imgfmt_hive_key_stat(h, x, &ki);
        snprintf(want, sizeof want, "Key%05u", n++);
        ck_assert_str_eq(ki.name, want);
    }
    imgfmt_hive_iter_free(it);
    ck_assert_uint_eq(n, 1000);
    ck_assert_uint_eq(dword(h, key(h, "ControlSet001\\Many\\KEY00500"), "i"), 500);
    key(h, "ControlSet001\\Many\\Key00499");
    imgfmt_hive_close(h);
    free(buf);
}
END_TEST

/* ---- corruptions --------------------------------------------------- */

static void fix_checksum(uint8_t *b)
{
    uint32_t x = 0;
    for (int i = 0; i < 508; i += 4)
        x ^= ifmt_le32(b + i);
    ifmt_put_le32(b + 508, x);
}

static void open_fails(const uint8_t *buf, size_t len, int code, const char *needle)
{
    imgfmt_hive *h = (void *)1;
    imgfmt_error err = {0};
    int r = imgfmt_hive_open_memory(buf, len, &h, &err);
    ck_assert_msg(r == code, "expected %d, got %d (%s)", code, r, err.msg);
    ck_assert_ptr_null(h);
    ck_assert_msg(strstr(err.msg, needle), "\"%s\" lacks \"%s\"", err.msg, needle);
}

START_TEST(base_block)
{
    size_t len;
    uint8_t *buf = system_hive(&len);
    buf[100] ^= 1;
    open_fails(buf, len, IMGFMT_E_CORRUPT, "checksum");
    buf[100] ^= 1;
    ifmt_put_le32(buf + 20, 2);
    fix_checksum(buf);
    open_fails(buf, len, IMGFMT_E_UNSUPPORTED, "version 2.");
    ifmt_put_le32(buf + 20, 1);
    ifmt_put_le32(buf + 28, 1);
    fix_checksum(buf);
    open_fails(buf, len, IMGFMT_E_UNSUPPORTED, "log");
    ifmt_put_le32(buf + 28, 0);
    uint32_t bins = ifmt_le32(buf + 40);
    ifmt_put_le32(buf + 40, (uint32_t)len);
    fix_checksum(buf);
    open_fails(buf, len, IMGFMT_E_CORRUPT, "bins size");
    ifmt_put_le32(buf + 40, bins);
    open_fails(buf, 4000, IMGFMT_E_UNKNOWN_FORMAT, "regf");
    /* Sequence numbers differ: opened, dirty, a warning. */
    ifmt_put_le32(buf + 8, ifmt_le32(buf + 4) + 1);
    fix_checksum(buf);
    imgfmt_hive *h = open_ok(buf, len);
    ck_assert_int_eq(imgfmt_hive_dirty(h), 1);
    ck_assert_uint_eq(imgfmt_hive_nb_warnings(h), 1);
    ck_assert_ptr_nonnull(strstr(imgfmt_hive_warning(h, 0), "dirty"));
    imgfmt_hive_close(h);
    free(buf);
}
END_TEST

START_TEST(bins_and_cells)
{
    size_t len;
    uint8_t *buf = system_hive(&len);
    uint8_t *bins = buf + 4096;
    bins[0] = 'X';
    open_fails(buf, len, IMGFMT_E_CORRUPT, "no hbin at 0");
    bins[0] = 'h';
    ifmt_put_le32(bins + 8, 4097);
    open_fails(buf, len, IMGFMT_E_CORRUPT, "hbin at 0 says");
    ifmt_put_le32(bins + 8, 4096);
    uint32_t first = ifmt_le32(bins + 32);
    ifmt_put_le32(bins + 32, 0);
    open_fails(buf, len, IMGFMT_E_CORRUPT, "cell at 32 has size 0");
    ifmt_put_le32(bins + 32, 0x7ffffff8);
    open_fails(buf, len, IMGFMT_E_CORRUPT, "cell at 32");
    ifmt_put_le32(bins + 32, first);
    uint32_t root = ifmt_le32(buf + 36);
    ifmt_put_le32(buf + 36, root + 8);
    fix_checksum(buf);
    open_fails(buf, len, IMGFMT_E_CORRUPT, "not an allocated cell");
    ifmt_put_le32(buf + 36, 0xfffffff8);
    fix_checksum(buf);
    open_fails(buf, len, IMGFMT_E_CORRUPT, "not an allocated cell");
    free(buf);
}
END_TEST

/* Open the SYSTEM hive, find ControlSet001\Many, let damage() change the
 * bytes of a copy, and list Many's subkeys expecting code / needle. */
static void many_damaged(void (*damage)(uint8_t *bins, uint32_t many, uint32_t list),
                         int code, const char *needle)
{
    size_t len;
    uint8_t *buf = system_hive(&len);
    imgfmt_hive *h = open_ok(buf, len);
    imgfmt_hive_key many = key(h, "ControlSet001\\Many");
    imgfmt_hive_close(h);
    uint8_t *nk = buf + 4096 + many + 4;
    damage(buf + 4096, many, ifmt_le32(nk + 28));
    h = open_ok(buf, len);
    imgfmt_hive_iter *it = NULL;
    int r = imgfmt_hive_subkeys(h, many, &it);
    ck_assert_msg(r == code, "expected %d, got %d (%s)", code, r,
                  imgfmt_hive_last_error(h)->msg);
    ck_assert_msg(strstr(imgfmt_hive_last_error(h)->msg, needle), "\"%s\" lacks \"%s\"",
                  imgfmt_hive_last_error(h)->msg, needle);
    imgfmt_hive_iter_free(it);
    imgfmt_hive_close(h);
    free(buf);
}

static void huge_count(uint8_t *b, uint32_t many, uint32_t list)
{
    (void)list;
    ifmt_put_le32(b + many + 4 + 20, 0x7fffffff);
}

static void count_mismatch(uint8_t *b, uint32_t many, uint32_t list)
{
    (void)list;
    ifmt_put_le32(b + many + 4 + 20, 999);
}

static void entry_is_parent(uint8_t *b, uint32_t many, uint32_t list)
{
    ifmt_put_le32(b + list + 4 + 4, many);      /* first entry: Many itself */
}

static void ri_loop(uint8_t *b, uint32_t many, uint32_t list)
{
    (void)many;
    uint8_t *p = b + list + 4;
    memcpy(p, "ri", 2);
    ifmt_put_le16(p + 2, 2);
    ifmt_put_le32(p + 4, list);                 /* both entries: this list */
    ifmt_put_le32(p + 8, list);
}

static void bad_signature(uint8_t *b, uint32_t many, uint32_t list)
{
    (void)many;
    memcpy(b + list + 4, "zz", 2);
}

static void count_past_cell(uint8_t *b, uint32_t many, uint32_t list)
{
    (void)many;
    ifmt_put_le16(b + list + 4 + 2, 0xffff);
}

START_TEST(subkey_lists)
{
    many_damaged(huge_count, IMGFMT_E_CORRUPT, "cannot fit");
    many_damaged(count_mismatch, IMGFMT_E_CORRUPT, "more than its 999");
    many_damaged(entry_is_parent, IMGFMT_E_CORRUPT, "belongs to");
    many_damaged(ri_loop, IMGFMT_E_LIMIT, "nested deeper");
    many_damaged(bad_signature, IMGFMT_E_CORRUPT, "signature 7a7a");
    many_damaged(count_past_cell, IMGFMT_E_CORRUPT, "past its");
}
END_TEST

/* Rebuild the data of value big50k as big data: a db cell, its segment
 * list and three segments of 16344, 16344 and 7312 bytes (40000 in all),
 * carved out of the value's own 50000-byte cell. */
START_TEST(big_data)
{
    size_t len;
    uint8_t *buf = system_hive(&len);
    imgfmt_hive *h = open_ok(buf, len);
    imgfmt_hive_value v = val(h, key(h, "ControlSet001\\Types"), "big50k");
    imgfmt_hive_close(h);
    uint8_t *bins = buf + 4096, *vk = bins + v + 4;
    uint32_t o = ifmt_le32(vk + 8);
    uint32_t total = (uint32_t)0 - ifmt_le32(bins + o);
    ck_assert_uint_ge(total, 50008);
    uint32_t list = o + 16, s1 = list + 24, s2 = s1 + 16352, s3 = s2 + 16352;
    ifmt_put_le32(bins + o, (uint32_t)-16);
    memcpy(bins + o + 4, "db", 2);
    ifmt_put_le16(bins + o + 6, 3);
    ifmt_put_le32(bins + o + 8, list);
    ifmt_put_le32(bins + list, (uint32_t)-24);
    ifmt_put_le32(bins + list + 4, s1);
    ifmt_put_le32(bins + list + 8, s2);
    ifmt_put_le32(bins + list + 12, s3);
    uint32_t seg[3] = {s1, s2, s3}, sizes[3] = {16352, 16352, total - 16 - 24 - 2 * 16352};
    for (int i = 0; i < 3; i++) {
        ifmt_put_le32(bins + seg[i], (uint32_t)0 - sizes[i]);
        for (uint32_t j = 0; j < 16344 && i * 16344 + j < 40000; j++)
            bins[seg[i] + 4 + j] = (uint8_t)((i * 16344 + j) * 7);
    }
    ifmt_put_le32(vk + 4, 40000);
    h = open_ok(buf, len);
    const uint8_t *d;
    size_t dl;
    ck_assert_int_eq(imgfmt_hive_value_data(h, v, &d, &dl), 0);
    ck_assert_uint_eq(dl, 40000);
    for (size_t i = 0; i < dl; i++)
        ck_assert_int_eq(d[i], (uint8_t)(i * 7));
    imgfmt_hive_close(h);
    /* Too few segments for the size. */
    ifmt_put_le16(bins + o + 6, 2);
    h = open_ok(buf, len);
    ck_assert_int_eq(imgfmt_hive_value_data(h, v, &d, &dl), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_hive_last_error(h)->msg, "2 big data segments"));
    imgfmt_hive_close(h);
    /* Not big data: a plain cell too small for the size. */
    memcpy(bins + o + 4, "xx", 2);
    h = open_ok(buf, len);
    ck_assert_int_eq(imgfmt_hive_value_data(h, v, &d, &dl), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_hive_last_error(h)->msg, "in a 12-byte cell"));
    imgfmt_hive_close(h);
    free(buf);
}
END_TEST

START_TEST(values_damaged)
{
    size_t len;
    uint8_t *buf = system_hive(&len);
    imgfmt_hive *h = open_ok(buf, len);
    imgfmt_hive_key k = key(h, "ControlSet001\\Types");
    imgfmt_hive_value v = val(h, k, "binary");
    imgfmt_hive_close(h);
    uint8_t *bins = buf + 4096;
    uint32_t nb = ifmt_le32(bins + k + 4 + 36);
    ifmt_put_le32(bins + k + 4 + 36, 0x40000000);
    h = open_ok(buf, len);
    imgfmt_hive_iter *it;
    ck_assert_int_eq(imgfmt_hive_values(h, k, &it), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_hive_last_error(h)->msg, "value list"));
    imgfmt_hive_close(h);
    ifmt_put_le32(bins + k + 4 + 36, nb);
    ifmt_put_le32(bins + v + 4 + 4, 100000);       /* data size past its cell */
    h = open_ok(buf, len);
    const uint8_t *d;
    size_t dl;
    ck_assert_int_eq(imgfmt_hive_value_data(h, v, &d, &dl), IMGFMT_E_CORRUPT);
    ifmt_put_le32(bins + v + 4 + 4, 0x80000009);   /* "inline" but 9 bytes */
    imgfmt_hive_close(h);
    h = open_ok(buf, len);
    ck_assert_int_eq(imgfmt_hive_value_data(h, v, &d, &dl), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_hive_last_error(h)->msg, "inline"));
    imgfmt_hive_close(h);
    ifmt_put_le16(bins + v + 4 + 2, 0xffff);       /* name past the cell */
    h = open_ok(buf, len);
    imgfmt_hive_value_info vi;
    ck_assert_int_eq(imgfmt_hive_value_stat(h, v, &vi), IMGFMT_E_CORRUPT);
    imgfmt_hive_close(h);
    free(buf);
}
END_TEST

int main(void)
{
    if (access(shared("minimal"), R_OK) != 0) {
        printf("hivex fixtures not found (%s): skipped\n", shared("minimal"));
        return 77;
    }
    Suite *s = suite_create("hive");
    TCase *fx = tcase_create("fixtures");
    tcase_add_test(fx, minimal);
    tcase_add_test(fx, special);
    tcase_add_test(fx, rlenvalue);
    tcase_add_test(fx, system_services);
    tcase_add_test(fx, system_types);
    tcase_add_test(fx, system_many);
    tcase_add_test(fx, ri_list);
    suite_add_tcase(s, fx);
    TCase *bad = tcase_create("corrupt");
    tcase_add_test(bad, base_block);
    tcase_add_test(bad, bins_and_cells);
    tcase_add_test(bad, subkey_lists);
    tcase_add_test(bad, big_data);
    tcase_add_test(bad, values_damaged);
    suite_add_tcase(s, bad);
    return run_suite(s);
}
