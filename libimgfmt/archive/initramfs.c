/*
 * initramfs.c -- walk an initramfs: segments found by their magic, each
 * decompressed as a stream and parsed as cpio newc/crc by a push parser
 * that never holds more than one header, one name and the files asked for.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/initramfs.h"
#include "core/checked.h"

#define IBUF_BYTES  (1u << 20)
#define OBUF_BYTES  (1u << 20)
#define NEWC_HDR    110u
#define NAME_MAX_BYTES 4096u

enum cpio_state { CP_BETWEEN, CP_HEADER, CP_NAME, CP_DATA, CP_PAD };

struct cpio_parser {
    const struct ifmt_initramfs_opts *o;
    enum cpio_state state;
    uint8_t hdr[NEWC_HDR];
    size_t fill;                  /* header / name bytes gathered */
    char name[NAME_MAX_BYTES + 4];
    uint32_t namesize;
    uint64_t fields[13];
    uint64_t left;                /* data (or padding) bytes still to come */
    uint64_t pos;                 /* bytes seen by this parser (for padding) */
    uint8_t *data;
    uint64_t data_fill;
    uint32_t segment, entries;
    bool uncompressed;            /* foreign bytes after a trailer end the segment */
    imgfmt_error *err;
};

void ifmt_initramfs_opts_init(struct ifmt_initramfs_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_output = 1ull << 30;
    o->max_kept = 16u << 20;
    o->max_entries = 1000000;
}

static int parse_hex8(const uint8_t *p, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static int header_done(struct cpio_parser *p)
{
    if (memcmp(p->hdr, "070707", 6) == 0)
        return ifmt_seterr(p->err, IMGFMT_E_UNSUPPORTED, 0,
                           "cpio: odc (070707) archive: only newc/crc are initramfs formats");
    if (memcmp(p->hdr, "070701", 6) && memcmp(p->hdr, "070702", 6))
        return ifmt_seterr(p->err, IMGFMT_E_CORRUPT, 0,
                           "cpio: bad header magic \"%.6s\" at byte %llu of segment %u",
                           (const char *)p->hdr, (unsigned long long)(p->pos - NEWC_HDR),
                           p->segment);
    for (int i = 0; i < 13; i++)
        if (parse_hex8(p->hdr + 6 + 8 * i, &p->fields[i]) < 0)
            return ifmt_seterr(p->err, IMGFMT_E_CORRUPT, 0,
                               "cpio: header field %d is not hexadecimal (segment %u)", i,
                               p->segment);
    p->namesize = (uint32_t)p->fields[11];
    if (p->namesize == 0 || p->namesize > NAME_MAX_BYTES)
        return ifmt_seterr(p->err, IMGFMT_E_CORRUPT, 0,
                           "cpio: name size %u out of range (segment %u)", p->namesize,
                           p->segment);
    p->state = CP_NAME;
    p->fill = 0;
    return 0;
}

static const char *clean_name(const char *n)
{
    while (n[0] == '.' && n[1] == '/')
        n += 2;
    while (n[0] == '/')
        n++;
    return n;
}

static int entry_done(struct cpio_parser *p)
{
    const struct ifmt_initramfs_opts *o = p->o;
    struct ifmt_cpio_entry e = {
        .name = clean_name(p->name), .mode = (uint32_t)p->fields[1],
        .uid = (uint32_t)p->fields[2], .gid = (uint32_t)p->fields[3],
        .nlink = (uint32_t)p->fields[4], .mtime = p->fields[5], .size = p->fields[6],
        .rdev_major = (uint32_t)p->fields[9], .rdev_minor = (uint32_t)p->fields[10],
        .data = p->data, .segment = p->segment,
    };
    int r = 0;
    if (++p->entries > o->max_entries)
        r = ifmt_seterr(p->err, IMGFMT_E_LIMIT, 0, "initramfs: more than %u entries",
                        o->max_entries);
    else if (o->entry)
        r = o->entry(o->opaque, &e);
    free(p->data);
    p->data = NULL;
    p->left = (4 - (p->pos & 3)) & 3;
    p->state = CP_PAD;
    return r;
}

static int name_done(struct cpio_parser *p)
{
    if (p->name[p->namesize - 1] != '\0')
        return ifmt_seterr(p->err, IMGFMT_E_CORRUPT, 0,
                           "cpio: name not NUL-terminated (segment %u)", p->segment);
    if (strcmp(p->name, "TRAILER!!!") == 0) {
        p->state = CP_BETWEEN;
        return 0;
    }
    uint64_t size = p->fields[6];
    const struct ifmt_initramfs_opts *o = p->o;
    p->data_fill = 0;
    if (o->want && size <= o->max_kept && o->want(o->opaque, clean_name(p->name), size)) {
        if (!(p->data = malloc(size ? (size_t)size : 1)))
            return ifmt_seterr(p->err, IMGFMT_E_NOMEM, 0, "initramfs: out of memory");
    }
    p->left = size;
    p->state = CP_DATA;
    return p->left ? 0 : entry_done(p);
}

/* Bytes of padding after header+name so the data start 4-aligned. */
static size_t name_padding(const struct cpio_parser *p)
{
    return (4 - ((NEWC_HDR + p->namesize) & 3)) & 3;
}

static int feed_between(struct cpio_parser *p, const uint8_t *b, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n && b[i] == 0)
        i++;
    *used = i;
    p->pos += i;
    if (i == n)
        return 0;
    if (b[i] != '0' && p->uncompressed)
        return 1;                 /* the next segment starts here */
    if (b[i] != '0')
        return ifmt_seterr(p->err, IMGFMT_E_CORRUPT, 0,
                           "cpio: data after the trailer is not another archive "
                           "(byte 0x%02x, segment %u)", b[i], p->segment);
    p->state = CP_HEADER;
    p->fill = 0;
    return 0;
}

/* Take what the current state needs from b[0..n); *used bytes consumed. */
static int cpio_step(struct cpio_parser *p, const uint8_t *b, size_t n, size_t *used)
{
    size_t take;
    switch (p->state) {
    case CP_BETWEEN:
        return feed_between(p, b, n, used);
    case CP_HEADER:
        take = ifmt_min(n, NEWC_HDR - p->fill);
        memcpy(p->hdr + p->fill, b, take);
        p->fill += take;
        p->pos += take;
        *used = take;
        return p->fill == NEWC_HDR ? header_done(p) : 0;
    case CP_NAME: {
        size_t need = p->namesize + name_padding(p);
        take = ifmt_min(n, need - p->fill);
        for (size_t i = 0; i < take; i++)
            if (p->fill + i < p->namesize)
                p->name[p->fill + i] = (char)b[i];
        p->fill += take;
        p->pos += take;
        *used = take;
        return p->fill == need ? name_done(p) : 0;
    }
    case CP_DATA:
        take = (size_t)ifmt_min(n, p->left);
        if (p->data)
            memcpy(p->data + p->data_fill, b, take);
        p->data_fill += take;
        p->left -= take;
        p->pos += take;
        *used = take;
        return p->left ? 0 : entry_done(p);
    case CP_PAD:
        take = (size_t)ifmt_min(n, p->left);
        p->left -= take;
        p->pos += take;
        *used = take;
        if (!p->left) {
            p->state = CP_HEADER;
            p->fill = 0;
        }
        return 0;
    }
    return IMGFMT_E_INVAL;
}

/* Feed n bytes; *taken says how many were consumed (all, unless an
 * uncompressed segment ended: then 1 is returned). */
static int cpio_feed(struct cpio_parser *p, const uint8_t *b, size_t n, size_t *taken)
{
    size_t done = 0;
    int r = 0;
    while (done < n) {
        size_t used = 0;
        r = cpio_step(p, b + done, n - done, &used);
        done += used;
        if (r)
            break;
    }
    if (taken)
        *taken = done;
    return r;
}

/* ---- the input window ---- */

struct input {
    ifmt_initramfs_read_fn *read;
    void *ctx;
    uint64_t size;
    uint8_t *buf;
    uint64_t off;      /* file offset of buf[0] */
    size_t len;        /* valid bytes */
    size_t pos;        /* next unread byte */
};

/* Make at least want bytes (or all that is left) available at pos. */
static int input_fill(struct input *in, size_t want)
{
    if (in->len - in->pos >= want || in->off + in->len >= in->size)
        return 0;
    memmove(in->buf, in->buf + in->pos, in->len - in->pos);
    in->off += in->pos;
    in->len -= in->pos;
    in->pos = 0;
    uint64_t left = in->size - (in->off + in->len);
    size_t room = (size_t)ifmt_min(IBUF_BYTES - in->len, left), got = 0;
    if (room == 0)
        return 0;
    int r = in->read(in->ctx, in->buf + in->len, room, in->off + in->len, &got);
    if (r < 0)
        return r;
    in->len += got;
    if (got < room)
        in->size = in->off + in->len;   /* the file ended early */
    return 0;
}

static bool input_at_end(const struct input *in)
{
    return in->off + in->len >= in->size;
}

static uint64_t input_offset(const struct input *in)
{
    return in->off + in->pos;
}

/* ---- segments ---- */

struct walk {
    struct input in;
    struct cpio_parser cp;
    const struct ifmt_initramfs_opts *o;
    struct ifmt_initramfs_segment *segs;
    uint32_t nsegs;
    uint64_t out_total;
    uint8_t *obuf;
    imgfmt_error *err;
};

static int segment_begin(struct walk *w, enum ifmt_codec codec)
{
    if (w->nsegs >= 4096)
        return ifmt_seterr(w->err, IMGFMT_E_LIMIT, 0, "initramfs: more than 4096 segments");
    struct ifmt_initramfs_segment *s = realloc(w->segs, (w->nsegs + 1) * sizeof *s);
    if (!s)
        return ifmt_seterr(w->err, IMGFMT_E_NOMEM, 0, "initramfs: out of memory");
    w->segs = s;
    s += w->nsegs;
    memset(s, 0, sizeof *s);
    s->codec = codec;
    s->offset = input_offset(&w->in);
    w->cp.segment = w->nsegs++;
    w->cp.entries = 0;
    w->cp.state = CP_BETWEEN;
    w->cp.uncompressed = codec == IFMT_CODEC_NONE;
    w->cp.pos = codec == IFMT_CODEC_NONE ? s->offset : 0;
    return 0;
}

static struct ifmt_initramfs_segment *cur_seg(struct walk *w)
{
    return &w->segs[w->nsegs - 1];
}

static int segment_end(struct walk *w)
{
    struct ifmt_initramfs_segment *s = cur_seg(w);
    s->entries = w->cp.entries;
    if (w->cp.state != CP_BETWEEN && w->cp.state != CP_HEADER)
        return ifmt_seterr(w->err, IMGFMT_E_CORRUPT, 0,
                           "initramfs: segment %u (%s at byte %llu) ends inside a cpio entry",
                           w->cp.segment, ifmt_codec_name(s->codec),
                           (unsigned long long)s->offset);
    if (w->cp.state == CP_HEADER && w->cp.fill)
        return ifmt_seterr(w->err, IMGFMT_E_CORRUPT, 0,
                           "initramfs: segment %u ends inside a cpio header", w->cp.segment);
    return 0;
}

static int walk_uncompressed(struct walk *w)
{
    int r = segment_begin(w, IFMT_CODEC_NONE);
    while (r == 0) {
        if ((r = input_fill(&w->in, 4096)) < 0)
            return r;
        size_t avail = w->in.len - w->in.pos, taken;
        if (avail == 0)
            break;
        r = cpio_feed(&w->cp, w->in.buf + w->in.pos, avail, &taken);
        w->in.pos += taken;
        cur_seg(w)->in_bytes += taken;
        cur_seg(w)->out_bytes += taken;
    }
    if (r < 0)
        return r;
    if (r > 0 && w->cp.state != CP_BETWEEN)
        return r;        /* the entry callback stopped the walk */
    return segment_end(w);
}

static int feed_decoded(struct walk *w, size_t made)
{
    uint64_t total;
    if (ifmt_add_overflow(w->out_total, made, &total) || total > w->o->max_output)
        return ifmt_seterr(w->err, IMGFMT_E_LIMIT, 0,
                           "initramfs: more than %llu bytes once decompressed",
                           (unsigned long long)w->o->max_output);
    w->out_total = total;
    cur_seg(w)->out_bytes += made;
    return cpio_feed(&w->cp, w->obuf, made, NULL);
}

static int walk_compressed(struct walk *w, enum ifmt_codec codec)
{
    struct ifmt_decoder *d;
    int r = segment_begin(w, codec);
    if (r < 0 || (r = ifmt_decoder_new(codec, &d, w->err)) < 0)
        return r;
    for (;;) {
        if ((r = input_fill(&w->in, 65536)) < 0)
            break;
        size_t used, made;
        size_t avail = w->in.len - w->in.pos;
        r = ifmt_decoder_run(d, w->in.buf + w->in.pos, avail, input_at_end(&w->in), &used,
                             w->obuf, OBUF_BYTES, &made, w->err);
        w->in.pos += used;
        cur_seg(w)->in_bytes += used;
        int fr = made ? feed_decoded(w, made) : 0;
        if (r < 0 || fr) {
            r = r < 0 ? r : fr;
            break;
        }
        if (r == 1) {
            r = segment_end(w);
            break;
        }
        if (!used && !made && input_at_end(&w->in)) {
            r = ifmt_seterr(w->err, IMGFMT_E_CORRUPT, 0, "%s: compressed stream truncated",
                            ifmt_codec_name(codec));
            break;
        }
    }
    ifmt_decoder_free(d);
    return r;
}

static int walk_segments(struct walk *w)
{
    for (;;) {
        int r = input_fill(&w->in, 64);
        if (r < 0)
            return r;
        while (w->in.pos < w->in.len && w->in.buf[w->in.pos] == 0)
            w->in.pos++;
        if (w->in.pos == w->in.len) {
            if (input_at_end(&w->in))
                return 0;
            continue;
        }
        if ((r = input_fill(&w->in, 64)) < 0)
            return r;
        const uint8_t *p = w->in.buf + w->in.pos;
        size_t avail = w->in.len - w->in.pos;
        enum ifmt_codec c = ifmt_codec_sniff(p, avail);
        if (avail >= 5 && memcmp(p, "07070", 5) == 0)
            r = walk_uncompressed(w);
        else if (c != IFMT_CODEC_NONE)
            r = walk_compressed(w, c);
        else {
            if ((r = segment_begin(w, IFMT_CODEC_NONE)) < 0)
                return r;
            cur_seg(w)->unknown = true;
            cur_seg(w)->in_bytes = w->in.size - input_offset(&w->in);
            return 0;
        }
        if (r)
            return r;
    }
}

int ifmt_initramfs_walk(ifmt_initramfs_read_fn *read, void *ctx, uint64_t size,
                        const struct ifmt_initramfs_opts *o,
                        struct ifmt_initramfs_segment **segs, uint32_t *nsegs,
                        imgfmt_error *err)
{
    struct ifmt_initramfs_opts defaults;
    if (!o) {
        ifmt_initramfs_opts_init(&defaults);
        o = &defaults;
    }
    struct walk w = { .o = o, .err = err };
    *segs = NULL;
    *nsegs = 0;
    w.in = (struct input){ .read = read, .ctx = ctx, .size = size };
    w.cp.o = o;
    w.cp.err = err;
    w.in.buf = malloc(IBUF_BYTES);
    w.obuf = malloc(OBUF_BYTES);
    int r = w.in.buf && w.obuf ? walk_segments(&w)
                               : ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "initramfs: out of memory");
    free(w.cp.data);
    free(w.in.buf);
    free(w.obuf);
    *segs = w.segs;
    *nsegs = w.nsegs;
    return r;
}
