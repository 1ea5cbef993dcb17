/* Split virtqueues, device side (see virtq.h). */
#include "hw/virtio/virtq.h"

#include <errno.h>
#include <string.h>

#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/memory.h"

#define DESC_SIZE 16

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint16_t load16(volatile uint8_t *p)
{
	uint16_t v;

	v = __atomic_load_n((volatile uint16_t *)p, __ATOMIC_ACQUIRE);
	return v;
}

static void store16(volatile uint8_t *p, uint16_t v)
{
	__atomic_store_n((volatile uint16_t *)p, v, __ATOMIC_RELEASE);
}

void virtq_reset(struct virtq *vq, const struct guest_memory *mem,
		 uint16_t max_size)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->max_size = max_size;
	vq->size = max_size;
}

static size_t avail_bytes(uint16_t size)
{
	return 6 + 2 * (size_t)size;
}

static size_t used_bytes(uint16_t size)
{
	return 6 + 8 * (size_t)size;
}

int virtq_enable(struct virtq *vq)
{
	uint16_t n = vq->size;

	if (!n || n > vq->max_size || (n & (n - 1))) {
		log_warn_once("virtio: queue size %u is not a power of two up to %u",
			      n, vq->max_size);
		goto bad;
	}
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3)) {
		log_warn_once("virtio: misaligned ring addresses");
		goto bad;
	}
	vq->desc = gmem_ptr_rw(vq->mem, vq->desc_gpa, (uint64_t)n * DESC_SIZE);
	vq->avail = gmem_ptr_rw(vq->mem, vq->avail_gpa, avail_bytes(n));
	vq->used = gmem_ptr_rw(vq->mem, vq->used_gpa, used_bytes(n));
	if (!vq->desc || !vq->avail || !vq->used) {
		log_warn_once("virtio: ring outside guest RAM");
		goto bad;
	}
	vq->ready = true;
	vq->broken = false;
	vq->last_avail = 0;
	vq->used_idx = load16(vq->used + 2);
	vq->signalled_valid = false;
	return 0;
bad:
	vq->ready = false;
	vq->broken = true;
	return -EINVAL;
}

void virtq_save(const struct virtq *vq, struct vmstate_out *o)
{
	vmstate_put_u16(o, vq->size);
	vmstate_put_u64(o, vq->desc_gpa);
	vmstate_put_u64(o, vq->avail_gpa);
	vmstate_put_u64(o, vq->used_gpa);
	vmstate_put_bool(o, vq->ready);
	vmstate_put_bool(o, vq->event_idx);
	vmstate_put_bool(o, vq->indirect);
	vmstate_put_bool(o, vq->broken);
	vmstate_put_u16(o, vq->last_avail);
	vmstate_put_u16(o, vq->used_idx);
	vmstate_put_u16(o, vq->signalled_used);
	vmstate_put_bool(o, vq->signalled_valid);
}

int virtq_load(struct virtq *vq, struct vmstate_in *in)
{
	bool ready, broken_;
	uint16_t last_avail, used_idx, signalled;
	bool signalled_valid;

	virtq_reset(vq, vq->mem, vq->max_size);
	vq->size = vmstate_get_u16(in);
	vq->desc_gpa = vmstate_get_u64(in);
	vq->avail_gpa = vmstate_get_u64(in);
	vq->used_gpa = vmstate_get_u64(in);
	ready = vmstate_get_bool(in);
	vq->event_idx = vmstate_get_bool(in);
	vq->indirect = vmstate_get_bool(in);
	broken_ = vmstate_get_bool(in);
	last_avail = vmstate_get_u16(in);
	used_idx = vmstate_get_u16(in);
	signalled = vmstate_get_u16(in);
	signalled_valid = vmstate_get_bool(in);
	if (in->error)
		return in->error;
	if (ready && virtq_enable(vq))
		return vmstate_fail(in, -EINVAL, "virtio: a saved queue's rings lie outside guest RAM");
	vq->broken = broken_;
	vq->last_avail = last_avail;
	vq->used_idx = used_idx;
	vq->signalled_used = signalled;
	vq->signalled_valid = signalled_valid;
	return 0;
}

/* One descriptor, copied out of guest memory so it cannot change under us. */
static void read_desc(volatile uint8_t *table, unsigned i, struct desc *d)
{
	memcpy(d, (const uint8_t *)table + (size_t)i * DESC_SIZE, sizeof(*d));
}

static int broken(struct virtq *vq, const char *why)
{
	log_warn_once("virtio: guest error: %s; the device needs a reset", why);
	vq->broken = true;
	return -EIO;
}

/* Add one buffer to elem, checking the direction order and guest RAM. */
static int add_seg(struct virtq *vq, struct virtq_elem *elem,
		   const struct desc *d)
{
	struct virtq_seg *s;
	bool write = d->flags & VIRTQ_DESC_F_WRITE;

	if (elem->nout + elem->nin == VIRTQ_MAX_SIZE)
		return broken(vq, "descriptor chain too long");
	if (!write && elem->nin)
		return broken(vq, "readable buffer after a writable one");
	if (!d->len)
		return 0;
	s = &elem->seg[elem->nout + elem->nin];
	s->hva = write ? gmem_ptr_rw(vq->mem, d->addr, d->len)
		       : gmem_ptr(vq->mem, d->addr, d->len);
	if (!s->hva)
		return broken(vq, "buffer outside guest RAM");
	s->len = d->len;
	s->gpa = d->addr;
	if (write) {
		elem->nin++;
		elem->in_len += d->len;
	} else {
		elem->nout++;
		elem->out_len += d->len;
	}
	return 0;
}

/* Walk an indirect table (no nesting, no NEXT out of it). */
static int walk_indirect(struct virtq *vq, struct virtq_elem *elem,
			 const struct desc *ind)
{
	volatile uint8_t *table;
	unsigned n, i, count = 0;
	struct desc d;

	if (!vq->indirect)
		return broken(vq, "indirect descriptor not negotiated");
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return broken(vq, "indirect descriptor with NEXT");
	if (!ind->len || ind->len % DESC_SIZE || ind->len / DESC_SIZE > VIRTQ_MAX_SIZE)
		return broken(vq, "bad indirect table length");
	n = ind->len / DESC_SIZE;
	table = gmem_ptr(vq->mem, ind->addr, ind->len);
	if (!table)
		return broken(vq, "indirect table outside guest RAM");
	i = 0;
	for (;;) {
		int ret;

		if (count++ == n)
			return broken(vq, "loop in an indirect table");
		read_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return broken(vq, "nested indirect descriptor");
		ret = add_seg(vq, elem, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= n)
			return broken(vq, "next index outside the indirect table");
	}
}

bool virtq_has_work(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	return load16(vq->avail + 2) != vq->last_avail;
}

int virtq_pop(struct virtq *vq, struct virtq_elem *elem)
{
	uint16_t avail_idx, head, n = vq->size;
	unsigned i, count = 0;
	struct desc d;

	if (!vq->ready || vq->broken)
		return vq->broken ? -EIO : 0;
	avail_idx = load16(vq->avail + 2);
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > n)
		return broken(vq, "available index moved by more than the queue size");
	head = load16(vq->avail + 4 + 2 * (vq->last_avail % n));
	if (head >= n)
		return broken(vq, "available ring entry outside the queue");
	vq->last_avail++;
	if (vq->event_idx) {
		/* Tell the driver to notify us when it goes past this entry. */
		store16(vq->used + 4 + 8 * (size_t)n, vq->last_avail);
		gmem_notify_write(vq->mem, vq->used_gpa + 4 + 8 * n, 2);
		/* ... before we next look at avail->idx (no lost notify). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	elem->head = head;
	elem->nout = elem->nin = 0;
	elem->out_len = elem->in_len = 0;
	i = head;
	for (;;) {
		int ret;

		if (count++ == n)
			return broken(vq, "loop in a descriptor chain");
		read_desc(vq->desc, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			ret = walk_indirect(vq, elem, &d);
			if (ret)
				return ret;
			return 1;
		}
		ret = add_seg(vq, elem, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		i = d.next;
		if (i >= n)
			return broken(vq, "next index outside the queue");
	}
}

void virtq_fill(struct virtq *vq, const struct virtq_elem *elem,
		uint32_t written, unsigned pos)
{
	uint16_t n = vq->size, slot;
	volatile uint8_t *e;
	uint32_t id = elem->head;
	unsigned i;
	size_t left = written;

	if (!vq->ready)
		return;
	/* The emulator must forget code decoded from what the device wrote. */
	for (i = elem->nout; i < elem->nout + elem->nin && left; i++) {
		size_t len = elem->seg[i].len < left ? elem->seg[i].len : left;

		gmem_notify_write(vq->mem, elem->seg[i].gpa, len);
		left -= len;
	}
	slot = (uint16_t)(vq->used_idx + pos) % n;
	e = vq->used + 4 + 8 * (size_t)slot;
	memcpy((uint8_t *)e, &id, 4);
	memcpy((uint8_t *)e + 4, &written, 4);
}

void virtq_flush(struct virtq *vq, unsigned count)
{
	if (!vq->ready)
		return;
	vq->used_idx += count;
	store16(vq->used + 2, vq->used_idx);
	gmem_notify_write(vq->mem, vq->used_gpa, used_bytes(vq->size));
}

void virtq_push(struct virtq *vq, const struct virtq_elem *elem,
		uint32_t written)
{
	virtq_fill(vq, elem, written, 0);
	virtq_flush(vq, 1);
}

void virtq_unpop(struct virtq *vq, unsigned count)
{
	vq->last_avail -= count;
	if (vq->ready && vq->event_idx) {
		store16(vq->used + 4 + 8 * (size_t)vq->size, vq->last_avail);
		gmem_notify_write(vq->mem, vq->used_gpa + 4 + 8 * vq->size, 2);
	}
}

/* virtio 1.x 2.7.10: has new_idx moved past event since old? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_valid;

	if (!vq->ready)
		return false;
	/* Order our used->idx store before reading the driver's flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new_idx;
	vq->signalled_valid = true;
	if (!vq->event_idx)
		return !(load16(vq->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	return need_event(load16(vq->avail + 4 + 2 * (size_t)vq->size),
			  new_idx, old);
}

size_t virtq_copy_from_out(const struct virtq_elem *elem, size_t skip,
			   void *buf, size_t len)
{
	size_t done = 0;
	unsigned i;

	for (i = 0; i < elem->nout && done < len; i++) {
		const struct virtq_seg *s = &elem->seg[i];
		size_t n;

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		n = s->len - skip < len - done ? s->len - skip : len - done;
		memcpy((uint8_t *)buf + done, s->hva + skip, n);
		done += n;
		skip = 0;
	}
	return done;
}

size_t virtq_copy_to_in(const struct virtq_elem *elem, size_t skip,
			const void *buf, size_t len)
{
	size_t done = 0;
	unsigned i;

	for (i = elem->nout; i < elem->nout + elem->nin && done < len; i++) {
		const struct virtq_seg *s = &elem->seg[i];
		size_t n;

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		n = s->len - skip < len - done ? s->len - skip : len - done;
		memcpy(s->hva + skip, (const uint8_t *)buf + done, n);
		done += n;
		skip = 0;
	}
	return done;
}
