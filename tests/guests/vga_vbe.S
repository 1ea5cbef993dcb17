/*
 * The standard VGA's Bochs VBE interface (run with --vga std): find the
 * adapter (1234:1111) on PCI and its framebuffer BAR0; check that modes
 * the adapter cannot show are refused (too wide, too tall, a bad depth) and that a Y offset beyond VRAM is clamped; then set 64x48x32,
 * draw in the linear framebuffer from 32-bit protected mode (top half
 * red, bottom half blue, one green pixel at 10,5) and say "drawn".  The
 * test takes a screendump then and sends a byte on COM1, on which the
 * guest draws a white pixel at 63,47 and says "again"; then it halts.
 */
#include "guest.h"

#define VBE_INDEX 0x1ce
#define VBE_DATA  0x1cf
#define FB_ADDR   0x6000          /* where BAR0's address is kept */

/* VBE register \reg = \val (16-bit). */
.macro vbe_set reg, val
	mov $\reg, %ax
	mov $VBE_INDEX, %dx
	outw %ax, %dx
	mov $\val, %ax
	mov $VBE_DATA, %dx
	outw %ax, %dx
.endm

/* Print VBE register \reg as "name XXXX\n". */
.macro vbe_show reg, label
	puts16 \label
	mov $\reg, %ax
	mov $VBE_INDEX, %dx
	outw %ax, %dx
	mov $VBE_DATA, %dx
	inw %dx, %ax
	call puthex16
	mov $'\n', %al
	call putc16
.endm

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack

	/* the adapter: the first slot with 1234:1111 */
	xor %bx, %bx
find:
	xor %cx, %cx
	call conf_read
	cmp $0x11111234, %eax
	je found
	inc %bx
	cmp $32, %bx
	jb find
	puts16 msg_none
	debug_exit 0x01
found:
	mov $0x10, %cx
	call conf_read
	and $0xfffffff0, %eax
	mov %eax, FB_ADDR
	puts16 msg_found

	vbe_show 0, msg_id
	vbe_show 10, msg_mem

	/* too wide: refused, ENABLE reads back without bit 0 */
	vbe_set 4, 0
	vbe_set 1, 4000
	vbe_set 2, 100
	vbe_set 3, 32
	vbe_set 4, 0x41
	vbe_show 4, msg_wide
	/* too tall */
	vbe_set 1, 640
	vbe_set 2, 1601
	vbe_set 3, 32
	vbe_set 4, 0x41
	vbe_show 4, msg_tall
	/* a depth that does not exist */
	vbe_set 1, 64
	vbe_set 2, 48
	vbe_set 3, 12
	vbe_set 4, 0x41
	vbe_show 4, msg_depth
	/* the mode we draw in, and a Y offset past the end of VRAM */
	vbe_set 3, 32
	vbe_set 4, 0xc1                 /* enabled, LFB, keep memory */
	vbe_show 4, msg_on
	vbe_set 9, 0xffff
	vbe_show 9, msg_yoff
	vbe_set 9, 0
	vbe_show 1, msg_xres

	enter_pm32 pm
	mov FB_ADDR, %edi
	/* top half red, bottom half blue */
	mov $0x00ff0000, %eax
	mov $(64 * 24), %ecx
	rep stosl
	mov $0x000000ff, %eax
	mov $(64 * 24), %ecx
	rep stosl
	/* a green pixel at (10, 5) */
	mov FB_ADDR, %edi
	movl $0x0000ff00, (5 * 64 + 10) * 4(%edi)
	puts32 msg_drawn
	/* a byte on COM1 (the test's, after its first screendump): draw a
	 * white pixel at (63, 47), which only the dirty-page log shows */
	mov $COM1_LSR, %dx
2:	inb %dx, %al
	test $1, %al
	jz 2b
	mov FB_ADDR, %edi
	movl $0x00ffffff, (47 * 64 + 63) * 4(%edi)
	puts32 msg_again
1:	cli
	hlt
	jmp 1b

	serial_routines
	hex16_routines
	pci_conf_routines
	flat_gdt
msg_none:	.asciz "no VGA\n"
msg_found:	.asciz "found\n"
msg_id:		.asciz "id "
msg_mem:	.asciz "vram64k "
msg_wide:	.asciz "wide "
msg_tall:	.asciz "tall "
msg_depth:	.asciz "depth "
msg_on:		.asciz "on "
msg_yoff:	.asciz "yoff "
msg_xres:	.asciz "xres "
msg_drawn:	.asciz "drawn\n"
msg_again:	.asciz "again\n"
