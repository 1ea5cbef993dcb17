/*
 * The standard VGA adapter: PCI device 1234:1111 (QEMU's "-device VGA",
 * what Debian's vgabios-stdvga.bin and Linux's bochs-drm drive), its
 * VGA registers (ports 0x3B0-0x3DF), the legacy memory window
 * 0xA0000-0xBFFFF with the VGA's plane logic (text mode at 0xB8000,
 * fonts in plane 2, planar and chain-4 graphics), VRAM in BAR0 and the
 * option ROM SeaBIOS runs.  Register semantics follow IBM's VGA
 * reference; the guest may write anything: every VRAM index is masked
 * to the planes' 256 KiB, so nothing reads or writes outside VRAM.
 */
#include "hw/vga.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/devices.h"
#include "hw/pci.h"
#include "util/file.h"
#include "util/log.h"
#include "vm/vm.h"

#define VGA_ROM_PATH "/usr/share/seabios/vgabios-stdvga.bin"

/* Sequencer, graphics controller and CRTC register numbers used here. */
#define SEQ_MAP_MASK   2
#define SEQ_MEM_MODE   4
#define SEQ_CHAIN4     0x08
#define SEQ_NO_ODDEVEN 0x04
#define GC_SET_RESET   0
#define GC_ENABLE_SR   1
#define GC_COLOR_CMP   2
#define GC_ROTATE      3
#define GC_READ_MAP    4
#define GC_MODE        5
#define GC_MISC        6
#define GC_DONT_CARE   7
#define GC_BIT_MASK    8

/* ---- registers ---- */

void vga_regs_reset(struct vga *v)
{
	memset(v->seq, 0, sizeof(v->seq));
	memset(v->gc, 0, sizeof(v->gc));
	memset(v->crtc, 0, sizeof(v->crtc));
	memset(v->ar, 0, sizeof(v->ar));
	v->misc = 0x01;	/* colour: CRTC at 0x3D4 */
	v->seq[SEQ_MAP_MASK] = 0x0f;
	v->gc[GC_BIT_MASK] = 0xff;
	v->gc[GC_MISC] = 0x0e;	/* text window at 0xB8000 */
	v->dac_mask = 0xff;
	v->ar_flip = false;
	v->full_redraw = true;
}

static bool crtc_port(const struct vga *v, uint16_t port)
{
	/* Mono (0x3Bx) or colour (0x3Dx) addresses, per misc bit 0. */
	return (port & 0xfff0) == ((v->misc & 1) ? 0x3d0 : 0x3b0);
}

uint8_t vga_port_read(struct vga *v, uint16_t port)
{
	uint8_t val = 0xff;

	if ((port & 0xfff0) != 0x3c0 && !crtc_port(v, port))
		return 0xff;
	switch (port) {
	case 0x3c0:
		return v->ar_index;
	case 0x3c1:
		return v->ar[v->ar_index & 0x1f];
	case 0x3c2:
		return 0x10;	/* input status 0: switch sense */
	case 0x3c4:
		return v->seq_index;
	case 0x3c5:
		return v->seq[v->seq_index & 7];
	case 0x3c6:
		return v->dac_mask;
	case 0x3c7:
		return v->dac_state;
	case 0x3c8:
		return v->dac_write;
	case 0x3c9:
		val = v->palette[v->dac_read * 3 + v->dac_sub];
		if (++v->dac_sub == 3) {
			v->dac_sub = 0;
			v->dac_read++;
		}
		return val;
	case 0x3ca:
		return v->feature;
	case 0x3cc:
		return v->misc;
	case 0x3ce:
		return v->gc_index;
	case 0x3cf:
		return v->gc[v->gc_index & 15];
	case 0x3b4: case 0x3d4:
		return v->crtc_index;
	case 0x3b5: case 0x3d5:
		return v->crtc[v->crtc_index & 31];
	case 0x3ba: case 0x3da:
		/* Input status 1: display enable and vertical retrace take
		 * turns, so a guest waiting for either sees it soon. */
		v->ar_flip = false;
		v->st01_toggle ^= 0x09;
		return v->st01_toggle;
	}
	return val;
}

void vga_port_write(struct vga *v, uint16_t port, uint8_t val)
{
	if ((port & 0xfff0) != 0x3c0 && !crtc_port(v, port))
		return;
	v->full_redraw = true;
	switch (port) {
	case 0x3c0:
		if (!v->ar_flip)
			v->ar_index = val & 0x3f;
		else if ((v->ar_index & 0x1f) < 0x15)
			v->ar[v->ar_index & 0x1f] = val;
		v->ar_flip = !v->ar_flip;
		break;
	case 0x3c2:
		v->misc = val;
		break;
	case 0x3c4:
		v->seq_index = val & 7;
		break;
	case 0x3c5:
		v->seq[v->seq_index & 7] = val;
		break;
	case 0x3c6:
		v->dac_mask = val;
		break;
	case 0x3c7:
		v->dac_read = val;
		v->dac_sub = 0;
		v->dac_state = 3;
		break;
	case 0x3c8:
		v->dac_write = val;
		v->dac_sub = 0;
		v->dac_state = 0;
		break;
	case 0x3c9:
		v->dac_cache[v->dac_sub++] = val;
		if (v->dac_sub == 3) {
			memcpy(&v->palette[v->dac_write * 3], v->dac_cache, 3);
			v->dac_sub = 0;
			v->dac_write++;
		}
		break;
	case 0x3ce:
		v->gc_index = val & 15;
		break;
	case 0x3cf:
		v->gc[v->gc_index & 15] = val;
		break;
	case 0x3b4: case 0x3d4:
		v->crtc_index = val & 31;
		break;
	case 0x3b5: case 0x3d5:
		/* Registers 0-7 are write-protected by bit 7 of 0x11, except
		 * the line compare's overflow bit 4 of register 7. */
		if ((v->crtc[0x11] & 0x80) && v->crtc_index <= 7) {
			if (v->crtc_index == 7)
				v->crtc[7] = (v->crtc[7] & ~0x10) | (val & 0x10);
			break;
		}
		v->crtc[v->crtc_index & 31] = val;
		break;
	case 0x3ba: case 0x3da:
		v->feature = val;
		break;
	}
}

static uint64_t ports_read(struct vga *v, uint16_t port, unsigned size)
{
	uint64_t val = 0;

	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < size; i++)
		val |= (uint64_t)vga_port_read(v, port + i) << (8 * i);
	pthread_mutex_unlock(&v->lock);
	return val;
}

static void ports_write(struct vga *v, uint16_t port, uint64_t val,
			unsigned size)
{
	pthread_mutex_lock(&v->lock);
	/* outw to an index port writes the index, then the data. */
	for (unsigned i = 0; i < size; i++)
		vga_port_write(v, port + i, val >> (8 * i));
	pthread_mutex_unlock(&v->lock);
}

/* Two ranges: 0x3B0-0x3BB and 0x3C0-0x3DF (0x3BC is LPT3's). */
static uint64_t ports_3b0_read(void *opaque, uint64_t off, unsigned size)
{
	return ports_read(opaque, 0x3b0 + off, size);
}

static void ports_3b0_write(void *opaque, uint64_t off, uint64_t val,
			    unsigned size)
{
	ports_write(opaque, 0x3b0 + off, val, size);
}

static uint64_t ports_3c0_read(void *opaque, uint64_t off, unsigned size)
{
	return ports_read(opaque, 0x3c0 + off, size);
}

static void ports_3c0_write(void *opaque, uint64_t off, uint64_t val,
			    unsigned size)
{
	ports_write(opaque, 0x3c0 + off, val, size);
}

static const struct io_ops vga_ports_3b0 = {
	.read = ports_3b0_read,
	.write = ports_3b0_write,
};

static const struct io_ops vga_ports_3c0 = {
	.read = ports_3c0_read,
	.write = ports_3c0_write,
};

/* The same registers in the MMIO BAR (vga_vbe.c): port 0x3C0 + off. */
uint8_t vga_mmio_port_read(struct vga *v, unsigned off)
{
	return ports_read(v, 0x3c0 + off, 1);
}

void vga_mmio_port_write(struct vga *v, unsigned off, uint8_t val)
{
	ports_write(v, 0x3c0 + off, val, 1);
}

/* ---- the legacy window ---- */

/*
 * Map an address in 0xA0000-0xBFFFF to its offset in the selected
 * window (graphics controller misc bits 3:2), or -1 outside it.
 */
static long window_offset(const struct vga *v, uint32_t off)
{
	static const uint32_t base[4] = { 0, 0, 0x10000, 0x18000 };
	static const uint32_t size[4] = { 0x20000, 0x10000, 0x8000, 0x8000 };
	unsigned map = (v->gc[GC_MISC] >> 2) & 3;

	if (off < base[map] || off - base[map] >= size[map])
		return -1;
	return off - base[map];
}

/* The VBE banked window: 64 KiB of VRAM at the bank's offset. */
static uint8_t *vbe_bank_byte(struct vga *v, uint32_t off)
{
	uint64_t at = (uint64_t)v->vbe[VBE_INDEX_BANK] * 0x10000 + (off & 0xffff);

	return at < VGA_VRAM_SIZE ? &v->vram[at] : NULL;
}

static uint8_t plane_byte(const struct vga *v, uint32_t offset, unsigned plane)
{
	return v->vram[((offset & (VGA_PLANE_SIZE - 1)) << 2) | (plane & 3)];
}

static uint8_t legacy_read(struct vga *v, uint32_t off)
{
	long o;
	uint8_t *b;

	if (vga_vbe_enabled(v)) {
		b = vbe_bank_byte(v, off);
		return b ? *b : 0xff;
	}
	o = window_offset(v, off);
	if (o < 0)
		return 0xff;
	if (v->seq[SEQ_MEM_MODE] & SEQ_CHAIN4)
		return v->vram[o & (4 * VGA_PLANE_SIZE - 1)];
	if (v->gc[GC_MODE] & 0x10) /* odd/even: A0 picks the plane */
		return plane_byte(v, o & ~1, (v->gc[GC_READ_MAP] & 2) | (o & 1));
	memcpy(&v->latch, &v->vram[(o & (VGA_PLANE_SIZE - 1)) << 2], 4);
	if (!(v->gc[GC_MODE] & 0x08))
		return plane_byte(v, o, v->gc[GC_READ_MAP]);
	/* Read mode 1: which pixels match the colour compare register. */
	{
		uint8_t res = 0xff;

		for (unsigned p = 0; p < 4; p++) {
			uint8_t want = (v->gc[GC_COLOR_CMP] >> p) & 1 ? 0xff : 0;
			uint8_t care = (v->gc[GC_DONT_CARE] >> p) & 1 ? 0xff : 0;

			res &= ~(((v->latch >> (8 * p)) ^ want) & care);
		}
		return res;
	}
}

/* Planar write: write modes 0-3 with set/reset, rotate, logic op and bit
 * mask, applied to the planes the map mask enables. */
static void planar_write(struct vga *v, uint32_t o, uint8_t val)
{
	unsigned mode = v->gc[GC_MODE] & 3, rot = v->gc[GC_ROTATE] & 7;
	uint8_t mask = v->gc[GC_BIT_MASK];
	uint8_t *dst = &v->vram[(o & (VGA_PLANE_SIZE - 1)) << 2];

	if (mode == 0 || mode == 3)
		val = (uint8_t)((val >> rot) | (val << ((8 - rot) & 7)));
	if (mode == 3) {
		mask &= val;
		mode = 4; /* set/reset colour, as below */
	}
	for (unsigned p = 0; p < 4; p++) {
		uint8_t latch = v->latch >> (8 * p), src;

		if (!((v->seq[SEQ_MAP_MASK] >> p) & 1))
			continue;
		if (mode == 1) {
			dst[p] = latch;
			continue;
		}
		if (mode == 2)
			src = (val >> p) & 1 ? 0xff : 0;
		else if (mode == 4 || ((v->gc[GC_ENABLE_SR] >> p) & 1))
			src = (v->gc[GC_SET_RESET] >> p) & 1 ? 0xff : 0;
		else
			src = val;
		switch ((v->gc[GC_ROTATE] >> 3) & 3) {
		case 1: src &= latch; break;
		case 2: src |= latch; break;
		case 3: src ^= latch; break;
		}
		dst[p] = (src & mask) | (latch & ~mask);
	}
}

static void legacy_write(struct vga *v, uint32_t off, uint8_t val)
{
	long o;
	uint8_t *b;

	if (vga_vbe_enabled(v)) {
		b = vbe_bank_byte(v, off);
		if (b)
			*b = val;
		v->full_redraw = true;
		return;
	}
	o = window_offset(v, off);
	if (o < 0)
		return;
	v->full_redraw = true;
	if (v->seq[SEQ_MEM_MODE] & SEQ_CHAIN4) {
		if ((v->seq[SEQ_MAP_MASK] >> (o & 3)) & 1)
			v->vram[o & (4 * VGA_PLANE_SIZE - 1)] = val;
		return;
	}
	if (v->gc[GC_MODE] & 0x10) {
		/* odd/even: even addresses to planes 0/2, odd to 1/3 */
		for (unsigned p = o & 1; p < 4; p += 2)
			if ((v->seq[SEQ_MAP_MASK] >> p) & 1)
				v->vram[((o & ~1 & (VGA_PLANE_SIZE - 1)) << 2) | p] = val;
		return;
	}
	planar_write(v, o, val);
}

static uint64_t legacy_mem_read(void *opaque, uint64_t off, unsigned size)
{
	struct vga *v = opaque;
	uint64_t val = 0;

	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < size; i++)
		val |= (uint64_t)legacy_read(v, off + i) << (8 * i);
	pthread_mutex_unlock(&v->lock);
	return val;
}

static void legacy_mem_write(void *opaque, uint64_t off, uint64_t val,
			     unsigned size)
{
	struct vga *v = opaque;

	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < size; i++)
		legacy_write(v, off + i, val >> (8 * i));
	pthread_mutex_unlock(&v->lock);
}

static const struct io_ops legacy_mem_ops = {
	.read = legacy_mem_read,
	.write = legacy_mem_write,
};

/* ---- the device ---- */

static const struct display_device_ops vga_display_ops = {
	.render = vga_render,
	.text = vga_text,
};

static void vga_reset(void *opaque)
{
	struct vga *v = opaque;

	pthread_mutex_lock(&v->lock);
	vga_regs_reset(v);
	vga_vbe_reset(v);
	memset(v->palette, 0, sizeof(v->palette));
	pthread_mutex_unlock(&v->lock);
}

static void vga_destroy(void *opaque)
{
	struct vga *v = opaque;

	display_destroy(v->vm->display);
	v->vm->display = NULL;
	free(v->dirty_pages);
	free(v->line);
	/* VRAM stays mapped: it is a guest-memory region until the end. */
}

static int vga_rom_load(struct pci_device *pci)
{
	void *rom;
	size_t size;
	int ret = file_read_all(VGA_ROM_PATH, 1 << 20, &rom, &size);

	if (ret) {
		log_error("VGA: cannot read its BIOS %s: %s (Debian package seabios)",
			  VGA_ROM_PATH, strerror(-ret));
		return ret;
	}
	return pci_rom_init(pci, rom, size);
}

int vga_create(struct vm *vm, bool with_rom)
{
	struct vga *v = calloc(1, sizeof(*v));
	struct device_hooks hooks = { .reset = vga_reset, .destroy = vga_destroy,
				      .opaque = v, .name = "vga",
				      .version = VGA_STATE_VERSION,
				      .save = vga_save, .load = vga_load };
	int ret;

	if (!v)
		return -ENOMEM;
	v->vm = vm;
	pthread_mutex_init(&v->lock, NULL);
	v->vram = mmap(NULL, VGA_VRAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	v->dirty_pages = calloc(VGA_VRAM_SIZE / 4096 / 64, sizeof(uint64_t));
	v->line = calloc(DISPLAY_MAX_WIDTH, sizeof(uint32_t));
	if (v->vram == MAP_FAILED || !v->dirty_pages || !v->line)
		return -ENOMEM;
	v->vram_region = gmem_add_device_ram(&vm->mem, "vga-vram", v->vram,
					     VGA_VRAM_SIZE);
	if (v->vram_region < 0)
		return v->vram_region;
	vga_regs_reset(v);
	vga_vbe_reset(v);

	v->pci = pci_device_new(vm, "vga", 0x1234, 0x1111, 0x030000, 2);
	if (!v->pci)
		return -ENOSPC;
	pci_bar_init_ram(v->pci, 0, VGA_VRAM_SIZE, v->vram_region);
	pci_bar_init(v->pci, 2, 4096, false, &vga_mmio_bar_ops, v);
	if (with_rom) {
		ret = vga_rom_load(v->pci);
		if (ret)
			return ret;
	}
	ret = bus_register(&vm->pio, 0x3b0, 12, &vga_ports_3b0, v, "vga");
	if (!ret)
		ret = bus_register(&vm->pio, 0x3c0, 32, &vga_ports_3c0, v, "vga");
	if (!ret)
		ret = bus_register(&vm->pio, 0x1ce, 3, &vga_vbe_port_ops, v, "vga-vbe");
	if (!ret)
		ret = bus_register(&vm->mmio, VGA_LEGACY_BASE, VGA_LEGACY_SIZE,
				   &legacy_mem_ops, v, "vga-window");
	if (ret) {
		log_error("VGA: its ports or window are taken: %s", strerror(-ret));
		return ret;
	}
	vm->display = display_create(&vga_display_ops, v);
	if (!vm->display)
		return -ENOMEM;
	i8042_connect_display(vm);
	vm_add_device(vm, &hooks);
	return pci_device_plug(v->pci);
}
