/*
 * Display benchmark guest (bench/display_vs_qemu.py): sets the Bochs VBE
 * mode 640x480x32 and scrolls for ever, as a terminal printing at full
 * speed does: every round moves the framebuffer up by 16 lines and draws
 * a new 16-line band at the bottom, in a colour of its own.  Says
 * "scrolling" once the mode is set.  Needs --vga std (QEMU: -device VGA).
 */
#include "guest.h"

#define VBE_INDEX 0x1ce
#define VBE_DATA  0x1cf
#define FB_ADDR   0x6000
#define FB_BASE   0xd0000000
#define LINE      (640 * 4)
#define BAND      (16 * LINE)
#define SCREEN    (480 * LINE)

.macro vbe_set reg, val
	mov $\reg, %ax
	mov $VBE_INDEX, %dx
	outw %ax, %dx
	mov $\val, %ax
	mov $VBE_DATA, %dx
	outw %ax, %dx
.endm

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	xor %bx, %bx
find:
	xor %cx, %cx
	call conf_read
	cmp $0x11111234, %eax
	je found
	inc %bx
	cmp $32, %bx
	jb find
	debug_exit 0x01
found:
	/* Place BAR0 as firmware would (QEMU leaves that to the firmware;
	 * wirt's own choice is moved): 0xD0000000, memory decoding on. */
	mov $0x10, %cx
	mov $FB_BASE, %eax
	call conf_write
	mov $0x04, %cx
	call conf_read
	or $0x3, %ax
	call conf_write
	movl $FB_BASE, FB_ADDR
	vbe_set 4, 0
	vbe_set 1, 640
	vbe_set 2, 480
	vbe_set 3, 32
	vbe_set 4, 0x41
	/* the attribute controller's palette-address-source bit: display on
	 * (QEMU shows a blank screen without it, as a real VGA does) */
	mov $0x3da, %dx
	inb %dx, %al
	mov $0x3c0, %dx
	mov $0x20, %al
	outb %al, %dx
	puts16 msg

	enter_pm32 pm
	cld
	mov $0x00203040, %ebx              /* the next band's colour */
scroll:
	mov FB_ADDR, %edi
	lea BAND(%edi), %esi
	mov $((SCREEN - BAND) / 4), %ecx
	rep movsl
	mov %ebx, %eax
	mov $(BAND / 4), %ecx
	rep stosl
	add $0x00051309, %ebx
	and $0x00ffffff, %ebx
	jmp scroll

	serial_routines
	pci_conf_routines
	flat_gdt
msg:	.asciz "scrolling\n"
