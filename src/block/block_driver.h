/*
 * The block drivers' side of the block layer: the interface each image
 * format (raw.c, qcow2*.c, vmdk*.c, vdi.c) implements, the open image as
 * the drivers and the generic layer see it, and the generic layer's
 * helpers for drivers.  Callers outside src/block use block.h only.
 */
#ifndef WIRT_BLOCK_BLOCK_DRIVER_H
#define WIRT_BLOCK_BLOCK_DRIVER_H

#include "block/block.h"

/* The bytes at the start of an image that format probes look at and the
 * write guard of guessed-raw images checks (every signature lies there). */
#define GUARD_BYTES	512

struct block_driver {
	const char *name;
	/* Score how well the first bytes of a file match: 0 no, 100 sure. */
	int (*probe)(const uint8_t *buf, size_t len);
	int (*open)(struct block_dev *bs, unsigned flags);
	int (*read)(struct block_dev *bs, uint64_t off, void *buf, size_t len);
	int (*write)(struct block_dev *bs, uint64_t off, const void *buf,
		     size_t len);
	int (*flush)(struct block_dev *bs);
	int (*discard)(struct block_dev *bs, uint64_t off, uint64_t len);
	int (*get_info)(struct block_dev *bs, struct block_info *info);
	void (*close)(struct block_dev *bs);
	int (*create)(const char *path, uint64_t size,
		      const struct block_create_opts *opts);
	/* Optional below. */
	int (*status)(struct block_dev *bs, uint64_t off, uint64_t len,
		      uint64_t *pnum);
	int (*resize)(struct block_dev *bs, uint64_t size, bool shrink);
	int (*check)(struct block_dev *bs, struct block_check *res,
		     bool repair);
	int (*snapshot_list)(struct block_dev *bs, struct block_snapshot **list,
			     int *count);
	/* vm_state_size bytes of machine state were written to the VM
	 * state area (vmstate_io) for this snapshot; 0 if none. */
	int (*snapshot_create)(struct block_dev *bs, const char *name,
			       uint64_t vm_state_size, uint64_t vm_clock_nsec);
	/* The VM state area (past the guest's data): savevm/loadvm. */
	int (*vmstate_io)(struct block_dev *bs, uint64_t pos, void *buf,
			  size_t len, bool write);
	int (*snapshot_delete)(struct block_dev *bs, const char *name);
	int (*snapshot_apply)(struct block_dev *bs, const char *name);
	/* Read-only: show snapshot id and/or name (NULL: either) instead of
	 * the current data, changing nothing in the file. */
	int (*snapshot_load_tmp)(struct block_dev *bs, const char *id,
				 const char *name);
	/* Where [off, off + len) lives in this layer; see block_map(). */
	int (*map)(struct block_dev *bs, uint64_t off, uint64_t len,
		   struct block_mapping *m);
	/* Write whole clusters compressed; see block_write_compressed(). */
	int (*write_compressed)(struct block_dev *bs, uint64_t off,
				const void *buf, size_t len);
	/* Record a new backing file name (NULL: none) in the header. */
	int (*set_backing)(struct block_dev *bs, const char *name,
			   const char *format);
};

/* An open image.  Drivers keep their state in opaque. */
struct block_dev {
	const struct block_driver *drv;
	void *opaque;
	char *filename;
	int fd;
	bool read_only;
	bool unsafe;			/* BLOCK_O_UNSAFE */
	uint64_t size;			/* virtual size in bytes */
	struct block_dev *backing;	/* NULL if none */
	pthread_mutex_t lock;		/* serialises driver calls */
	/*
	 * Reads and writes of mapped host bytes run outside lock holding
	 * io_lock shared; driver calls that may move or free clusters hold
	 * it exclusively, so no I/O goes to a cluster that was reused.
	 */
	pthread_rwlock_t io_lock;
	bool nocache;			/* BLOCK_O_NOCACHE: fd is O_DIRECT */
	bool probed_raw;		/* format guessed as raw: first sector
					   guarded (block_write) */
	bool guard_said;		/* the guard's refusal was logged */
	pthread_mutex_t guard_lock;	/* one guarded write at a time */
	unsigned share_flags;		/* BLOCK_O_FORCE_SHARE and
					   BLOCK_O_BACKING_SHARE_WRITE, passed
					   on to backing files */
	/* Live migration (activate.c): the flags it was opened with, and
	 * whether it holds no image locks (the incoming side before the
	 * switch-over, the outgoing side after it). */
	unsigned open_flags;
	bool share_write;		/* lets others write (a backing file) */
	bool inactive;			/* opened before the switch-over: the
					   driver's state is read-only */
	bool unlocked;
	bool drv_closed;		/* reopening it failed: only close */
};


/*
 * Open the backing file named by an image at path: relative names are
 * resolved against the directory of path.  Used by drivers' open().
 */
int block_open_backing(struct block_dev *bs, const char *name,
		       const char *format);
/*
 * Take the image locks for an open with flags (lock.c), letting others
 * write if share_write: 0, or -EBUSY with one line naming who holds the
 * image, or another negative errno.
 */
int block_lock_image(struct block_dev *bs, unsigned flags, bool share_write);
/* Drop every image lock bs holds (lock.c). */
void block_unlock_image(struct block_dev *bs);

/*
 * The loop drivers split I/O with: piece(bs, off, buf, max, opaque) is
 * called for [off, off + len) in turn, max never crossing a multiple of
 * unit (0: no such limit), until all of it is done.  piece returns how
 * many bytes it handled (1..max) or a negative errno, which ends the loop
 * and is returned.  Writes pass their const buffer cast to non-const: the
 * piece only reads it.
 */
typedef int64_t block_piece_fn(struct block_dev *bs, uint64_t off,
			       uint8_t *buf, uint64_t max, void *opaque);
int block_for_each_piece(struct block_dev *bs, uint64_t off, void *buf,
			 uint64_t len, uint64_t unit, block_piece_fn *piece,
			 void *opaque);

/* Read from the backing file; bytes past its end read as zeros. */
int block_read_backing(struct block_dev *bs, uint64_t off, void *buf,
		       size_t len);

/* The drivers. */
extern const struct block_driver block_raw;
extern const struct block_driver block_qcow2;
extern const struct block_driver block_vmdk;
extern const struct block_driver block_vdi;

#endif
