/*
 * Block layer: disk image drivers (raw, qcow2, vmdk, vdi) behind one
 * interface, and the generic layer that virtio-blk and `wirt img` use.
 *
 * Reads and writes are byte-granular at any offset.  Every function returns
 * 0 (or a non-negative count) on success and a negative errno on failure;
 * failures caused by a bad image are also logged with one clear line.
 */
#ifndef WIRT_BLOCK_BLOCK_H
#define WIRT_BLOCK_BLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Flags for block_open() and driver open(). */
#define BLOCK_O_RDWR	(1u << 0)	/* open for writing too */
#define BLOCK_O_UNSAFE	(1u << 1)	/* no ordering barriers: scratch output */
#define BLOCK_O_NO_BACKING (1u << 2)	/* do not open the backing file */
#define BLOCK_O_REPAIR	(1u << 3)	/* open damaged images to repair them */
#define BLOCK_O_NOCACHE	(1u << 4)	/* bypass the host page cache (O_DIRECT) */
/* Image locks (lock.c): by default a writer excludes every other writer
 * and reader that forbids writes, a reader forbids writers. */
#define BLOCK_O_FORCE_SHARE (1u << 5)	/* read-only, let others write (-U) */
#define BLOCK_O_BACKING_SHARE_WRITE (1u << 6) /* backing files let others
					   write them (img commit writes one) */

/* Longest path a header may name as backing file. */
#define BLOCK_PATH_MAX	4096

/* An open image (its insides are the drivers', block_driver.h). */
struct block_dev;
struct block_mapping;

struct block_info {
	const char *format;		/* driver name */
	uint64_t virtual_size;		/* bytes the guest sees */
	uint64_t allocated_size;	/* bytes the image uses on the host */
	uint64_t file_size;		/* length of the image file */
	uint32_t cluster_size;		/* allocation unit, 0 if none */
	char backing_file[BLOCK_PATH_MAX];	/* "" if none */
	char backing_format[32];	/* "" if not recorded */
	char format_detail[128];	/* one line for humans, may be "" */
	int format_version;		/* qcow2/vmdk/vdi version, 0 if none */
	int refcount_bits;		/* qcow2 */
	char compression[8];		/* qcow2: "zlib" or "zstd" */
	char subformat[32];		/* vmdk create type, vdi "dynamic"/"fixed" */
	bool dirty;			/* image was not closed cleanly */
	bool corrupt;			/* image is marked corrupt */
};

/* Options for creating an image; zero means the driver's default. */
struct block_create_opts {
	const char *backing_file;
	const char *backing_format;
	uint32_t cluster_size;		/* qcow2 cluster, vmdk grain, vdi block */
	int version;			/* qcow2: 2 or 3 (default 3) */
	int refcount_bits;		/* qcow2: 1..64, default 16 */
	bool fixed;			/* vdi: preallocate every block */
	bool zstd;			/* qcow2: zstd compression type */
	bool lazy_refcounts;		/* qcow2 v3: lazy_refcounts=on */
	const char *subformat;		/* vmdk: monolithicSparse (default),
					   streamOptimized */
};

/*
 * How a guest range is stored in one layer of a chain (block_map()).
 * A range that is not BLOCK_MAP_ALLOCATED comes from the backing file
 * (or reads as zeros if there is none).
 */
#define BLOCK_MAP_ALLOCATED	(1u << 0)	/* defined by this layer */
#define BLOCK_MAP_ZERO		(1u << 1)	/* reads as zeros */
#define BLOCK_MAP_HOST		(1u << 2)	/* plain bytes at host in the file */
#define BLOCK_MAP_WRITABLE	(1u << 3)	/* writes may go to host directly */

struct block_mapping {
	uint64_t len;			/* bytes with this mapping, > 0 */
	uint64_t host;			/* file offset if BLOCK_MAP_HOST */
	int fd;				/* file holding host (BLOCK_MAP_HOST) */
	unsigned flags;
	const char *filename;		/* that file's name (block_map()) */
};

/* Result of block_status() for a range. */
enum block_status {
	BLOCK_STATUS_DATA,		/* may hold nonzero data */
	BLOCK_STATUS_ZERO,		/* reads as zeros */
};

/* Findings of a consistency check. */
struct block_check {
	uint64_t corruptions;		/* errors that can lose or expose data */
	uint64_t leaks;			/* clusters in use by nobody */
	uint64_t checked_clusters;
	uint64_t allocated_clusters;
	uint64_t fragmented_clusters;
	bool repaired;			/* leaks were freed */
};

/* One internal snapshot, as listed by snapshot_list. */
struct block_snapshot {
	char id[32];
	char name[256];
	uint64_t vm_state_size;
	uint64_t disk_size;
	uint32_t date_sec;
	uint32_t date_nsec;
	uint64_t vm_clock_nsec;
};


/* Generic layer (block.c). */
bool block_format_known(const char *name);
const struct block_driver *block_find_driver(const char *name);
int block_probe(const char *path, const struct block_driver **drv);
int block_open(struct block_dev **out, const char *path, const char *format,
	       unsigned flags);
void block_close(struct block_dev *bs);
int block_read(struct block_dev *bs, uint64_t off, void *buf, size_t len);
int block_write(struct block_dev *bs, uint64_t off, const void *buf,
		size_t len);
int block_flush(struct block_dev *bs);
int block_discard(struct block_dev *bs, uint64_t off, uint64_t len);
int block_get_info(struct block_dev *bs, struct block_info *info);
int block_status(struct block_dev *bs, uint64_t off, uint64_t len,
		 uint64_t *pnum);
int block_create(const char *format, const char *path, uint64_t size,
		 const struct block_create_opts *opts);
int block_resize(struct block_dev *bs, uint64_t size, bool shrink);
int block_check(struct block_dev *bs, struct block_check *res, bool repair);
const char *block_driver_names(void);

/*
 * Shared images across a live migration (activate.c).  The incoming side
 * opens its images while the outgoing side still runs them: deferred,
 * an open takes no locks and reads the image only; block_activate then
 * takes the locks and reads the image again as the other side left it.
 * The outgoing side flushes and lets go of its locks at the switch-over
 * (block_inactivate) and takes them back if the migration fails
 * (block_reactivate).  0, or negative errno with the reason logged.
 */
void block_defer_activation(bool defer);
bool block_activation_deferred(void);
int block_activate(struct block_dev *bs);
int block_inactivate(struct block_dev *bs);
int block_reactivate(struct block_dev *bs);

/* What callers may know of an open image. */
uint64_t block_size(const struct block_dev *bs);	/* virtual size, bytes */
const char *block_filename(const struct block_dev *bs);
bool block_read_only(const struct block_dev *bs);
const char *block_format(const struct block_dev *bs);	/* "raw", "qcow2", ... */
struct block_dev *block_backing(const struct block_dev *bs);	/* NULL: none */
bool block_is_nocache(const struct block_dev *bs);	/* BLOCK_O_NOCACHE */
/* Optional abilities of a format, to ask before offering them. */
enum block_ability {
	BLOCK_CAN_SNAPSHOT,		/* internal snapshots */
	BLOCK_CAN_CHECK,		/* metadata to check and repair */
	BLOCK_CAN_SET_BACKING,		/* names a backing file in its header */
};
bool block_has(const struct block_dev *bs, enum block_ability what);
int block_snapshot_list(struct block_dev *bs, struct block_snapshot **list,
			int *count);
int block_snapshot_create(struct block_dev *bs, const char *name);
int block_snapshot_delete(struct block_dev *bs, const char *name);
int block_snapshot_apply(struct block_dev *bs, const char *name);
/* An image opened read-only reads as its internal snapshot: the one with
 * this id and/or name (either NULL), as qemu-img convert -l; nothing in
 * the file changes.  0, or negative errno with the reason logged. */
int block_snapshot_load_tmp(struct block_dev *bs, const char *id, const char *name);
/* savevm: a snapshot that names vm_state_size bytes of machine state,
 * written before to the image's VM state area with block_vmstate_io
 * (which reads it back for loadvm).  -ENOTSUP for formats without one. */
int block_snapshot_create_vm(struct block_dev *bs, const char *name,
			     uint64_t vm_state_size, uint64_t vm_clock_nsec);
int block_vmstate_io(struct block_dev *bs, uint64_t pos, void *buf, size_t len,
		     bool write);

/*
 * Copy the whole guest-visible contents of in to out.  If out_zeroed, out
 * already reads as zeros and zero regions of in are skipped, so a fresh
 * output image stays sparse.  Returns 0 or negative errno.
 */
int block_copy(struct block_dev *in, struct block_dev *out, bool out_zeroed);

/*
 * Mapping of [off, off + len) in bs itself (not its backing file): fills
 * m with the first run of one kind.  Drivers without a map hook report
 * every range as allocated, zero or not as block_status() says.
 */
int block_map(struct block_dev *bs, uint64_t off, uint64_t len,
	      struct block_mapping *m);
/*
 * Write len bytes (whole clusters, off cluster aligned, into clusters not
 * yet allocated) compressed where that saves space.  -ENOTSUP if the
 * format cannot store compressed data.
 */
int block_write_compressed(struct block_dev *bs, uint64_t off,
			   const void *buf, size_t len);
/* Change the backing file named in the header (name NULL or "": none). */
int block_set_backing(struct block_dev *bs, const char *name,
		      const char *format);
/* Resolve a backing file name relative to the image at path (malloc'd). */
char *block_backing_path(const char *path, const char *name);

/* Options of block_copy_opts(); zero means off. */
struct block_copy_opts {
	bool out_zeroed;		/* as for block_copy() */
	bool compress;			/* write compressed clusters (qcow2) */
	/* Called after each chunk with bytes done of total. */
	void (*progress)(void *opaque, uint64_t done, uint64_t total);
	void *opaque;
	bool no_flush;			/* leave out the final flush */
};
int block_copy_opts(struct block_dev *in, struct block_dev *out,
		    const struct block_copy_opts *o);

#endif
