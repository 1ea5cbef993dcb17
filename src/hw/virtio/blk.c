/*
 * virtio-blk (virtio 1.x, 5.2): a disk image behind one request queue.
 * Requests are served on the device's worker thread through the block
 * layer, so any image format wirt reads can be a guest disk.
 *
 * --disk FILE[,format=FMT][,readonly=on|off][,serial=ID][,bootindex=N]
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "hw/disk_spec.h"
#include "hw/pci.h"
#include "util/log.h"
#include "vm/boot_order.h"
#include "vm/vm.h"

#define SECTOR 512ull

/* Feature bits (5.2.3). */
#define BLK_F_SEG_MAX      2
#define BLK_F_RO           5
#define BLK_F_BLK_SIZE     6
#define BLK_F_FLUSH        9
#define BLK_F_DISCARD      13
#define BLK_F_WRITE_ZEROES 14

/* Request types and status (5.2.6). */
#define BLK_T_IN           0
#define BLK_T_OUT          1
#define BLK_T_FLUSH        4
#define BLK_T_GET_ID       8
#define BLK_T_DISCARD      11
#define BLK_T_WRITE_ZEROES 13
#define BLK_S_OK           0
#define BLK_S_IOERR        1
#define BLK_S_UNSUPP       2

#define BLK_ID_BYTES       DISK_SERIAL_MAX
#define QUEUE_SIZE         256
#define MAX_RANGE_SECTORS  (1u << 22)   /* 2 GiB per discard/zeroes range */
#define ZERO_CHUNK         (1u << 20)

/* Device configuration offsets (5.2.4). */
#define CFG_CAPACITY       0
#define CFG_SEG_MAX        12
#define CFG_BLK_SIZE       20
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG     40
#define CFG_DISCARD_ALIGN       44
#define CFG_MAX_ZEROES_SECTORS  48
#define CFG_MAX_ZEROES_SEG      52
#define CFG_SIZE           60

struct virtio_blk {
	struct virtio_device_ops ops;   /* features depend on the options */
	struct block_dev *bs;
	bool read_only;
	char serial[BLK_ID_BYTES + 1];
	uint8_t *zeros;
};

struct blk_req_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* Is [sector, sector + bytes) inside the disk? */
static bool in_range(struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
	uint64_t size = block_size(blk->bs) & ~(SECTOR - 1);

	return sector <= size / SECTOR && bytes <= size - sector * SECTOR;
}

/* Move data between the disk and a request's buffers, segment by segment. */
static int rw_segments(struct virtio_blk *blk, struct virtq_elem *elem,
		       uint64_t off, bool write, size_t len)
{
	unsigned first = write ? 0 : elem->nout;
	unsigned last = write ? elem->nout : elem->nout + elem->nin;
	size_t skip = write ? sizeof(struct blk_req_header) : 0;
	unsigned i;

	for (i = first; i < last && len; i++) {
		struct virtq_seg *s = &elem->seg[i];
		size_t n;
		int ret;

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		n = s->len - skip < len ? s->len - skip : len;
		ret = write ? block_write(blk->bs, off, s->hva + skip, n)
			    : block_read(blk->bs, off, s->hva + skip, n);
		if (ret < 0)
			return ret;
		off += n;
		len -= n;
		skip = 0;
	}
	return 0;
}

static uint8_t do_zeroes(struct virtio_blk *blk, uint64_t off, uint64_t len)
{
	while (len) {
		size_t n = len < ZERO_CHUNK ? len : ZERO_CHUNK;

		if (block_write(blk->bs, off, blk->zeros, n) < 0)
			return BLK_S_IOERR;
		off += n;
		len -= n;
	}
	return BLK_S_OK;
}

static uint8_t do_range(struct virtio_blk *blk, struct virtq_elem *elem,
			uint32_t type)
{
	struct blk_range r;

	/* We advertise one range per request. */
	if (elem->out_len != sizeof(struct blk_req_header) + sizeof(r))
		return BLK_S_UNSUPP;
	virtq_copy_from_out(elem, sizeof(struct blk_req_header), &r, sizeof(r));
	if (r.num_sectors > MAX_RANGE_SECTORS ||
	    !in_range(blk, r.sector, (uint64_t)r.num_sectors * SECTOR))
		return BLK_S_IOERR;
	if (blk->read_only)
		return BLK_S_IOERR;
	if (type == BLK_T_WRITE_ZEROES)
		return do_zeroes(blk, r.sector * SECTOR,
				 (uint64_t)r.num_sectors * SECTOR);
	/* Discard is a hint: a format that cannot discard ignores it. */
	if (block_discard(blk->bs, r.sector * SECTOR,
			  (uint64_t)r.num_sectors * SECTOR) < 0)
		return BLK_S_IOERR;
	return BLK_S_OK;
}

/* Serve one request; returns its status and sets *data_len (bytes in). */
static uint8_t do_request(struct virtio_blk *blk, struct virtq_elem *elem,
			  size_t *data_len)
{
	struct blk_req_header h;
	size_t in_data = elem->in_len - 1;
	size_t out_data = elem->out_len - sizeof(h);

	*data_len = 0;
	virtq_copy_from_out(elem, 0, &h, sizeof(h));
	switch (h.type) {
	case BLK_T_IN:
		if (in_data % SECTOR || !in_range(blk, h.sector, in_data))
			return BLK_S_IOERR;
		if (rw_segments(blk, elem, h.sector * SECTOR, false, in_data))
			return BLK_S_IOERR;
		*data_len = in_data;
		return BLK_S_OK;
	case BLK_T_OUT:
		if (blk->read_only || out_data % SECTOR ||
		    !in_range(blk, h.sector, out_data))
			return BLK_S_IOERR;
		if (rw_segments(blk, elem, h.sector * SECTOR, true, out_data))
			return BLK_S_IOERR;
		return BLK_S_OK;
	case BLK_T_FLUSH:
		return block_flush(blk->bs) < 0 ? BLK_S_IOERR : BLK_S_OK;
	case BLK_T_GET_ID:
		*data_len = virtq_copy_to_in(elem, 0, blk->serial,
					     in_data < BLK_ID_BYTES ? in_data
								    : BLK_ID_BYTES);
		return BLK_S_OK;
	case BLK_T_DISCARD:
	case BLK_T_WRITE_ZEROES:
		return do_range(blk, elem, h.type);
	}
	return BLK_S_UNSUPP;
}

static void blk_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_blk *blk = vdev->opaque;
	struct virtq *vq = &vdev->vq[q];
	struct virtq_elem *elem = vdev->elem;
	bool pushed = false;

	while (virtq_pop(vq, elem) == 1) {
		size_t data_len = 0;
		uint8_t status;

		if (elem->out_len < sizeof(struct blk_req_header) ||
		    elem->in_len < 1) {
			log_warn_once("virtio-blk: request without header or status byte; dropped");
			virtq_push(vq, elem, 0);
			pushed = true;
			continue;
		}
		status = do_request(blk, elem, &data_len);
		/* The status byte is the last byte of the writable part. */
		virtq_copy_to_in(elem, elem->in_len - 1, &status, 1);
		virtq_push(vq, elem, data_len + 1);
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(vdev, q);
}

/* Requests complete before their answer is pushed: a flush makes every
 * answered write durable for whoever opens the image next (a restore). */
static void blk_save(struct virtio_device *vdev, struct vmstate_out *o)
{
	struct virtio_blk *blk = vdev->opaque;

	(void)o;
	if (!blk->read_only && block_flush(blk->bs))
		log_warn("virtio-blk: cannot flush the image while saving the VM state");
}

static void blk_destroy(struct virtio_device *vdev)
{
	struct virtio_blk *blk = vdev->opaque;

	if (blk->bs) {
		block_flush(blk->bs);
		block_close(blk->bs);
	}
	free(blk->zeros);
	free(blk);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void fill_config(struct virtio_device *vdev, struct virtio_blk *blk)
{
	uint64_t sectors = block_size(blk->bs) / SECTOR;

	memcpy(vdev->config + CFG_CAPACITY, &sectors, 8);
	put32(vdev->config + CFG_SEG_MAX, QUEUE_SIZE - 2);
	put32(vdev->config + CFG_BLK_SIZE, SECTOR);
	put32(vdev->config + CFG_MAX_DISCARD_SECTORS, MAX_RANGE_SECTORS);
	put32(vdev->config + CFG_MAX_DISCARD_SEG, 1);
	put32(vdev->config + CFG_DISCARD_ALIGN, 1);
	put32(vdev->config + CFG_MAX_ZEROES_SECTORS, MAX_RANGE_SECTORS);
	put32(vdev->config + CFG_MAX_ZEROES_SEG, 1);
}

int virtio_blk_create(struct vm *vm, const struct disk_spec *ds)
{
	static const struct virtio_device_ops base_ops = {
		.name = "virtio-blk",
		.device_id = VIRTIO_ID_BLOCK,
		.class_code = 0x010000,
		.nqueues = 1,
		.queue_size = QUEUE_SIZE,
		.config_size = CFG_SIZE,
		.queue_notify = blk_queue_notify,
		.destroy = blk_destroy,
		.save = blk_save,
	};
	struct virtio_device_ops *ops;
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	struct virtio_device *vdev;
	char path[BOOT_PATH_MAX];
	int ret;

	if (!blk)
		return -ENOMEM;
	blk->read_only = ds->read_only;
	strcpy(blk->serial, ds->serial);
	ret = disk_open(ds, &blk->bs);
	blk->zeros = calloc(1, ZERO_CHUNK);
	if (!ret && !blk->zeros)
		ret = -ENOMEM;
	if (ret) {
		if (blk->bs)
			block_close(blk->bs);
		free(blk->zeros);
		free(blk);
		return ret;
	}
	ops = &blk->ops;
	*ops = base_ops;
	ops->features = (1ull << BLK_F_SEG_MAX) | (1ull << BLK_F_BLK_SIZE) |
			(1ull << BLK_F_FLUSH) | (1ull << BLK_F_DISCARD) |
			(1ull << BLK_F_WRITE_ZEROES);
	if (blk->read_only)
		ops->features = (1ull << BLK_F_SEG_MAX) | (1ull << BLK_F_BLK_SIZE) |
				(1ull << BLK_F_RO);
	vdev = virtio_pci_create(vm, ops, blk);
	if (!vdev)
		return -EIO;
	fill_config(vdev, blk);
	/* SeaBIOS matches a virtio disk by its PCI slot. */
	snprintf(path, sizeof(path), "/pci@i0cf8/scsi@%x/disk@0,0", vdev->pci->slot);
	vm_add_disk(vm, blk->bs);
	return boot_order_add(vm, BOOT_DISK, ds->bootindex, path);
}
