/*
 * VMDK driver internals shared by its files: on-disk constants (from
 * VMware's Virtual Disk Format specification), the open-image state,
 * the stream writer (vmdk_stream.c) and descriptor files naming separate
 * extent files (vmdk_desc.c).
 */
#ifndef WIRT_BLOCK_VMDK_H
#define WIRT_BLOCK_VMDK_H

#include <stdbool.h>
#include <stdint.h>

#include "block/block_driver.h"

#define VMDK_MAGIC		0x564d444bu	/* "KDMV" */
#define VMDK_FLAG_NL_TEST	(1u << 0)
#define VMDK_FLAG_RGD		(1u << 1)
#define VMDK_FLAG_ZERO_GRAIN	(1u << 2)
#define VMDK_FLAG_COMPRESSED	(1u << 16)
#define VMDK_FLAG_MARKERS	(1u << 17)
#define VMDK_GTES		512
#define VMDK_DESC_SECTORS	20
#define VMDK_MAX_DESC_SECTORS	2048
#define VMDK_MAX_GRAIN_SECTORS	(1u << 16)
#define VMDK_MAX_GD_BYTES	(64u << 20)
#define VMDK_GD_AT_END		(~0ULL)
#define SECTOR			512ULL

/* Stream markers (streamOptimized): types of metadata markers. */
#define VMDK_MARKER_EOS		0
#define VMDK_MARKER_GT		1
#define VMDK_MARKER_GD		2
#define VMDK_MARKER_FOOTER	3

/* One extent of a descriptor file: a flat or sparse file of its own. */
struct vmdk_extent {
	struct block_dev *bs;		/* NULL: a ZERO extent */
	uint64_t start, len;		/* guest bytes it covers */
	uint64_t offset;		/* flat: byte offset in its file */
	bool read_only;
};

/* A streamOptimized image being written, grain after grain. */
struct vmdk_stream {
	uint32_t **gt;			/* grain tables in memory, by GD index */
	uint64_t tail;			/* sector where tables and footer go */
	uint64_t next_grain;		/* lowest grain that may still be written */
	int64_t pending;		/* grain held in buf, -1 none */
	uint8_t *buf;			/* that grain's bytes */
	uint8_t *zbuf;			/* its compressed form, with marker */
};

struct vmdk {
	uint32_t version, flags;
	uint64_t capacity;		/* sectors */
	uint64_t grain;			/* sectors per grain */
	uint32_t gtes;			/* entries per grain table */
	uint32_t gd_entries;
	uint64_t gd_sector, rgd_sector;
	uint32_t *gd, *rgd;		/* host order */
	uint64_t overhead;		/* sectors of metadata at the start */
	uint64_t desc_sector, desc_sectors;
	uint64_t next_sector;		/* where the next grain goes */
	uint32_t *gt;			/* cached primary grain table */
	uint64_t gt_sector;		/* its sector, 0 if none */
	uint8_t *cow;			/* one grain */
	bool compressed;		/* streamOptimized */
	uint8_t *zbuf;			/* one compressed grain */
	uint64_t zbuf_cap;
	uint8_t *grain_buf;		/* one decompressed grain */
	uint32_t grain_gte;		/* which grain grain_buf holds, 0 none */
	bool cid_updated;
	char create_type[32];
	char parent[BLOCK_PATH_MAX];
	struct vmdk_stream *stream;	/* writing a stream, or NULL */
	struct vmdk_extent *ext;	/* descriptor file: its extents */
	unsigned nr_ext;
};

/* vmdk.c */
int vmdk_error(struct block_dev *bs, int err, const char *what);
bool vmdk_desc_value(const char *desc, const char *key, char *out,
		     size_t size);
void vmdk_build_header(uint8_t *h, uint64_t capacity, uint64_t grain,
		       uint64_t desc_sectors, uint64_t rgd, uint64_t gd,
		       uint64_t overhead, uint32_t flags);
void vmdk_build_descriptor(char *d, size_t size, const char *path,
			   uint64_t capacity, const char *type);

/* vmdk_stream.c */
int vmdk_stream_create(const char *path, uint64_t size, uint64_t grain);
int vmdk_stream_start(struct block_dev *bs);
int vmdk_stream_write(struct block_dev *bs, uint64_t off, const void *buf,
		      size_t len);
/* Grain table entry for grain g while writing (0: none). */
uint32_t vmdk_stream_gte(const struct vmdk *s, uint64_t g);
/* The bytes of grain g if it is still held in memory, else NULL. */
const uint8_t *vmdk_stream_pending(const struct vmdk *s, uint64_t g);
int vmdk_stream_finish(struct block_dev *bs);
void vmdk_stream_free(struct vmdk *s);

/* vmdk_desc.c */
int vmdk_desc_open(struct block_dev *bs, unsigned flags, uint64_t fsize);
int vmdk_desc_read(struct block_dev *bs, uint64_t off, void *buf, size_t len);
int vmdk_desc_write(struct block_dev *bs, uint64_t off, const void *buf,
		    size_t len);
int vmdk_desc_flush(struct block_dev *bs);
int vmdk_desc_status(struct block_dev *bs, uint64_t off, uint64_t len,
		     uint64_t *pnum);
int vmdk_desc_map(struct block_dev *bs, uint64_t off, uint64_t len,
		  struct block_mapping *m);
int vmdk_desc_check(struct block_dev *bs, struct block_check *res,
		    bool repair);
void vmdk_desc_close(struct vmdk *s);
/* True while vmdk_desc_open() opens a sparse extent file. */
bool vmdk_opening_extent(void);

#endif
