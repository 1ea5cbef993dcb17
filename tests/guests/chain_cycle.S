/*
 * A loop of two translated blocks chained to each other (16 INCs, then
 * INC, DEC, JNZ back), run long enough that the instruction budget ends
 * the chain many times, at either block's entry.  A patched chain exit
 * leaves the guest RIP unstored: the entry the budget stops at must
 * store its own, or the loop goes on at the wrong block and the counts
 * below come out wrong.  Prints "ok chain cycle" or "FAIL chain cycle";
 * ends with 0x22 (status 69), or 0x23 (71) if the check failed.
 */
#include "guest.h"
#define LOOPS 20000

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	xor %eax, %eax
	xor %ebx, %ebx
	mov $LOOPS, %ecx
	jmp 1f
	.p2align 6
1:	.rept 16
	inc %eax
	.endr
	inc %ebx
	dec %ecx
	jnz 1b
	cmp $LOOPS * 16, %eax
	jne 2f
	cmp $LOOPS, %ebx
	jne 2f
	puts32 msg_ok
	debug_exit 0x22
2:	puts32 msg_fail
	debug_exit 0x23

msg_ok:		.asciz "ok chain cycle\n"
msg_fail:	.asciz "FAIL chain cycle\n"

	serial_routines
	flat_gdt
