/*
 * The VGA's screen as XRGB pixels: text modes (glyphs from the font the
 * VGA BIOS loaded into plane 2, colours through the attribute controller
 * and the DAC), the 16-colour planar and 256-colour graphics modes, and
 * VBE linear framebuffer modes of 8 to 32 bits per pixel.
 *
 * Each line is rendered into a line buffer and compared with the
 * surface, so the dirty rectangle covers only pixels that changed.  In
 * VBE modes only the lines in VRAM pages the guest wrote (the
 * accelerator's dirty log) are rendered again: an idle screen costs a
 * bitmap fetch.
 */
#include "hw/vga.h"

#include <errno.h>
#include <string.h>

#include "vm/vm.h"

/* Geometry of the current VGA (non-VBE) mode, from the CRTC. */
struct vga_geom {
	bool text;
	unsigned cols, rows, cwidth, cheight; /* text */
	unsigned width, height;
	unsigned start, line;                 /* in planar offsets / bytes */
};

static uint32_t dac_colour(const struct vga *v, unsigned index)
{
	const uint8_t *p = &v->palette[(index & 0xff) * 3];

	if (v->vbe[VBE_INDEX_ENABLE] & VBE_8BIT_DAC)
		return (uint32_t)p[0] << 16 | p[1] << 8 | p[2];
	/* 6-bit DAC values scaled to 8 bits */
#define S(c) ((((c) & 0x3f) << 2) | (((c) & 0x3f) >> 4))
	return (uint32_t)S(p[0]) << 16 | S(p[1]) << 8 | S(p[2]);
#undef S
}

/* A 4-bit colour through the attribute controller's palette to the DAC. */
static uint32_t ar_colour(const struct vga *v, unsigned c)
{
	unsigned idx = v->ar[c & 15] & 0x3f;

	if (v->ar[0x10] & 0x80)	/* P5/P4 from the colour select register */
		idx = (idx & 0x0f) | ((v->ar[0x14] & 3) << 4);
	idx |= (v->ar[0x14] & 0x0c) << 4;
	return dac_colour(v, idx);
}

static uint8_t plane(const struct vga *v, uint32_t offset, unsigned p)
{
	return v->vram[((offset & (VGA_PLANE_SIZE - 1)) << 2) | p];
}

static void vga_geometry(const struct vga *v, struct vga_geom *g)
{
	unsigned vde = v->crtc[0x12] | (v->crtc[7] & 0x02) << 7 |
		       (v->crtc[7] & 0x40) << 3;
	unsigned scan = (v->crtc[9] & 0x1f) + 1;

	memset(g, 0, sizeof(*g));
	g->text = !(v->gc[6] & 1);
	g->start = v->crtc[0x0c] << 8 | v->crtc[0x0d];
	if (g->text) {
		g->cols = v->crtc[1] + 1;
		g->cheight = scan;
		g->cwidth = (v->seq[1] & 1) ? 8 : 9;
		g->rows = (vde + 1) / g->cheight;
		g->width = g->cols * g->cwidth;
		g->height = g->rows * g->cheight;
		g->line = v->crtc[0x13] * 2;	/* characters per row */
		return;
	}
	g->height = (vde + 1) / (v->crtc[9] & 0x80 ? 2 : 1) / scan;
	if (v->gc[5] & 0x40) {		/* 256 colours: 4 pixels a clock */
		g->width = (v->crtc[1] + 1) * 4;
		g->line = v->crtc[0x13] * 8;
		g->start *= 4;
	} else {
		g->width = (v->crtc[1] + 1) * 8;
		g->line = v->crtc[0x13] * 2;
	}
}

/* ---- text ---- */

/* Plane 2 offset of the character map selected for attribute bit 3. */
static unsigned font_base(const struct vga *v, bool map_a)
{
	static const unsigned off[8] = { 0x0000, 0x4000, 0x8000, 0xc000,
					 0x2000, 0x6000, 0xa000, 0xe000 };
	uint8_t sel = v->seq[3];
	unsigned n = map_a ? ((sel >> 5) & 1) << 2 | ((sel >> 2) & 3)
			   : ((sel >> 4) & 1) << 2 | (sel & 3);

	return off[n];
}

static void text_line(const struct vga *v, const struct vga_geom *g,
		      unsigned y, uint32_t *out)
{
	unsigned row = y / g->cheight, l = y % g->cheight;
	unsigned cursor = v->crtc[0x0e] << 8 | v->crtc[0x0f];
	bool cursor_on = !(v->crtc[0x0a] & 0x20);
	unsigned cur_first = v->crtc[0x0a] & 0x1f, cur_last = v->crtc[0x0b] & 0x1f;

	for (unsigned col = 0; col < g->cols; col++) {
		unsigned cell = (g->start + row * g->line + col) & 0xffff;
		uint8_t ch = plane(v, cell * 2, 0), attr = plane(v, cell * 2, 1);
		unsigned fg = attr & 15, bg = attr >> 4;
		uint8_t bits;
		uint32_t fgc, bgc;

		if (v->ar[0x10] & 0x08)	/* bit 7 blinks instead of bright bg */
			bg &= 7;
		bits = l < 32 ? plane(v, font_base(v, attr & 8) + ch * 32 + l, 2) : 0;
		if (cursor_on && cell == cursor && l >= cur_first && l <= cur_last)
			bits = 0xff;
		fgc = ar_colour(v, fg);
		bgc = ar_colour(v, bg);
		for (unsigned b = 0; b < 8; b++)
			*out++ = (bits & (0x80 >> b)) ? fgc : bgc;
		if (g->cwidth == 9)	/* line graphics repeat the 8th column */
			*out++ = ((v->ar[0x10] & 0x04) && ch >= 0xc0 && ch <= 0xdf &&
				  (bits & 1)) ? fgc : bgc;
	}
}

/* ---- VGA graphics ---- */

static void graphics_line(const struct vga *v, const struct vga_geom *g,
			  unsigned y, uint32_t *out)
{
	if (v->gc[5] & 0x40) {
		uint32_t base = g->start + y * g->line;

		for (unsigned x = 0; x < g->width; x++) {
			uint32_t o = (base + x) & (4 * VGA_PLANE_SIZE - 1);

			out[x] = dac_colour(v, v->vram[o]);
		}
		return;
	}
	for (unsigned x = 0; x < g->width; x++) {
		uint32_t o = g->start + y * g->line + x / 8;
		unsigned bit = 7 - (x & 7), c = 0;

		for (unsigned p = 0; p < 4; p++)
			c |= ((plane(v, o, p) >> bit) & 1) << p;
		out[x] = ar_colour(v, c & v->ar[0x12]);
	}
}

/* ---- VBE ---- */

static void vbe_line(const struct vga *v, unsigned y, uint32_t *out)
{
	unsigned w = v->vbe[VBE_INDEX_XRES], bpp = v->vbe[VBE_INDEX_BPP];
	const uint8_t *src = v->vram + v->vbe_start + (size_t)y * v->vbe_line;

	/* vbe_update_layout keeps start + yres lines inside VRAM. */
	for (unsigned x = 0; x < w; x++) {
		uint32_t p;

		switch (bpp) {
		case 8:
			out[x] = dac_colour(v, src[x]);
			break;
		case 15:
			p = src[2 * x] | src[2 * x + 1] << 8;
			out[x] = ((p >> 10) & 31) << 19 | ((p >> 5) & 31) << 11 |
				 (p & 31) << 3;
			break;
		case 16:
			p = src[2 * x] | src[2 * x + 1] << 8;
			out[x] = ((p >> 11) & 31) << 19 | ((p >> 5) & 63) << 10 |
				 (p & 31) << 3;
			break;
		case 24:
			out[x] = src[3 * x + 2] << 16 | src[3 * x + 1] << 8 | src[3 * x];
			break;
		default:
			memcpy(&p, src + 4 * x, 4);
			out[x] = p & 0xffffff;
			break;
		}
	}
}

/* Is any VRAM page of line y dirty? */
static bool vbe_line_dirty(const struct vga *v, unsigned y)
{
	uint64_t first = v->vbe_start + (uint64_t)y * v->vbe_line;
	uint64_t last = first + v->vbe_line - 1;

	for (uint64_t pg = first >> 12; pg <= last >> 12; pg++)
		if (v->dirty_pages[pg / 64] & (1ULL << (pg % 64)))
			return true;
	return false;
}

/* ---- the frame ---- */

/* Copy a rendered line into the surface where it differs. */
static void put_line(struct display_surface *s, unsigned y, const uint32_t *line,
		     unsigned w, struct display_rect *dirty)
{
	uint32_t *dst = s->pixels + (size_t)y * s->stride;
	unsigned first = 0, last = w;

	while (first < w && dst[first] == line[first])
		first++;
	if (first == w)
		return;
	while (last > first && dst[last - 1] == line[last - 1])
		last--;
	memcpy(dst + first, line + first, (last - first) * sizeof(*line));
	display_rect_add(dirty, first, y, last - first, 1);
}

static int render_vbe(struct vga *v, struct display_surface *s,
		      struct display_rect *dirty, bool all)
{
	unsigned w = v->vbe[VBE_INDEX_XRES], h = v->vbe[VBE_INDEX_YRES];
	int ret = display_surface_ensure(s, w, h, dirty);

	if (ret)
		return ret;
	/* Fetched even when redrawing all: that starts the log over. */
	gmem_fetch_dirty(&v->vm->mem, v->vram_region, v->dirty_pages);
	if (v->last_start != v->vbe_start)
		all = true;
	v->last_start = v->vbe_start;
	for (unsigned y = 0; y < h; y++) {
		if (!all && !vbe_line_dirty(v, y))
			continue;
		vbe_line(v, y, v->line);
		put_line(s, y, v->line, w, dirty);
	}
	return 0;
}

int vga_render(void *opaque, struct display_surface *s, struct display_rect *dirty)
{
	struct vga *v = opaque;
	struct vga_geom g;
	bool all;
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	all = v->full_redraw;
	v->full_redraw = false;
	if (vga_vbe_enabled(v)) {
		ret = render_vbe(v, s, dirty, all);
		goto out;
	}
	if (!all)
		goto out;
	vga_geometry(v, &g);
	/* Registers not (yet) describing a screen: show a black one. */
	if (g.width < 8 || g.height < 8 || g.width > DISPLAY_MAX_WIDTH ||
	    g.height > DISPLAY_MAX_HEIGHT || (v->seq[1] & 0x20)) {
		ret = display_surface_ensure(s, s->width, s->height, dirty);
		memset(v->line, 0, s->width * sizeof(*v->line));
		for (unsigned y = 0; y < s->height; y++)
			put_line(s, y, v->line, s->width, dirty);
		goto out;
	}
	ret = display_surface_ensure(s, g.width, g.height, dirty);
	if (ret)
		goto out;
	for (unsigned y = 0; y < g.height; y++) {
		if (g.text)
			text_line(v, &g, y, v->line);
		else
			graphics_line(v, &g, y, v->line);
		put_line(s, y, v->line, g.width, dirty);
	}
out:
	pthread_mutex_unlock(&v->lock);
	return ret;
}

/* Code page 437 to ASCII, for the text: letters, digits and punctuation
 * as they are, anything else a space. */
static char text_char(uint8_t ch)
{
	return ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
}

int vga_text(void *opaque, char *buf, size_t len)
{
	struct vga *v = opaque;
	struct vga_geom g;
	size_t at = 0;
	int ret = 0;

	if (!len)
		return -EINVAL;
	pthread_mutex_lock(&v->lock);
	vga_geometry(v, &g);
	if (vga_vbe_enabled(v) || !g.text || g.cols < 2 || !g.rows) {
		ret = -ENOTSUP;
		goto out;
	}
	for (unsigned row = 0; row < g.rows && at + g.cols + 1 < len; row++) {
		for (unsigned col = 0; col < g.cols; col++) {
			unsigned cell = (g.start + row * g.line + col) & 0xffff;

			buf[at++] = text_char(plane(v, cell * 2, 0));
		}
		buf[at++] = '\n';
	}
out:
	buf[at] = '\0';
	pthread_mutex_unlock(&v->lock);
	return ret;
}
