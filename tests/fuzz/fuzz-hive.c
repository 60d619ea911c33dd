/*
 * fuzz-hive.c -- REGF: open the input as a hive and walk every key
 * (bounded), reading each value raw and through the typed read its type
 * calls for, and looking each name up again.  The base block checksum is
 * set right in a copy of the input first (else almost every mutation stops
 * there); inputs with a wrong one are replayed as they are too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define FUZZ_HIVE_MAX_KEYS  5000u
#define FUZZ_HIVE_MAX_DEPTH 64u

static void read_value(imgfmt_hive *h, imgfmt_hive_key k, imgfmt_hive_value v)
{
    imgfmt_hive_value_info vi;
    const uint8_t *d;
    size_t len;
    const char *s;
    const char *const *list;
    uint32_t n, dw;
    uint64_t q;
    if (imgfmt_hive_value_stat(h, v, &vi) < 0)
        return;
    char name[256];
    snprintf(name, sizeof name, "%s", vi.name);
    imgfmt_hive_value again;
    (void)imgfmt_hive_get_value(h, k, name, &again);
    (void)imgfmt_hive_value_data(h, v, &d, &len);
    switch (vi.type) {
    case IMGFMT_REG_DWORD: case IMGFMT_REG_DWORD_BIG_ENDIAN:
        (void)imgfmt_hive_value_dword(h, v, &dw);
        break;
    case IMGFMT_REG_QWORD:
        (void)imgfmt_hive_value_qword(h, v, &q);
        break;
    case IMGFMT_REG_MULTI_SZ:
        (void)imgfmt_hive_value_strings(h, v, &list, &n);
        break;
    default:
        (void)imgfmt_hive_value_string(h, v, &s);
    }
}

static void walk(imgfmt_hive *h, imgfmt_hive_key k, unsigned depth, unsigned *keys)
{
    imgfmt_hive_iter *it;
    uint32_t x;
    imgfmt_hive_key_info ki;
    if (++*keys > FUZZ_HIVE_MAX_KEYS || depth > FUZZ_HIVE_MAX_DEPTH ||
        imgfmt_hive_key_stat(h, k, &ki) < 0)
        return;
    if (imgfmt_hive_values(h, k, &it) == 0) {
        while (imgfmt_hive_next(it, &x) == 1)
            read_value(h, k, x);
        imgfmt_hive_iter_free(it);
    }
    if (imgfmt_hive_subkeys(h, k, &it) < 0)
        return;
    while (imgfmt_hive_next(it, &x) == 1) {
        imgfmt_hive_key found;
        if (imgfmt_hive_key_stat(h, x, &ki) == 0 && strlen(ki.name) < 200) {
            char name[256];
            snprintf(name, sizeof name, "%s", ki.name);
            (void)imgfmt_hive_lookup(h, k, name, &found);
        }
        walk(h, x, depth + 1, keys);
    }
    imgfmt_hive_iter_free(it);
}

static void run(const uint8_t *data, size_t size)
{
    imgfmt_hive *h;
    if (imgfmt_hive_open_memory(data, size, &h, NULL) < 0)
        return;
    unsigned keys = 0;
    imgfmt_hive_key k;
    (void)imgfmt_hive_lookup(h, imgfmt_hive_root(h), "Select\\Nope\\x", &k);
    walk(h, imgfmt_hive_root(h), 0, &keys);
    imgfmt_hive_close(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size);
    if (size < 4096)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    uint32_t x = 0;
    for (int i = 0; i < 508; i += 4)
        x ^= (uint32_t)copy[i] | (uint32_t)copy[i + 1] << 8 | (uint32_t)copy[i + 2] << 16 |
             (uint32_t)copy[i + 3] << 24;
    copy[508] = (uint8_t)x;
    copy[509] = (uint8_t)(x >> 8);
    copy[510] = (uint8_t)(x >> 16);
    copy[511] = (uint8_t)(x >> 24);
    run(copy, size);
    free(copy);
    return 0;
}
