/*
 * Handing an image from one wirt to another at a live migration's
 * switch-over (both run it from the same file): the outgoing side
 * flushes and drops its locks, the incoming side, which opened the image
 * without locks and read-only, takes the locks and reads the image's
 * metadata again, as the outgoing side left it.  QEMU calls this
 * inactivating and activating a block device.
 */
#include <errno.h>
#include <string.h>

#include "block/block_driver.h"
#include "util/log.h"

static bool deferred;

void block_defer_activation(bool defer)
{
	deferred = defer;
}

bool block_activation_deferred(void)
{
	return deferred;
}

int block_activate(struct block_dev *bs)
{
	int ret;

	if (!bs->inactive)
		return 0;
	/* Backing files open again below, with their locks. */
	deferred = false;
	ret = block_lock_image(bs, bs->open_flags, bs->share_write);
	if (ret < 0)
		return ret;
	/* What the driver read before the other side's last writes is
	 * stale (a qcow2's tables, its header). */
	bs->drv->close(bs);
	if (bs->backing) {
		block_close(bs->backing);
		bs->backing = NULL;
	}
	ret = bs->drv->open(bs, bs->open_flags);
	if (ret < 0) {
		log_error("'%s': cannot open the image again after the migration: %s",
			  bs->filename, strerror(-ret));
		bs->drv_closed = true;
		return ret;
	}
	bs->inactive = false;
	return 0;
}

int block_inactivate(struct block_dev *bs)
{
	struct block_dev *b;
	int ret = bs->read_only ? 0 : block_flush(bs);

	if (ret < 0) {
		log_error("'%s': cannot flush the image for the migration: %s",
			  bs->filename, strerror(-ret));
		return ret;
	}
	for (b = bs; b; b = b->backing) {
		block_unlock_image(b);
		b->unlocked = true;
	}
	return 0;
}

int block_reactivate(struct block_dev *bs)
{
	struct block_dev *b;
	int ret;

	for (b = bs; b; b = b->backing) {
		if (!b->unlocked)
			continue;
		ret = block_lock_image(b, b->open_flags, b->share_write);
		if (ret < 0)
			return ret;
		b->unlocked = false;
	}
	return 0;
}
