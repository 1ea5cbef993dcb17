/*
 * The standard VGA adapter (QEMU's "-device VGA": PCI 1234:1111, class
 * 0x030000): the VGA registers and the legacy window 0xA0000-0xBFFFF
 * (vga.c), the Bochs VBE interface on ports 0x1CE/0x1CF and in the MMIO
 * BAR (vga_vbe.c), and rendering the screen to a display surface
 * (vga_render.c).  Shared by those files only.
 *
 * VRAM is one host buffer: the linear framebuffer of BAR0 (guest RAM-like
 * memory, dirty pages tracked by the accelerator) and, in its first 256
 * KiB, the four VGA planes interleaved: plane p's byte at offset o is
 * vram[o * 4 + p].
 */
#ifndef WIRT_HW_VGA_H
#define WIRT_HW_VGA_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ui/display.h"

struct vm;
struct pci_device;

#define VGA_VRAM_SIZE     (16u << 20)     /* BAR0, as QEMU's default */
#define VGA_PLANE_SIZE    0x10000u        /* 64 KiB per plane */
#define VGA_LEGACY_BASE   0xa0000u
#define VGA_LEGACY_SIZE   0x20000u

/* Bochs VBE ("DISPI") registers. */
enum {
	VBE_INDEX_ID, VBE_INDEX_XRES, VBE_INDEX_YRES, VBE_INDEX_BPP,
	VBE_INDEX_ENABLE, VBE_INDEX_BANK, VBE_INDEX_VIRT_WIDTH,
	VBE_INDEX_VIRT_HEIGHT, VBE_INDEX_X_OFFSET, VBE_INDEX_Y_OFFSET,
	VBE_INDEX_VIDEO_MEMORY_64K, VBE_NREGS
};
#define VBE_ENABLED       0x01
#define VBE_GETCAPS       0x02
#define VBE_8BIT_DAC      0x20
#define VBE_LFB_ENABLED   0x40
#define VBE_NOCLEARMEM    0x80
#define VBE_MAX_XRES      2560
#define VBE_MAX_YRES      1600

struct vga {
	struct vm *vm;
	struct pci_device *pci;
	pthread_mutex_t lock;      /* every register and the render state */
	uint8_t *vram;
	int vram_region;           /* its guest-memory region (BAR0) */

	/* VGA registers (IBM VGA reference; index registers and arrays). */
	uint8_t misc;              /* miscellaneous output */
	uint8_t seq_index, seq[8];
	uint8_t gc_index, gc[16];
	uint8_t crtc_index, crtc[32];
	uint8_t ar_index, ar[32];
	bool ar_flip;              /* attribute controller: next write is data */
	uint8_t dac_read, dac_write, dac_sub, dac_state, dac_mask;
	uint8_t dac_cache[3];
	uint8_t palette[256 * 3];  /* 6-bit (or 8-bit with VBE_8BIT_DAC) */
	uint8_t feature, st01_toggle;
	uint32_t latch;            /* the four planes' bytes of the last read */

	uint16_t vbe_index, vbe[VBE_NREGS];
	uint32_t vbe_start;        /* byte offset of the visible screen */
	uint32_t vbe_line;         /* bytes per line (virtual width) */

	/*
	 * Rendering: full_redraw says registers or the legacy window
	 * changed (render every line again; comparing with the surface
	 * finds what really changed); the linear framebuffer's writes are
	 * found through the dirty-page log.
	 */
	bool full_redraw;
	uint64_t *dirty_pages;     /* scratch bitmap for the VRAM pages */
	uint32_t *line;            /* one rendered line */
	uint32_t last_start;       /* VBE start offset of the last frame */
};

/* vga.c: the VGA registers, reached from ports and the MMIO BAR. */
uint8_t vga_port_read(struct vga *v, uint16_t port);
void vga_port_write(struct vga *v, uint16_t port, uint8_t val);
void vga_regs_reset(struct vga *v);
/* The MMIO BAR's window on ports 0x3C0-0x3DF (takes the lock). */
uint8_t vga_mmio_port_read(struct vga *v, unsigned off);
void vga_mmio_port_write(struct vga *v, unsigned off, uint8_t val);

/* vga_vbe.c */
uint16_t vga_vbe_read(struct vga *v, unsigned index);
void vga_vbe_write(struct vga *v, unsigned index, uint16_t val);
bool vga_vbe_enabled(const struct vga *v);
void vga_vbe_reset(struct vga *v);
extern const struct io_ops vga_vbe_port_ops;
extern const struct io_ops vga_mmio_bar_ops;

/* vga_state.c: savevm and migration (struct device_hooks). */
struct vmstate_out;
struct vmstate_in;
#define VGA_STATE_VERSION 1
void vga_save(void *opaque, struct vmstate_out *o);
int vga_load(void *opaque, struct vmstate_in *in);

/* vga_render.c: the screen as XRGB pixels, only what changed redrawn. */
int vga_render(void *opaque, struct display_surface *s, struct display_rect *dirty);
/* The text on a text-mode screen, one line per row ('\n' ends each);
 * -ENOTSUP in a graphics mode.  len includes the NUL. */
int vga_text(void *opaque, char *buf, size_t len);

#endif
