/*
 * The Bochs VBE ("DISPI") interface of the standard VGA: an index port
 * 0x1CE and a data port 0x1CF (16-bit), and the same registers in the
 * MMIO BAR at 0x500 next to the VGA ports at 0x400, as QEMU's stdvga
 * offers them to Linux's bochs-drm.  It sets a linear framebuffer mode
 * of up to VBE_MAX_XRES x VBE_MAX_YRES at 8, 15, 16, 24 or 32 bits per
 * pixel.  Whatever the guest writes, the visible screen is made to fit
 * in VRAM: too large a mode is refused at enable time, odd strides and
 * offsets are clamped.
 */
#include "hw/vga.h"

#include <string.h>

#include "hw/bus.h"

#define VBE_ID_LATEST 0xb0c5
#define VBE_ID_FIRST  0xb0c0

bool vga_vbe_enabled(const struct vga *v)
{
	return v->vbe[VBE_INDEX_ENABLE] & VBE_ENABLED;
}

void vga_vbe_reset(struct vga *v)
{
	memset(v->vbe, 0, sizeof(v->vbe));
	v->vbe[VBE_INDEX_ID] = VBE_ID_LATEST;
	v->vbe[VBE_INDEX_VIDEO_MEMORY_64K] = VGA_VRAM_SIZE >> 16;
	v->vbe_index = 0;
	v->vbe_start = 0;
	v->vbe_line = 0;
	v->full_redraw = true;
}

static unsigned bytes_per_pixel(unsigned bpp)
{
	return (bpp + 7) / 8;
}

static bool bpp_valid(unsigned bpp)
{
	return bpp == 8 || bpp == 15 || bpp == 16 || bpp == 24 || bpp == 32;
}

/*
 * Recompute the stride and the start offset from the virtual width and
 * the offsets; keep the visible screen inside VRAM by clamping the
 * offsets (a virtual width that does not fit even one screen is grown
 * back to the mode's width, which fits: checked at enable).
 */
static void vbe_update_layout(struct vga *v)
{
	unsigned bpp = bytes_per_pixel(v->vbe[VBE_INDEX_BPP]);
	uint64_t xres = v->vbe[VBE_INDEX_XRES], yres = v->vbe[VBE_INDEX_YRES];
	uint64_t line, max_start, start;

	if (!vga_vbe_enabled(v) || !bpp)
		return;
	if (v->vbe[VBE_INDEX_VIRT_WIDTH] < xres)
		v->vbe[VBE_INDEX_VIRT_WIDTH] = xres;
	line = (uint64_t)v->vbe[VBE_INDEX_VIRT_WIDTH] * bpp;
	if (line * yres > VGA_VRAM_SIZE) {
		v->vbe[VBE_INDEX_VIRT_WIDTH] = xres;
		line = xres * bpp;
	}
	v->vbe[VBE_INDEX_VIRT_HEIGHT] = VGA_VRAM_SIZE / line > 0xffff ?
					 0xffff : VGA_VRAM_SIZE / line;
	if (v->vbe[VBE_INDEX_X_OFFSET] > v->vbe[VBE_INDEX_VIRT_WIDTH] - xres)
		v->vbe[VBE_INDEX_X_OFFSET] = v->vbe[VBE_INDEX_VIRT_WIDTH] - xres;
	start = (uint64_t)v->vbe[VBE_INDEX_Y_OFFSET] * line +
		(uint64_t)v->vbe[VBE_INDEX_X_OFFSET] * bpp;
	max_start = VGA_VRAM_SIZE - line * yres;
	if (start > max_start) {
		start = max_start - max_start % line;
		v->vbe[VBE_INDEX_Y_OFFSET] = start / line;
		v->vbe[VBE_INDEX_X_OFFSET] = 0;
	}
	v->vbe_line = line;
	v->vbe_start = start;
}

/* Enable the mode the registers describe, if it fits; else stay off. */
static void vbe_enable(struct vga *v, uint16_t val)
{
	unsigned bpp = v->vbe[VBE_INDEX_BPP];
	uint64_t xres = v->vbe[VBE_INDEX_XRES], yres = v->vbe[VBE_INDEX_YRES];

	if (!bpp_valid(bpp) || !xres || !yres || xres > VBE_MAX_XRES ||
	    yres > VBE_MAX_YRES ||
	    xres * yres * bytes_per_pixel(bpp) > VGA_VRAM_SIZE) {
		/* A mode the adapter cannot show: refused. */
		v->vbe[VBE_INDEX_ENABLE] = val & ~VBE_ENABLED;
		return;
	}
	if (!vga_vbe_enabled(v)) {
		v->vbe[VBE_INDEX_VIRT_WIDTH] = xres;
		v->vbe[VBE_INDEX_X_OFFSET] = 0;
		v->vbe[VBE_INDEX_Y_OFFSET] = 0;
		v->vbe[VBE_INDEX_BANK] = 0;
		if (!(val & VBE_NOCLEARMEM))
			memset(v->vram, 0, xres * yres * bytes_per_pixel(bpp));
	}
	v->vbe[VBE_INDEX_ENABLE] = val;
	vbe_update_layout(v);
}

uint16_t vga_vbe_read(struct vga *v, unsigned index)
{
	if (index >= VBE_NREGS)
		return 0;
	/* With GETCAPS set, the resolution and depth read as the maxima. */
	if (v->vbe[VBE_INDEX_ENABLE] & VBE_GETCAPS) {
		if (index == VBE_INDEX_XRES)
			return VBE_MAX_XRES;
		if (index == VBE_INDEX_YRES)
			return VBE_MAX_YRES;
		if (index == VBE_INDEX_BPP)
			return 32;
	}
	return v->vbe[index];
}

void vga_vbe_write(struct vga *v, unsigned index, uint16_t val)
{
	v->full_redraw = true;
	switch (index) {
	case VBE_INDEX_ID:
		if (val >= VBE_ID_FIRST && val <= VBE_ID_LATEST)
			v->vbe[index] = val;
		break;
	case VBE_INDEX_XRES:
	case VBE_INDEX_YRES:
	case VBE_INDEX_BPP:
		/* Only while off (a mode change is disable, set, enable). */
		if (!vga_vbe_enabled(v))
			v->vbe[index] = val;
		break;
	case VBE_INDEX_ENABLE:
		if (val & VBE_ENABLED)
			vbe_enable(v, val);
		else
			v->vbe[index] = val;
		break;
	case VBE_INDEX_BANK:
		if ((uint64_t)val * 0x10000 < VGA_VRAM_SIZE)
			v->vbe[index] = val;
		break;
	case VBE_INDEX_VIRT_WIDTH:
	case VBE_INDEX_X_OFFSET:
	case VBE_INDEX_Y_OFFSET:
		v->vbe[index] = val;
		vbe_update_layout(v);
		break;
	default:
		break;	/* read-only: virtual height, memory size */
	}
}

/* Ports 0x1CE (index), 0x1CF and 0x1D0 (data). */
static uint64_t vbe_port_read(void *opaque, uint64_t off, unsigned size)
{
	struct vga *v = opaque;
	uint16_t val;

	pthread_mutex_lock(&v->lock);
	val = off == 0 ? v->vbe_index : vga_vbe_read(v, v->vbe_index);
	pthread_mutex_unlock(&v->lock);
	return size == 1 ? (off == 1 ? val >> 8 : val & 0xff) : val;
}

static void vbe_port_write(void *opaque, uint64_t off, uint64_t val,
			   unsigned size)
{
	struct vga *v = opaque;

	/* The registers are 16 bits; byte writes are not meaningful. */
	if (size != 2)
		return;
	pthread_mutex_lock(&v->lock);
	if (off == 0)
		v->vbe_index = val;
	else
		vga_vbe_write(v, v->vbe_index, val);
	pthread_mutex_unlock(&v->lock);
}

const struct io_ops vga_vbe_port_ops = {
	.read = vbe_port_read,
	.write = vbe_port_write,
};

/*
 * The MMIO BAR (4 KiB): VGA ports 0x3C0-0x3DF at 0x400 (byte wide), VBE
 * registers at 0x500 (16-bit, index * 2).  The rest reads as zero:
 * at 0x600 that says "no QEMU extended registers" to bochs-drm.
 */
#define MMIO_VGA_PORTS 0x400
#define MMIO_VBE       0x500

static uint64_t mmio_bar_read(void *opaque, uint64_t off, unsigned size)
{
	struct vga *v = opaque;
	uint64_t val = 0;
	uint16_t r;

	if (off >= MMIO_VGA_PORTS && off + size <= MMIO_VGA_PORTS + 0x20) {
		for (unsigned i = 0; i < size; i++)
			val |= (uint64_t)vga_mmio_port_read(v, off - MMIO_VGA_PORTS + i)
			       << (8 * i);
		return val;
	}
	if (off >= MMIO_VBE && off < MMIO_VBE + 2 * VBE_NREGS && !(off & 1) &&
	    size == 2) {
		pthread_mutex_lock(&v->lock);
		r = vga_vbe_read(v, (off - MMIO_VBE) / 2);
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	return 0;
}

static void mmio_bar_write(void *opaque, uint64_t off, uint64_t val,
			   unsigned size)
{
	struct vga *v = opaque;

	if (off >= MMIO_VGA_PORTS && off + size <= MMIO_VGA_PORTS + 0x20) {
		for (unsigned i = 0; i < size; i++)
			vga_mmio_port_write(v, off - MMIO_VGA_PORTS + i, val >> (8 * i));
		return;
	}
	if (off >= MMIO_VBE && off < MMIO_VBE + 2 * VBE_NREGS && !(off & 1) &&
	    size == 2) {
		pthread_mutex_lock(&v->lock);
		vga_vbe_write(v, (off - MMIO_VBE) / 2, val);
		pthread_mutex_unlock(&v->lock);
	}
}

const struct io_ops vga_mmio_bar_ops = {
	.read = mmio_bar_read,
	.write = mmio_bar_write,
};
