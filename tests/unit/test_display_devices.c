/*
 * The display's device pieces without a VM: Bochs VBE registers refusing
 * and clamping what does not fit in VRAM, the VGA text screen read from
 * the planes, the PS/2 keyboard's answers and scancode sets, the keysym
 * table, and the display's dirty rectangle.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/ps2_kbd.h"
#include "hw/ps2_mouse.h"
#include "hw/vga.h"
#include "ui/display.h"
#include "ui/keymap.h"

static struct vga *new_vga(void)
{
	struct vga *v = calloc(1, sizeof(*v));

	assert_non_null(v);
	v->vram = calloc(1, VGA_VRAM_SIZE);
	assert_non_null(v->vram);
	vga_regs_reset(v);
	vga_vbe_reset(v);
	return v;
}

static void free_vga(struct vga *v)
{
	free(v->vram);
	free(v);
}

static void set_mode(struct vga *v, unsigned x, unsigned y, unsigned bpp)
{
	vga_vbe_write(v, VBE_INDEX_ENABLE, 0);
	vga_vbe_write(v, VBE_INDEX_XRES, x);
	vga_vbe_write(v, VBE_INDEX_YRES, y);
	vga_vbe_write(v, VBE_INDEX_BPP, bpp);
	vga_vbe_write(v, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
}

static void test_vbe_refuses_and_clamps(void **state)
{
	struct vga *v = new_vga();

	assert_int_equal(vga_vbe_read(v, VBE_INDEX_VIDEO_MEMORY_64K), 256);
	set_mode(v, 4000, 100, 32);		/* too wide */
	assert_false(vga_vbe_enabled(v));
	set_mode(v, 640, 480, 12);		/* no such depth */
	assert_false(vga_vbe_enabled(v));
	set_mode(v, 0, 480, 32);
	assert_false(vga_vbe_enabled(v));
	set_mode(v, 1920, 1080, 32);
	assert_true(vga_vbe_enabled(v));
	assert_int_equal(v->vbe_line, 1920 * 4);
	/* Resolution changes while enabled are ignored. */
	vga_vbe_write(v, VBE_INDEX_XRES, 2560);
	assert_int_equal(vga_vbe_read(v, VBE_INDEX_XRES), 1920);
	/* A virtual width whose screen would not fit: back to the mode's. */
	vga_vbe_write(v, VBE_INDEX_VIRT_WIDTH, 0xffff);
	assert_int_equal(vga_vbe_read(v, VBE_INDEX_VIRT_WIDTH), 1920);
	/* Offsets past VRAM: the screen's last line ends inside it. */
	vga_vbe_write(v, VBE_INDEX_Y_OFFSET, 0xffff);
	vga_vbe_write(v, VBE_INDEX_X_OFFSET, 0xffff);
	assert_true(v->vbe_start + (uint64_t)v->vbe_line * 1080 <= VGA_VRAM_SIZE);
	/* A bank beyond VRAM is refused. */
	vga_vbe_write(v, VBE_INDEX_BANK, 256);
	assert_int_equal(vga_vbe_read(v, VBE_INDEX_BANK), 0);
	vga_vbe_write(v, VBE_INDEX_BANK, 255);
	assert_int_equal(vga_vbe_read(v, VBE_INDEX_BANK), 255);
	/* GETCAPS: the maxima. */
	vga_vbe_write(v, VBE_INDEX_ENABLE, VBE_GETCAPS);
	assert_int_equal(vga_vbe_read(v, VBE_INDEX_XRES), VBE_MAX_XRES);
	assert_int_equal(vga_vbe_read(v, VBE_INDEX_BPP), 32);
	free_vga(v);
}

/* An 80x25 text mode as the VGA BIOS programs it (the registers that
 * matter for the layout). */
static void text_mode(struct vga *v)
{
	v->crtc[1] = 79;		/* horizontal display end */
	v->crtc[9] = 15;		/* 16 scan lines a row */
	v->crtc[0x12] = 399 & 0xff;	/* vertical display end ... */
	v->crtc[7] = 0x02;		/* ... its bit 8 */
	v->crtc[0x13] = 40;		/* 80 characters a row */
	v->gc[6] = 0x0e;
	v->gc[5] = 0x10;
}

static void put_char(struct vga *v, unsigned cell, char c)
{
	v->vram[(cell * 2) << 2] = c;		/* plane 0 */
	v->vram[((cell * 2) << 2) | 1] = 0x07;	/* plane 1: attribute */
}

static void test_text_screen(void **state)
{
	struct vga *v = new_vga();
	char buf[81 * 25 + 1];

	text_mode(v);
	put_char(v, 0, 'w');
	put_char(v, 1, 'i');
	put_char(v, 80 + 79, '!');
	assert_int_equal(vga_text(v, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), 81 * 25);
	assert_memory_equal(buf, "wi  ", 4);
	assert_int_equal(buf[81 + 79], '!');
	/* A start address scrolls by one row. */
	v->crtc[0x0d] = 80;
	assert_int_equal(vga_text(v, buf, sizeof(buf)), 0);
	assert_int_equal(buf[79], '!');
	/* A graphics mode has no text. */
	v->gc[6] |= 1;
	assert_int_equal(vga_text(v, buf, sizeof(buf)), -ENOTSUP);
	free_vga(v);
}

static void expect_bytes(struct ps2_kbd *k, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ps2_kbd_read(k), want[i]);
	assert_int_equal(ps2_kbd_read(k), -1);
}

static void test_ps2_keyboard(void **state)
{
	struct ps2_kbd k;

	ps2_kbd_reset(&k);
	ps2_kbd_write(&k, 0xff, true);
	expect_bytes(&k, (const uint8_t[]){ 0xfa, 0xaa }, 2);
	ps2_kbd_write(&k, 0xf2, true);
	expect_bytes(&k, (const uint8_t[]){ 0xfa, 0xab, 0x41 }, 3);
	ps2_kbd_write(&k, 0xf2, false);
	expect_bytes(&k, (const uint8_t[]){ 0xfa, 0xab, 0x83 }, 3);
	ps2_kbd_write(&k, 0xf0, false);		/* which set? */
	ps2_kbd_write(&k, 0x00, false);
	expect_bytes(&k, (const uint8_t[]){ 0xfa, 0xfa, 0x02 }, 3);
	ps2_kbd_write(&k, 0x42, false);		/* not a command */
	expect_bytes(&k, (const uint8_t[]){ 0xfe }, 1);

	/* Translated: set 1; not: set 2 with F0 breaks and E0 kept. */
	ps2_kbd_key(&k, 0x1e, true, true);
	ps2_kbd_key(&k, 0x1e, false, true);
	expect_bytes(&k, (const uint8_t[]){ 0x1e, 0x9e }, 2);
	ps2_kbd_key(&k, 0xe048, false, false);
	expect_bytes(&k, (const uint8_t[]){ 0xe0, 0xf0, 0x75 }, 3);
	/* Nonsense codes are dropped. */
	ps2_kbd_key(&k, 0x7f, true, false);
	ps2_kbd_key(&k, 0x1234, true, true);
	expect_bytes(&k, NULL, 0);
	/* Disabled: no keys.  A full buffer loses keys, never overflows. */
	ps2_kbd_write(&k, 0xf5, true);
	expect_bytes(&k, (const uint8_t[]){ 0xfa }, 1);
	ps2_kbd_key(&k, 0x1e, true, true);
	expect_bytes(&k, NULL, 0);
	ps2_kbd_write(&k, 0xf4, true);
	ps2_kbd_read(&k);
	for (int i = 0; i < 100; i++)
		ps2_kbd_key(&k, 0xe048, true, false);
	assert_true(k.count <= PS2_KBD_QUEUE);
}

static void test_ps2_mouse(void **state)
{
	struct ps2_mouse m;

	ps2_mouse_reset(&m);
	ps2_mouse_move(&m, 5, 5, 1);		/* not reporting yet */
	assert_int_equal(ps2_mouse_read(&m), -1);
	ps2_mouse_write(&m, 0xf3);		/* sample rate 200 */
	ps2_mouse_write(&m, 200);
	ps2_mouse_write(&m, 0xe9);		/* status */
	/* ACKs of both bytes and of the request; buttons (left, from the
	 * move), resolution, rate */
	static const int status[] = { 0xfa, 0xfa, 0xfa, 0x01, 2, 200 };
	for (int i = 0; i < 6; i++)
		assert_int_equal(ps2_mouse_read(&m), status[i]);
	ps2_mouse_write(&m, 0xf4);
	assert_int_equal(ps2_mouse_read(&m), 0xfa);
	ps2_mouse_move(&m, -3, 2, 0);		/* left 3, down 2 */
	assert_int_equal(ps2_mouse_read(&m), 0x38);
	assert_int_equal(ps2_mouse_read(&m), 0xfd);
	assert_int_equal(ps2_mouse_read(&m), 0xfe);
	/* A huge move: whole packets only, the queue never overflows. */
	ps2_mouse_move(&m, 100000, -100000, 0);
	assert_int_equal(m.count % 3, 0);
	assert_true(m.count <= PS2_MOUSE_QUEUE);
	ps2_mouse_write(&m, 0x00);		/* not a command */
}

static void test_keymap(void **state)
{
	assert_int_equal(keysym_to_scancode('a'), 0x1e);
	assert_int_equal(keysym_to_scancode('A'), 0x1e);
	assert_int_equal(keysym_to_scancode('!'), 0x02);
	assert_int_equal(keysym_to_scancode(' '), 0x39);
	assert_int_equal(keysym_to_scancode(0xff0d), 0x1c);	/* Return */
	assert_int_equal(keysym_to_scancode(0xff52), 0xe048);	/* Up */
	assert_int_equal(keysym_to_scancode(0xffc9), 0x58);	/* F12 */
	assert_int_equal(keysym_to_scancode(0x20ac), 0);	/* EuroSign */
}

static void test_dirty_rect(void **state)
{
	struct display_rect r = { 0 };

	display_rect_add(&r, 10, 20, 0, 5);	/* empty: nothing */
	assert_int_equal(r.w, 0);
	display_rect_add(&r, 10, 20, 5, 5);
	display_rect_add(&r, 2, 30, 1, 1);
	assert_int_equal(r.x, 2);
	assert_int_equal(r.y, 20);
	assert_int_equal(r.w, 13);
	assert_int_equal(r.h, 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vbe_refuses_and_clamps),
		cmocka_unit_test(test_text_screen),
		cmocka_unit_test(test_ps2_keyboard),
		cmocka_unit_test(test_ps2_mouse),
		cmocka_unit_test(test_keymap),
		cmocka_unit_test(test_dirty_rect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
