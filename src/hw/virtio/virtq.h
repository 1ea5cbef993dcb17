/*
 * Split virtqueues (virtio 1.x, 2.7): the device side of the descriptor
 * table, available ring and used ring in guest memory.
 *
 * Everything the guest wrote is treated as hostile: ring addresses are
 * checked once at enable time, every descriptor is copied before use and
 * its buffer checked to lie in guest RAM, chains may not loop or exceed
 * the queue (or indirect table) size, and device-writable buffers must
 * follow the readable ones.  A queue that breaks a rule is marked broken
 * and the device asks for a reset; nothing outside guest RAM is touched.
 */
#ifndef WIRT_HW_VIRTIO_VIRTQ_H
#define WIRT_HW_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_memory;

#define VIRTQ_MAX_SIZE 1024  /* largest queue a device offers */

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* One guest buffer of a request, already checked to lie in guest RAM. */
struct virtq_seg {
	uint8_t *hva;
	uint32_t len;
	uint64_t gpa;
};

/* A popped request: nout device-readable segments, then nin writable. */
struct virtq_elem {
	uint16_t head;
	unsigned nout, nin;
	size_t out_len, in_len;          /* bytes in each direction */
	struct virtq_seg seg[VIRTQ_MAX_SIZE];
};

struct virtq {
	const struct guest_memory *mem;
	uint16_t size;                   /* entries, set by the driver */
	uint16_t max_size;               /* what the device offers */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;                      /* enabled and addresses valid */
	bool event_idx;                  /* VIRTIO_F_RING_EVENT_IDX agreed */
	bool indirect;                   /* VIRTIO_F_RING_INDIRECT_DESC agreed */
	bool broken;                     /* the guest broke a rule */
	uint16_t last_avail;             /* next available entry to take */
	uint16_t used_idx;               /* our copy of used->idx */
	uint16_t signalled_used;         /* used_idx at the last interrupt */
	bool signalled_valid;
	/* Host views of the rings, valid while ready. */
	volatile uint8_t *desc, *avail, *used;
};

/* Reset to the state after device reset (not ready, size = max_size). */
void virtq_reset(struct virtq *vq, const struct guest_memory *mem,
		 uint16_t max_size);

/*
 * The driver enabled the queue: check size and ring addresses against
 * guest RAM.  Returns 0, or -EINVAL (queue stays off, logged once).
 */
int virtq_enable(struct virtq *vq);

/*
 * Take the next request.  Returns 1 with *elem filled, 0 if the ring is
 * empty, -EIO if the guest broke a rule (vq->broken is then set).
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *elem);

/* Hand a request back with written bytes stored in its writable part. */
void virtq_push(struct virtq *vq, const struct virtq_elem *elem,
		uint32_t written);

/*
 * For requests answered with several buffers (mergeable receive): put
 * elem in used-ring position pos after the last published entry, then
 * publish count entries at once with virtq_flush.
 */
void virtq_fill(struct virtq *vq, const struct virtq_elem *elem,
		uint32_t written, unsigned pos);
void virtq_flush(struct virtq *vq, unsigned count);

/* Give back the last count popped requests (not pushed) to the ring. */
void virtq_unpop(struct virtq *vq, unsigned count);

/* After pushes: does the driver want an interrupt now? */
bool virtq_should_notify(struct virtq *vq);

/* A queue's registers and ring positions in the VM state; load checks
 * the ring addresses again (virtq_enable) as the driver's enable did.
 * Requests are never held between notifications (they are completed
 * under the device lock), so nothing else is in flight. */
struct vmstate_out;
struct vmstate_in;
void virtq_save(const struct virtq *vq, struct vmstate_out *o);
int virtq_load(struct virtq *vq, struct vmstate_in *in);

/* Is there at least one available entry not yet taken? */
bool virtq_has_work(struct virtq *vq);

/* Copy between a request's segments and a flat buffer; return bytes. */
size_t virtq_copy_from_out(const struct virtq_elem *elem, size_t skip,
			   void *buf, size_t len);
size_t virtq_copy_to_in(const struct virtq_elem *elem, size_t skip,
			const void *buf, size_t len);

#endif
