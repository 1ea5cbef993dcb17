/*
 * The VGA's saved state (savevm, migration): its registers, palette and
 * VBE registers, and the VRAM as runs of pages that are not all zero.
 *
 *   misc, sequencer, graphics, CRTC and attribute registers with their
 *   indexes, the attribute flip-flop, the DAC's state and palette,
 *   feature control, status toggle, latch; the VBE index and registers;
 *   then VRAM runs: u32 first page, u32 pages, their bytes; 0 pages ends.
 *
 * The section can exceed what a reader buffers (a full VRAM is 16 MiB),
 * so it is read with vmstate_get_stream throughout.  VBE registers are
 * written back through vga_vbe_write, as the guest sets a mode, so a
 * damaged state cannot make the screen lie outside VRAM.
 */
#include "hw/vga.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "migration/vmstate.h"

#define PAGE 4096u

static const uint8_t zero_page[PAGE];

/* Registers in one fixed order, for save and load alike. */
#define REGS(X) \
	X(&v->misc, 1) X(&v->seq_index, 1) X(v->seq, sizeof(v->seq)) \
	X(&v->gc_index, 1) X(v->gc, sizeof(v->gc)) \
	X(&v->crtc_index, 1) X(v->crtc, sizeof(v->crtc)) \
	X(&v->ar_index, 1) X(v->ar, sizeof(v->ar)) \
	X(&v->dac_read, 1) X(&v->dac_write, 1) X(&v->dac_sub, 1) \
	X(&v->dac_state, 1) X(&v->dac_mask, 1) X(v->dac_cache, 3) \
	X(v->palette, sizeof(v->palette)) X(&v->feature, 1) X(&v->st01_toggle, 1)

void vga_save(void *opaque, struct vmstate_out *o)
{
	struct vga *v = opaque;
	uint32_t i, start;

	pthread_mutex_lock(&v->lock);
#define PUT(p, n) vmstate_put_bytes(o, p, n);
	REGS(PUT)
#undef PUT
	vmstate_put_bool(o, v->ar_flip);
	vmstate_put_u32(o, v->latch);
	vmstate_put_u16(o, v->vbe_index);
	vmstate_put_u8(o, VBE_NREGS);
	for (i = 0; i < VBE_NREGS; i++)
		vmstate_put_u16(o, v->vbe[i]);
	for (i = 0; i < VGA_VRAM_SIZE / PAGE;) {
		while (i < VGA_VRAM_SIZE / PAGE && !memcmp(v->vram + i * PAGE, zero_page, PAGE))
			i++;
		start = i;
		while (i < VGA_VRAM_SIZE / PAGE && memcmp(v->vram + i * PAGE, zero_page, PAGE))
			i++;
		if (i == start)
			break;
		vmstate_put_u32(o, start);
		vmstate_put_u32(o, i - start);
		vmstate_put_bytes(o, v->vram + start * PAGE, (i - start) * PAGE);
	}
	vmstate_put_u32(o, 0);
	vmstate_put_u32(o, 0);
	pthread_mutex_unlock(&v->lock);
}

/* The VBE registers as a guest sets a mode: off, the mode, then on. */
static void load_vbe(struct vga *v, const uint16_t *saved)
{
	static const unsigned order[] = {
		VBE_INDEX_ID, VBE_INDEX_XRES, VBE_INDEX_YRES, VBE_INDEX_BPP,
		VBE_INDEX_BANK, VBE_INDEX_ENABLE, VBE_INDEX_VIRT_WIDTH,
		VBE_INDEX_X_OFFSET, VBE_INDEX_Y_OFFSET,
	};

	vga_vbe_reset(v);
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		vga_vbe_write(v, order[i], saved[order[i]]);
}

static int load_vram(struct vga *v, struct vmstate_in *in)
{
	uint32_t first, n;

	memset(v->vram, 0, VGA_VRAM_SIZE);
	for (;;) {
		if (vmstate_get_stream(in, &first, 4) || vmstate_get_stream(in, &n, 4))
			return in->error;
		first = le32toh(first);
		n = le32toh(n);
		if (!n)
			return 0;
		if (first >= VGA_VRAM_SIZE / PAGE || n > VGA_VRAM_SIZE / PAGE - first)
			return vmstate_fail(in, -EINVAL, "the state is damaged: VRAM pages %u+%u lie outside its %u",
					    first, n, VGA_VRAM_SIZE / PAGE);
		if (vmstate_get_stream(in, v->vram + first * PAGE, (size_t)n * PAGE))
			return in->error;
	}
}

int vga_load(void *opaque, struct vmstate_in *in)
{
	struct vga *v = opaque;
	uint16_t vbe[VBE_NREGS] = { 0 }, w;
	uint32_t latch;
	uint8_t nregs, flip;

	pthread_mutex_lock(&v->lock);
#define GET(p, n) vmstate_get_stream(in, p, n);
	REGS(GET)
#undef GET
	vmstate_get_stream(in, &flip, 1);
	vmstate_get_stream(in, &latch, 4);
	vmstate_get_stream(in, &w, 2);
	vmstate_get_stream(in, &nregs, 1);
	for (unsigned i = 0; i < nregs && !in->error; i++) {
		uint16_t r;

		vmstate_get_stream(in, &r, 2);
		if (i < VBE_NREGS)
			vbe[i] = le16toh(r);
	}
	if (!in->error) {
		v->ar_flip = flip & 1;
		v->latch = le32toh(latch);
		v->vbe_index = le16toh(w);
		/* Indexes and DAC positions stay inside their arrays. */
		v->seq_index &= 7;
		v->gc_index &= 15;
		v->crtc_index &= 31;
		v->ar_index &= 63;
		v->dac_sub %= 3;
		load_vbe(v, vbe);
		load_vram(v, in);
	}
	if (!in->error && !in->buffered)
		vmstate_stream_done(in);
	v->full_redraw = true;
	pthread_mutex_unlock(&v->lock);
	return in->error;
}
