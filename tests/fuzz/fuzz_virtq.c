/*
 * libFuzzer target: the device side of a split virtqueue (hw/virtio/
 * virtq.c) on rings a hostile driver wrote.  The input's first four bytes
 * choose the queue (size, features, how requests are answered); the rest
 * is guest RAM from address 0, where the descriptor table (0x0), the
 * available ring (0x1000) and the used ring (0x2000) live.  Every request
 * taken must name only guest RAM, and copying through it must stay there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/virtio/virtq.h"
#include "vm/memory.h"

#define RAM_SIZE   GMEM_MIN_RAM
#define IMAGE_MAX  0xa0000  /* the input fills RAM below the legacy hole */
#define DESC_GPA   0x0000
#define AVAIL_GPA  0x1000
#define USED_GPA   0x2000
#define HDR_BYTES  4
#define MAX_POPS   64

#define F_INDIRECT  0x01
#define F_EVENT_IDX 0x02
#define F_FILL      0x04  /* answer through virtq_fill/virtq_flush */
#define F_UNPOP     0x08  /* give the first request back once */

static struct guest_memory gm;
static struct virtq_elem elem;
static uint8_t scratch[1 << 16];

/* Each segment is guest RAM (gmem_ptr is NULL for anything else) and the
 * totals add up. */
static void check_elem(const struct virtq_elem *e)
{
	size_t out = 0, in = 0;

	if (e->nout + e->nin > VIRTQ_MAX_SIZE)
		abort();
	for (unsigned i = 0; i < e->nout + e->nin; i++) {
		const struct virtq_seg *s = &e->seg[i];

		if (s->len && s->hva != gmem_ptr(&gm, s->gpa, s->len))
			abort();
		if (i < e->nout)
			out += s->len;
		else
			in += s->len;
	}
	if (out != e->out_len || in != e->in_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq vq;
	static int ready;
	uint8_t *ram;
	unsigned flags, written;
	size_t n;

	if (size < HDR_BYTES)
		return 0;
	if (!ready) {
		if (gmem_init(&gm, RAM_SIZE))
			abort();
		ready = 1;
	}
	/* Start from zeroed RAM: drop the pages the last input touched. */
	madvise(gm.ram_base, gm.ram_map_size, MADV_DONTNEED);
	ram = gmem_ptr_rw(&gm, 0, IMAGE_MAX);
	n = size - HDR_BYTES < IMAGE_MAX ? size - HDR_BYTES : IMAGE_MAX;
	memcpy(ram, data + HDR_BYTES, n);

	flags = data[1];
	written = data[2] | data[3] << 8;
	virtq_reset(&vq, &gm, 256);
	vq.size = 1u << (data[0] % 9);
	vq.desc_gpa = DESC_GPA;
	vq.avail_gpa = AVAIL_GPA;
	vq.used_gpa = USED_GPA;
	vq.indirect = flags & F_INDIRECT;
	vq.event_idx = flags & F_EVENT_IDX;
	if (virtq_enable(&vq))
		return 0;

	for (unsigned pops = 0; pops < MAX_POPS; pops++) {
		size_t want, got;
		uint32_t w;

		if (virtq_pop(&vq, &elem) <= 0)
			break;
		check_elem(&elem);
		want = elem.out_len < sizeof(scratch) ? elem.out_len : sizeof(scratch);
		got = virtq_copy_from_out(&elem, 0, scratch, sizeof(scratch));
		if (got != want)
			abort();
		want = elem.in_len < sizeof(scratch) ? elem.in_len : sizeof(scratch);
		if (virtq_copy_to_in(&elem, 0, scratch, want) != want)
			abort();
		if ((flags & F_UNPOP) && pops == 0) {
			virtq_unpop(&vq, 1);
			continue;
		}
		w = written < elem.in_len ? written : (uint32_t)elem.in_len;
		if (flags & F_FILL) {
			virtq_fill(&vq, &elem, w, 0);
			virtq_flush(&vq, 1);
		} else {
			virtq_push(&vq, &elem, w);
		}
		virtq_should_notify(&vq);
	}
	return 0;
}
