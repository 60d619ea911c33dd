/*
 * ova.h -- the members of a tar (OVA) archive, for reading a disk image
 * inside it in place (formats/vmdk.c).  Reads only through the io given.
 */
#ifndef IMGFMT_ARCHIVE_OVA_H
#define IMGFMT_ARCHIVE_OVA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OVA_MAX_MEMBERS 10000u

struct ova_member {
    char *name;
    uint64_t offset, size;   /* data of the member inside the archive */
    char type;               /* tar typeflag ('0' regular file, '5' dir...) */
};

struct ova {
    struct ova_member *m;
    uint32_t n;
    bool no_end_marker;      /* archive ends without its zero blocks */
};

struct ifmt_io;
/* A tar header at head (>= 512 bytes): ustar magic at 257 and a valid
 * checksum. */
bool ova_probe(const uint8_t *head, size_t hlen);
/* List the members of the archive io.  CORRUPT if truncated or a header is
 * damaged, LIMIT over OVA_MAX_MEMBERS; message in err. */
int ova_list(struct ifmt_io *io, struct ova *out, char *err, size_t errlen);
void ova_free(struct ova *o);
/* The member named name (exact, else by base name), or NULL. */
const struct ova_member *ova_find(const struct ova *o, const char *name);

#endif
