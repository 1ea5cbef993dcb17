/*
 * CALL, RET, PUSH and POP in 32-bit code with a stack segment that is
 * not flat, which the translator's inline stack accesses must honour (or
 * leave to the interpreter's handlers):
 * - ss_base: SS based at 0x10000 (ESP 0x1000), while linear page 0,
 *   where ESP alone points, is in the TLB;
 * - ss_16bit: a 16-bit stack (SS.B clear, limit 4 GiB) with ESP
 *   0x00010100: SP wraps at 64 KiB and ESP's upper half stays, while the
 *   page ESP alone would address is in the TLB.
 * Each calls a function that pushes and pops JUMPS times (blocks are
 * translated on their second entry) and checks the bytes the stack got
 * through a flat DS.  Prints "ok <name>" or "FAIL <name>"; ends with 0x22
 * (status 69), or 0x23 (71) if a check failed.
 */
#include "guest.h"
#define JUMPS 6
#define FAILS 0x600

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	movl $0, FAILS

	/* ---- ss_base ---- */
	movl $0, 0xff8			/* linear page 0 in the TLB */
	mov $0x20, %ax
	mov %ax, %ss
	mov $0x1000, %esp
	mov $JUMPS, %edi
1:	mov $0x11223344, %eax
	call func
ret_base:
	cmp $0x11223345, %eax
	jne 2f
	cmp $0x1000, %esp
	jne 2f
	dec %edi
	jnz 1b
	/* the stack's bytes: at 0x10ffc the return address, at 0x10ff8 the
	 * pushed EAX; nothing at 0xff8 and 0xffc */
	cmpl $LIN(ret_base), 0x10ffc
	jne 2f
	cmpl $0x11223344, 0x10ff8
	jne 2f
	cmpl $0, 0xff8
	jne 2f
	cmpl $0, 0xffc
	jne 2f
	mov $0x10, %ax
	mov %ax, %ss
	mov $0x7000, %esp
	puts32 msg_ok_base
	jmp 3f
2:	mov $0x10, %ax
	mov %ax, %ss
	mov $0x7000, %esp
	incl FAILS
	puts32 msg_fail_base
3:
	/* ---- ss_16bit ---- */
	movl $0, 0x300f8		/* the page of 0x20000 + ESP in the TLB */
	mov $0x28, %ax
	mov %ax, %ss
	mov $0x00010100, %esp
	mov $JUMPS, %edi
1:	mov $0x55667788, %eax
	call func16
ret_16:
	cmp $0x55667789, %eax
	jne 2f
	cmp $0x00010100, %esp
	jne 2f
	dec %edi
	jnz 1b
	cmpl $LIN(ret_16), 0x200fc
	jne 2f
	cmpl $0x55667788, 0x200f8
	jne 2f
	cmpl $0, 0x300f8
	jne 2f
	cmpl $0, 0x300fc
	jne 2f
	mov $0x10, %ax
	mov %ax, %ss
	mov $0x7000, %esp
	puts32 msg_ok_16
	jmp 3f
2:	mov $0x10, %ax
	mov %ax, %ss
	mov $0x7000, %esp
	incl FAILS
	puts32 msg_fail_16
3:	cmpl $0, FAILS
	jne 4f
	debug_exit 0x22
4:	debug_exit 0x23

/* EAX + 1, through the stack: PUSH, POP into another register. */
func:
	push %eax
	pop %ecx
	inc %ecx
	mov %ecx, %eax
	ret
func16:
	push %eax
	pop %ecx
	inc %ecx
	mov %ecx, %eax
	ret

msg_ok_base:	.asciz "ok ss_base\n"
msg_fail_base:	.asciz "FAIL ss_base\n"
msg_ok_16:	.asciz "ok ss_16bit\n"
msg_fail_16:	.asciz "FAIL ss_16bit\n"

	serial_routines

/* flat_gdt's segments; a 32-bit stack based at 0x10000 (0x20) and a
 * 16-bit one based at 0x20000 (0x28), both with a 4 GiB limit */
	flat_gdt 0x00cf92010000ffff, 0x008f92020000ffff
