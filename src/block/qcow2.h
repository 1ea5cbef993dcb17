/*
 * qcow2 driver internals shared by its files: on-disk layout constants
 * (from the qcow2 specification, versions 2 and 3), the open-image state,
 * the metadata cache and the cluster allocator.
 */
#ifndef WIRT_BLOCK_QCOW2_H
#define WIRT_BLOCK_QCOW2_H

#include <stdbool.h>
#include <stdint.h>

#include "block/block_driver.h"

#define QCOW2_MAGIC		0x514649fbu	/* "QFI\xfb" */
#define QCOW2_V2_HEADER_LEN	72
#define QCOW2_V3_HEADER_LEN	104
#define QCOW2_MIN_CLUSTER_BITS	9
#define QCOW2_MAX_CLUSTER_BITS	21

/* Header field offsets. */
#define QH_VERSION		4
#define QH_BACKING_OFFSET	8
#define QH_BACKING_SIZE		16
#define QH_CLUSTER_BITS		20
#define QH_SIZE			24
#define QH_CRYPT		32
#define QH_L1_SIZE		36
#define QH_L1_OFFSET		40
#define QH_RT_OFFSET		48
#define QH_RT_CLUSTERS		56
#define QH_NB_SNAPSHOTS		60
#define QH_SNAPSHOTS_OFFSET	64
#define QH_INCOMPAT		72
#define QH_COMPAT		80
#define QH_AUTOCLEAR		88
#define QH_REFCOUNT_ORDER	96
#define QH_HEADER_LEN		100
#define QH_COMPRESSION		104

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY		(1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT		(1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE	(1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION	(1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2		(1ULL << 4)

/* Compatible feature bits. */
#define QCOW2_COMPAT_LAZY_REFCOUNTS	(1ULL << 0)

/* Extended L2 entries: a 64-bit bitmap follows each entry. */
#define QCOW2_SUBCLUSTERS		32
#define QCOW2_EXTL2_MIN_CLUSTER_BITS	14	/* subclusters >= 512 bytes */

/* Header extension types. */
#define QCOW2_EXT_END			0
#define QCOW2_EXT_BACKING_FORMAT	0xe2792acau
#define QCOW2_EXT_FEATURE_NAMES		0x6803f857u
#define QCOW2_EXT_DATA_FILE		0x44415441u

/* Table entries. */
#define QCOW2_OFLAG_COPIED	(1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED	(1ULL << 62)
#define QCOW2_OFLAG_ZERO	1ULL
#define QCOW2_OFFSET_MASK	0x00fffffffffffe00ULL
#define QCOW2_L1_RESERVED	0x7f000000000001feULL
#define QCOW2_L2_RESERVED	0x3f000000000001feULL
#define QCOW2_RT_OFFSET_MASK	0xfffffffffffffe00ULL

/* Limits that keep hostile headers from exhausting memory. */
#define QCOW2_MAX_L1_BYTES	(32u << 20)
#define QCOW2_MAX_RT_BYTES	(8u << 20)
#define QCOW2_MAX_SNAPSHOTS	65536
#define QCOW2_MAX_SIZE		(1ULL << 61)
/* A crash leaks a few clusters past the end; a hostile table leaks all. */
#define QCOW2_MAX_LEAKED_PAST_END	(1ULL << 16)

#define QCOW2_CACHE_SIZE	16

enum qcow2_kind {
	QCOW2_UNALLOCATED,	/* falls through to the backing file or zeros */
	QCOW2_ZERO,		/* reads as zeros (v3 zero flag) */
	QCOW2_NORMAL,		/* data in a host cluster */
	QCOW2_COMPRESSED,	/* compressed data somewhere in the file */
};

struct qcow2_cache_entry {
	uint64_t offset;	/* 0: free slot */
	uint64_t used;
	uint8_t *data;
};

/* Write-through cache of cluster-sized tables (L2 tables, refcount blocks). */
struct qcow2_cache {
	struct qcow2_cache_entry e[QCOW2_CACHE_SIZE];
	uint64_t tick;
};

struct qcow2_snapshot {
	uint64_t l1_offset;
	uint32_t l1_size;
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
	uint64_t vm_state_size;
	uint64_t disk_size;
	uint64_t icount;		/* ~0 if not recorded */
	bool has_disk_size, has_icount;
	char *id;
	char *name;
	uint8_t *extra;			/* extra data we do not interpret */
	uint32_t extra_size;
};

struct qcow2 {
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint32_t l2_bits;		/* log2 of entries per L2 table */
	bool extl2;			/* 16-byte L2 entries with subclusters */
	uint32_t sc_bits;		/* log2 of the subcluster size */
	bool marked_dirty;		/* we set the dirty bit (lazy refcounts) */
	uint64_t file_end;		/* file size when last looked at */
	uint32_t refcount_order;
	uint64_t refcount_max;
	uint32_t rb_bits;		/* log2 of entries per refcount block */
	uint32_t header_length;
	uint64_t incompat, compat, autoclear;
	int compression;		/* 0 zlib, 1 zstd */

	uint64_t *l1;			/* host order, whole table */
	uint32_t l1_size;
	uint64_t l1_offset;

	uint64_t *rt;			/* refcount table, host order */
	uint64_t rt_size;		/* entries */
	uint64_t rt_offset;
	uint32_t rt_clusters;

	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t snapshots_size;	/* bytes of the table */
	struct qcow2_snapshot *snapshots;

	struct qcow2_cache l2_cache;
	struct qcow2_cache rb_cache;
	uint64_t free_hint;		/* no free cluster below this index */

	uint8_t *cbuf;			/* compressed bytes of one cluster */
	uint8_t *dbuf;			/* decompressed cluster */
	uint64_t dbuf_entry;		/* L2 entry dbuf holds, 0 if none */
	uint8_t *cow_buf;		/* one cluster for copy-on-write */

	char backing_file[BLOCK_PATH_MAX];
	char backing_format[32];
};

static inline uint64_t qcow2_l2_entries(const struct qcow2 *s)
{
	return 1ULL << s->l2_bits;
}

/* Bytes per L2 entry: 8, or 16 with extended L2 entries. */
static inline uint32_t qcow2_l2_entry_size(const struct qcow2 *s)
{
	return s->extl2 ? 16 : 8;
}

static inline uint64_t qcow2_offset_in_cluster(const struct qcow2 *s,
					       uint64_t off)
{
	return off & (s->cluster_size - 1);
}

/* Guest bytes one L1 entry covers. */
static inline uint64_t qcow2_l1_span(const struct qcow2 *s)
{
	return 1ULL << (s->cluster_bits + s->l2_bits);
}

/* qcow2_cache.c */
int qcow2_cache_get(struct block_dev *bs, struct qcow2_cache *c,
		    uint64_t offset, uint8_t **data);
uint8_t *qcow2_cache_new(struct block_dev *bs, struct qcow2_cache *c,
			 uint64_t offset);
void qcow2_cache_drop(struct qcow2_cache *c, uint64_t offset);
void qcow2_cache_free(struct qcow2_cache *c);

/* qcow2_refcount.c */
int qcow2_get_refcount(struct block_dev *bs, uint64_t cluster, uint64_t *rc);
int qcow2_update_refcount(struct block_dev *bs, uint64_t offset,
			  uint64_t len, int delta);
int qcow2_alloc_clusters(struct block_dev *bs, uint64_t n, uint64_t *offset);
int qcow2_free_clusters(struct block_dev *bs, uint64_t offset, uint64_t len);
int qcow2_set_refcount(struct block_dev *bs, uint64_t cluster, uint64_t value);
void qcow2_free_entry(struct block_dev *bs, uint64_t l2_entry);
uint64_t qcow2_refcount_get_entry(const struct qcow2 *s, const uint8_t *rb,
				  uint64_t index);
void qcow2_refcount_set_entry(const struct qcow2 *s, uint8_t *rb,
			      uint64_t index, uint64_t value);

/* qcow2_cluster.c */
enum qcow2_kind qcow2_entry_kind(const struct qcow2 *s, uint64_t entry);
void qcow2_compressed_range(const struct qcow2 *s, uint64_t entry,
			    uint64_t *host, uint64_t *len);
int qcow2_read(struct block_dev *bs, uint64_t off, void *buf, size_t len);
int qcow2_write(struct block_dev *bs, uint64_t off, const void *buf,
		size_t len);
int qcow2_discard(struct block_dev *bs, uint64_t off, uint64_t len);
int qcow2_status(struct block_dev *bs, uint64_t off, uint64_t len,
		 uint64_t *pnum);
int qcow2_write_l1_entry(struct block_dev *bs, uint32_t index);
int qcow2_deallocate(struct block_dev *bs, uint64_t off, uint64_t len);
int qcow2_has_data(struct block_dev *bs, uint64_t off, uint64_t len,
		   uint64_t *pnum);
int qcow2_within_file(struct block_dev *bs, uint64_t host, uint64_t len);

/* qcow2.c */
int qcow2_corrupt(struct block_dev *bs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int qcow2_write_header_field(struct block_dev *bs, uint32_t offset,
			     const void *data, size_t len);
int qcow2_set_incompat(struct block_dev *bs, uint64_t incompat);

/* qcow2_create.c */
int qcow2_create(const char *path, uint64_t size,
		 const struct block_create_opts *opts);
int qcow2_resize(struct block_dev *bs, uint64_t size, bool shrink);
int qcow2_grow_l1(struct block_dev *bs, uint64_t min_size);

/* qcow2_check.c */
int qcow2_check(struct block_dev *bs, struct block_check *res, bool repair);

/* L2 tables an L1 table names twice: walk each once (qcow2_check.c). */
struct qcow2_dups {
	uint64_t *off;		/* sorted */
	bool *walked;
	size_t n;
};

int qcow2_find_dups(const uint64_t *l1, uint32_t size, struct qcow2_dups *d);
bool qcow2_walk_once(struct qcow2_dups *d, uint64_t off);
void qcow2_free_dups(struct qcow2_dups *d);

/* qcow2_snapshot.c */
int qcow2_read_snapshots(struct block_dev *bs);
void qcow2_free_snapshots(struct qcow2 *s);
int qcow2_snapshot_list(struct block_dev *bs, struct block_snapshot **list,
			int *count);
int qcow2_snapshot_create(struct block_dev *bs, const char *name,
			  uint64_t vm_state_size, uint64_t vm_clock_nsec);
int qcow2_vmstate_io(struct block_dev *bs, uint64_t pos, void *buf, size_t len,
		     bool write);
int qcow2_snapshot_delete(struct block_dev *bs, const char *name);
int qcow2_snapshot_apply(struct block_dev *bs, const char *name);
int qcow2_snapshot_load_tmp(struct block_dev *bs, const char *id, const char *name);
int qcow2_update_copied_flags(struct block_dev *bs);

#endif
