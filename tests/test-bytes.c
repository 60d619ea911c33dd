/*
 * test-bytes.c -- endian loads/stores and overflow-checked arithmetic.
 */
#include "testutil.h"
#include "core/bytes.h"
#include "core/checked.h"

START_TEST(test_endian)
{
    uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ck_assert_uint_eq(ifmt_be16(b), 0x0102);
    ck_assert_uint_eq(ifmt_be32(b), 0x01020304u);
    ck_assert_uint_eq(ifmt_be64(b), 0x0102030405060708ull);
    ck_assert_uint_eq(ifmt_le16(b), 0x0201);
    ck_assert_uint_eq(ifmt_le32(b), 0x04030201u);
    ck_assert_uint_eq(ifmt_le64(b), 0x0807060504030201ull);
    uint8_t o[8];
    ifmt_put_be64(o, 0x0102030405060708ull);
    ck_assert_mem_eq(o, b, 8);
    ifmt_put_le64(o, 0x0807060504030201ull);
    ck_assert_mem_eq(o, b, 8);
    ifmt_put_be32(o, 0xdeadbeef);
    ck_assert_uint_eq(ifmt_be32(o), 0xdeadbeef);
    ifmt_put_le32(o, 0xdeadbeef);
    ck_assert_uint_eq(ifmt_le32(o), 0xdeadbeef);
    ifmt_put_be16(o, 0xbeef);
    ck_assert_uint_eq(ifmt_be16(o), 0xbeef);
    ifmt_put_le16(o, 0xbeef);
    ck_assert_uint_eq(ifmt_le16(o), 0xbeef);
}
END_TEST

START_TEST(test_checked)
{
    uint64_t r;
    ck_assert(!ifmt_add_overflow(1, 2, &r));
    ck_assert_uint_eq(r, 3);
    ck_assert(ifmt_add_overflow(UINT64_MAX, 1, &r));
    ck_assert(!ifmt_mul_overflow(1ull << 31, 1ull << 32, &r));
    ck_assert_uint_eq(r, 1ull << 63);
    ck_assert(ifmt_mul_overflow(1ull << 32, 1ull << 32, &r));
    ck_assert(!ifmt_mul_overflow(0, UINT64_MAX, &r));
    ck_assert_uint_eq(ifmt_div_round_up(10, 3), 4);
    ck_assert_uint_eq(ifmt_div_round_up(UINT64_MAX, 2), (UINT64_MAX >> 1) + 1);
    ck_assert(!ifmt_round_up_overflow(513, 512, &r));
    ck_assert_uint_eq(r, 1024);
    ck_assert(ifmt_round_up_overflow(UINT64_MAX - 3, 512, &r));
    ck_assert(ifmt_range_ok(0, 10, 10));
    ck_assert(!ifmt_range_ok(1, 10, 10));
    ck_assert(!ifmt_range_ok(11, 0, 10));
    ck_assert(!ifmt_range_ok(5, UINT64_MAX, 10));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bytes");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_endian);
    tcase_add_test(tc, test_checked);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
