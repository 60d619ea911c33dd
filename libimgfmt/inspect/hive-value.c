/*
 * hive-value.c -- REGF values ("vk"): the value list of a key, names,
 * data (inside the value record when 4 bytes or less, in a cell, or as
 * big data: a "db" cell listing segments of up to 16344 bytes) and the
 * typed reads.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "fs/fs.h"
#include "inspect/hive.h"

#define VK_COMP_NAME   0x0001u
#define VK_DATA_INLINE 0x80000000u

struct hive_vk {
    uint16_t name_len, flags;
    uint32_t size, data, type;
    const uint8_t *name;
    const uint8_t *inline_data;     /* the data field itself */
};

int ifmt_hive_value_list(imgfmt_hive *h, uint32_t k, uint32_t **out, uint32_t *n)
{
    struct hive_nk nk;
    int r = ifmt_hive_nk(h, k, &nk);
    if (r < 0)
        return r;
    *out = NULL;
    *n = 0;
    if (nk.nb_values == 0)
        return IMGFMT_OK;
    const uint8_t *p;
    uint32_t len;
    if ((r = ifmt_hive_cell(h, nk.values, "value list", &p, &len)) < 0)
        return r;
    if (nk.nb_values > len / 4)
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                               "regf: key at %u: %u values past its %u-byte value list", k,
                               nk.nb_values, len);
    uint32_t *items = malloc(nk.nb_values * sizeof *items);
    if (!items)
        return ifmt_hive_error(h, IMGFMT_E_NOMEM, "regf: out of memory");
    for (uint32_t i = 0; i < nk.nb_values; i++)
        items[i] = ifmt_le32(p + 4 * i);
    *out = items;
    *n = nk.nb_values;
    return IMGFMT_OK;
}

static int parse_vk(imgfmt_hive *h, uint32_t off, struct hive_vk *vk)
{
    const uint8_t *p;
    uint32_t len;
    int r = ifmt_hive_cell_sig(h, off, "vk", 20, "value", &p, &len);
    if (r < 0)
        return r;
    vk->name_len = ifmt_le16(p + 2);
    vk->size = ifmt_le32(p + 4);
    vk->data = ifmt_le32(p + 8);
    vk->type = ifmt_le32(p + 12);
    vk->flags = ifmt_le16(p + 16);
    vk->name = p + 20;
    vk->inline_data = p + 8;
    if (vk->name_len > len - 20)
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                               "regf: value at %u: name of %u bytes past its %u-byte cell", off,
                               vk->name_len, len);
    return IMGFMT_OK;
}

int imgfmt_hive_value_stat(imgfmt_hive *h, imgfmt_hive_value v, imgfmt_hive_value_info *out)
{
    if (!h || !out)
        return IMGFMT_E_INVAL;
    struct hive_vk vk;
    int r = parse_vk(h, v, &vk);
    if (r < 0)
        return r;
    ifmt_hive_name(vk.name, vk.name_len, vk.flags & VK_COMP_NAME, h->value_name);
    out->name = h->value_name;
    out->type = vk.type;
    out->size = vk.size & VK_DATA_INLINE ? vk.size & ~VK_DATA_INLINE : vk.size;
    return IMGFMT_OK;
}

int imgfmt_hive_get_value(imgfmt_hive *h, imgfmt_hive_key k, const char *name,
                          imgfmt_hive_value *out)
{
    if (!h || !name || !out)
        return IMGFMT_E_INVAL;
    uint32_t *items, n;
    int r = ifmt_hive_value_list(h, k, &items, &n);
    if (r < 0)
        return r;
    for (uint32_t i = 0; i < n && r == 0; i++) {
        struct hive_vk vk;
        if ((r = parse_vk(h, items[i], &vk)) < 0)
            break;
        if (ifmt_hive_name_eq(vk.name, vk.name_len, vk.flags & VK_COMP_NAME, name,
                              strlen(name))) {
            *out = items[i];
            free(items);
            return IMGFMT_OK;
        }
    }
    free(items);
    if (r < 0)
        return r;
    return ifmt_hive_error(h, IMGFMT_E_NOT_FOUND, "regf: no value \"%.200s\"", name);
}

static int grow_data(imgfmt_hive *h, size_t n)
{
    if (n <= h->data_cap)
        return IMGFMT_OK;
    uint8_t *d = realloc(h->data, n);
    if (!d)
        return ifmt_hive_error(h, IMGFMT_E_NOMEM, "regf: out of memory");
    h->data = d;
    h->data_cap = n;
    return IMGFMT_OK;
}

/* Big data: a "db" cell (segment count, segment list) for size bytes. */
static int big_data(imgfmt_hive *h, uint32_t v, uint32_t db, uint32_t size,
                    const uint8_t **out)
{
    const uint8_t *p, *list;
    uint32_t len, list_len;
    int r = ifmt_hive_cell_sig(h, db, "db", 8, "big data", &p, &len);
    if (r < 0)
        return r;
    uint32_t nseg = ifmt_le16(p + 2);
    if ((r = ifmt_hive_cell(h, ifmt_le32(p + 4), "big data segment list", &list,
                            &list_len)) < 0)
        return r;
    if (nseg > list_len / 4 || (uint64_t)nseg * REGF_BIG_SEGMENT < size)
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                               "regf: value at %u: %u big data segments for %u bytes", v, nseg,
                               size);
    if ((r = grow_data(h, size)) < 0)
        return r;
    uint32_t done = 0;
    for (uint32_t i = 0; i < nseg && done < size; i++) {
        const uint8_t *s;
        uint32_t slen;
        if ((r = ifmt_hive_cell(h, ifmt_le32(list + 4 * i), "big data segment", &s, &slen)) < 0)
            return r;
        uint32_t n = size - done < REGF_BIG_SEGMENT ? size - done : REGF_BIG_SEGMENT;
        if (slen < n)
            return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                                   "regf: value at %u: big data segment %u holds %u bytes, "
                                   "not %u", v, i, slen, n);
        memcpy(h->data + done, s, n);
        done += n;
    }
    *out = h->data;
    return IMGFMT_OK;
}

int imgfmt_hive_value_data(imgfmt_hive *h, imgfmt_hive_value v, const uint8_t **data,
                           size_t *len)
{
    if (!h || !data || !len)
        return IMGFMT_E_INVAL;
    struct hive_vk vk;
    int r = parse_vk(h, v, &vk);
    if (r < 0)
        return r;
    if (vk.size & VK_DATA_INLINE) {
        uint32_t n = vk.size & ~VK_DATA_INLINE;
        if (n > 4)
            return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                                   "regf: value at %u: %u bytes of data said to be inline", v, n);
        *data = vk.inline_data;
        *len = n;
        return IMGFMT_OK;
    }
    *len = vk.size;
    *data = vk.inline_data;
    if (vk.size == 0)
        return IMGFMT_OK;
    if (vk.size > IMGFMT_HIVE_MAX_VALUE)
        return ifmt_hive_error(h, IMGFMT_E_LIMIT, "regf: value at %u: %u bytes of data", v,
                               vk.size);
    const uint8_t *p;
    uint32_t clen;
    if ((r = ifmt_hive_cell(h, vk.data, "value data", &p, &clen)) < 0)
        return r;
    if (clen >= vk.size) {
        *data = p;
        return IMGFMT_OK;
    }
    if (h->minor >= 4 && vk.size > REGF_BIG_SEGMENT && clen >= 8 && memcmp(p, "db", 2) == 0)
        return big_data(h, v, vk.data, vk.size, data);
    return ifmt_hive_error(h, IMGFMT_E_CORRUPT,
                           "regf: value at %u: %u bytes of data in a %u-byte cell", v, vk.size,
                           clen);
}

static int typed(imgfmt_hive *h, imgfmt_hive_value v, const uint32_t *types, size_t nt,
                 const char *want, const uint8_t **data, size_t *len, uint32_t *type)
{
    imgfmt_hive_value_info info;
    int r = imgfmt_hive_value_stat(h, v, &info);
    if (r < 0)
        return r;
    *type = info.type;
    for (size_t i = 0; i < nt; i++)
        if (info.type == types[i])
            return imgfmt_hive_value_data(h, v, data, len);
    return ifmt_hive_error(h, IMGFMT_E_INVAL, "regf: value \"%.200s\" has type %u, not %s",
                           info.name, info.type, want);
}

int imgfmt_hive_value_dword(imgfmt_hive *h, imgfmt_hive_value v, uint32_t *out)
{
    static const uint32_t t[] = {IMGFMT_REG_DWORD, IMGFMT_REG_DWORD_BIG_ENDIAN};
    const uint8_t *d;
    size_t len;
    uint32_t type;
    if (!out)
        return IMGFMT_E_INVAL;
    int r = typed(h, v, t, 2, "a DWORD", &d, &len, &type);
    if (r < 0)
        return r;
    if (len != 4)
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT, "regf: DWORD value of %zu bytes", len);
    *out = type == IMGFMT_REG_DWORD ? ifmt_le32(d) : ifmt_be32(d);
    return IMGFMT_OK;
}

int imgfmt_hive_value_qword(imgfmt_hive *h, imgfmt_hive_value v, uint64_t *out)
{
    static const uint32_t t[] = {IMGFMT_REG_QWORD};
    const uint8_t *d;
    size_t len;
    uint32_t type;
    if (!out)
        return IMGFMT_E_INVAL;
    int r = typed(h, v, t, 1, "a QWORD", &d, &len, &type);
    if (r < 0)
        return r;
    if (len != 8)
        return ifmt_hive_error(h, IMGFMT_E_CORRUPT, "regf: QWORD value of %zu bytes", len);
    *out = ifmt_le64(d);
    return IMGFMT_OK;
}

/* UTF-16LE units d[0..n) up to the first NUL as UTF-8 into a buffer of at
 * least 3n+1 bytes; returns the number of units used, NUL included. */
static size_t utf16_str(const uint8_t *d, size_t n, char *out)
{
    size_t k = 0;
    while (k < n && (d[2 * k] || d[2 * k + 1]))
        k++;
    ifmt_utf16le_to_utf8(d, k, out, 3 * k + 1);
    return k < n ? k + 1 : k;
}

int imgfmt_hive_value_string(imgfmt_hive *h, imgfmt_hive_value v, const char **out)
{
    static const uint32_t t[] = {IMGFMT_REG_SZ, IMGFMT_REG_EXPAND_SZ, IMGFMT_REG_LINK};
    const uint8_t *d;
    size_t len;
    uint32_t type;
    if (!out)
        return IMGFMT_E_INVAL;
    int r = typed(h, v, t, 3, "a string", &d, &len, &type);
    if (r < 0)
        return r;
    size_t need = 3 * (len / 2) + 1;
    if (need > h->string_cap) {
        char *s = realloc(h->string, need);
        if (!s)
            return ifmt_hive_error(h, IMGFMT_E_NOMEM, "regf: out of memory");
        h->string = s;
        h->string_cap = need;
    }
    utf16_str(d, len / 2, h->string);
    *out = h->string;
    return IMGFMT_OK;
}

int imgfmt_hive_value_strings(imgfmt_hive *h, imgfmt_hive_value v, const char *const **out,
                              uint32_t *n)
{
    static const uint32_t t[] = {IMGFMT_REG_MULTI_SZ};
    const uint8_t *d;
    size_t len;
    uint32_t type;
    if (!out || !n)
        return IMGFMT_E_INVAL;
    int r = typed(h, v, t, 1, "MULTI_SZ", &d, &len, &type);
    if (r < 0)
        return r;
    size_t units = len / 2;
    char *buf = malloc(3 * units + units + 1);
    char **list = malloc((units + 1) * sizeof *list);
    if (!buf || !list) {
        free(buf);
        free(list);
        return ifmt_hive_error(h, IMGFMT_E_NOMEM, "regf: out of memory");
    }
    uint32_t count = 0;
    size_t pos = 0, o = 0;
    /* Strings end at the first empty one (the list's terminator). */
    while (pos < units && (d[2 * pos] || d[2 * pos + 1])) {
        list[count++] = buf + o;
        pos += utf16_str(d + 2 * pos, units - pos, buf + o);
        o += strlen(buf + o) + 1;
    }
    free(h->strings);
    free(h->strings_buf);
    h->strings = list;
    h->strings_buf = buf;
    *out = (const char *const *)list;
    *n = count;
    return IMGFMT_OK;
}
