/*
 * A guest programming nonsense into the standard VGA (run with a display
 * while viewers and screendumps render it): random bytes to random VGA
 * ports (0x3B0-0x3DF), random values to random Bochs VBE registers
 * (0x1CE/0x1CF: resolutions, depths, banks, offsets, enables) and random
 * bytes to random addresses of the legacy window 0xA0000-0xBFFFF, for
 * ITERATIONS rounds from a fixed xorshift seed; then "vga garbage done"
 * and debug-exit 0x21 (status 67).  Real mode only.
 */
#include "guest.h"

#define ITERATIONS 2000000

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	mov $0x2545f491, %ebx          /* xorshift32 state */
	mov $ITERATIONS, %ebp
round:
	call next
	mov %eax, %esi                 /* this round's random bits */
	mov %esi, %ecx
	and $3, %ecx
	jz vga_port
	dec %ecx
	jz vbe_reg
window:
	/* segment A000 or B000, any offset */
	mov %esi, %eax
	shr $2, %eax
	and $0x1000, %ax
	add $0xa000, %ax
	mov %ax, %es
	mov %esi, %edi
	shr $8, %edi
	mov %si, %ax
	shr $4, %ax
	test $0x100000, %esi
	jnz 1f
	movb %al, %es:(%di)            /* a write */
	jmp again
1:	movb %es:(%di), %al            /* or a read (latches) */
	jmp again
vga_port:
	mov %esi, %edx
	shr $8, %edx
	and $0x3f, %dx
	cmp $0x30, %dx
	jae again
	add $0x3b0, %dx
	mov %esi, %eax
	shr $16, %eax
	test $0x4, %esi
	jz 1f
	outb %al, %dx
	jmp again
1:	inb %dx, %al
	jmp again
vbe_reg:
	mov %esi, %eax
	shr $4, %eax
	and $0xf, %ax
	mov $0x1ce, %dx
	outw %ax, %dx
	mov %esi, %eax
	shr $16, %eax
	/* a third of the values small (resolutions a mode may accept) */
	test $0x300, %esi
	jnz 1f
	and $0x7ff, %ax
1:	mov $0x1cf, %dx
	outw %ax, %dx
again:
	dec %ebp
	jnz round
	puts16 msg_done
	debug_exit 0x21

/* xorshift32: ebx = next state, also in eax */
next:
	mov %ebx, %eax
	shl $13, %eax
	xor %eax, %ebx
	mov %ebx, %eax
	shr $17, %eax
	xor %eax, %ebx
	mov %ebx, %eax
	shl $5, %eax
	xor %eax, %ebx
	mov %ebx, %eax
	ret

	serial_routines
msg_done:	.asciz "vga garbage done\n"
