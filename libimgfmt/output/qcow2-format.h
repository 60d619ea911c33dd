/*
 * qcow2-format.h -- on-disk constants of the qcow2 files the writer makes
 * (docs/formats.md, QCOW2).  The reader keeps its own decoders in qcow2.h.
 */
#ifndef IMGFMT_QCOW2_FORMAT_H
#define IMGFMT_QCOW2_FORMAT_H

#define QF_MAGIC             0x514649fbu   /* "QFI\xfb" */
#define QF_HEADER_V2_LEN     72u
#define QF_HEADER_V3_LEN     112u          /* what qemu writes */
#define QF_EXT_FEATURE_TABLE 0x6803f857u
#define QF_FEATURE_ENTRY_LEN 48u
#define QF_INCOMPAT_COMPRESSION (1ull << 3)
#define QF_OFLAG_COPIED      (1ull << 63)
#define QF_OFLAG_COMPRESSED  (1ull << 62)
#define QF_MAX_L1_BYTES      (32ull << 20) /* qemu's QCOW_MAX_L1_SIZE */
#define QF_MIN_CLUSTER_BITS  9u
#define QF_MAX_CLUSTER_BITS  21u

#endif
