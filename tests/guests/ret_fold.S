/*
 * RETs folded into their CALL's block: in 32- and 64-bit code the decode
 * cache and the translator go on at a CALL's return address after the
 * callee's RET (in the same page), checking what the RET popped.  The
 * RET must still go where the stack says (each in 32-bit protected mode,
 * paging off, then in 64-bit mode):
 * - ret_plain: nested CALL/RET pairs, flags the callee set read after
 *   its RET, and calls nested deeper than the fold follows;
 * - ret_skip: the callee adds 2 to its return address (skipping a
 *   2-byte instruction after the CALL);
 * - ret_replaced: the callee replaces its return address with another
 *   place in the page;
 * - ret_slow: the callee loads from 4 MiB above the stack (the software
 *   TLB slot of the stack's page), so the RET's stack read takes the
 *   slow path, returning as predicted and, with its return address
 *   replaced, elsewhere.
 * Each loop runs LOOPS times (blocks are translated on their second
 * entry and loops chained).  Prints "ok <name> <width>-bit" or "FAIL
 * <name> <width>-bit"; ends
 * with 0x20 (exit status 65), or 0x21 (67) if a check failed.
 */
#include "guest.h"
#define LOOPS 20
#define FAILS 0x600
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	xor %ax, %ax
	mov %ax, %ds
	movw $0, FAILS
	enter_pm32 pm
	jmp tests32

/* ok or FAIL with the name, by the flags of the compare before. */
.macro report name
	jne 8f
	puts32 msg_ok_\name
	jmp 9f
8:	incw FAILS
	puts32 msg_fail_\name
9:
.endm

/* The tests in code of width w (32 or 64): sp, dx the stack pointer and
 * a scratch register of that width, q the suffix of its size.  In a
 * page of their own with their callees (far below 4 KiB). */
.macro fold_tests w, sp, dx, q
	.p2align 12
tests\w:
	/* ---- ret_plain ---- */
	mov $LOOPS, %ecx
	xor %eax, %eax
	xor %ebx, %ebx
1:	call add_two\w          /* EAX += 2, nested */
	call is_even\w          /* ZF from the callee's TEST */
	jne 2f
	inc %ebx
2:	call add_five_deep\w    /* five calls deep */
	dec %ecx
	jnz 1b
	cmp $(LOOPS * 7), %eax
	jne 3f
	cmp $(LOOPS / 2), %ebx
3:	report plain\w

	/* ---- ret_skip ---- */
	mov $LOOPS, %ecx
	xor %eax, %eax
1:	call skip2\w
	xor %eax, %eax          /* 2 bytes, skipped */
	inc %eax
	dec %ecx
	jnz 1b
	cmp $LOOPS, %eax
	report skip\w

	/* ---- ret_replaced ---- */
	mov $LOOPS, %ecx
	xor %eax, %eax
1:	call replace\w
	add $100, %eax          /* skipped: it returns to replaced_to */
replaced_to\w:
	inc %eax
	dec %ecx
	jnz 1b
	cmp $LOOPS, %eax
	report replaced\w

	/* ---- ret_slow ---- */
	mov $LOOPS, %ecx
	xor %eax, %eax
1:	call evict\w
	inc %eax
	call evict_replace\w
	add $100, %eax          /* skipped: it returns to slow_to */
slow_to\w:
	inc %eax
	dec %ecx
	jnz 1b
	cmp $(LOOPS * 2), %eax
	report slow\w
	jmp tests\w\()_end

add_two\w:
	call add_one\w
	call add_one\w
	ret
add_one\w:
	inc %eax
	ret
is_even\w:
	test $1, %al            /* EAX = 2, 9, 16, 23, ...: odd every other time */
	ret
add_five_deep\w:
	call 1f
	ret
1:	call 2f
	ret
2:	call 3f
	ret
3:	call 4f
	ret
4:	call 5f
	ret
5:	add $5, %eax
	ret
skip2\w:
	add\q $2, (\sp)
	ret
replace\w:
	mov $LIN(replaced_to\w), \dx
	mov \dx, (\sp)
	ret
evict\w:                 /* 4 MiB up: the same TLB slot */
	mov 0x400000(\sp), \dx
	ret
evict_replace\w:
	mov $LIN(slow_to\w), \dx
	mov \dx, (\sp)
	mov 0x400000(\sp), \dx
	ret
tests\w\()_end:
.endm

	.code32
	fold_tests 32, %esp, %edx, l
	enter_lm64 lm
	fold_tests 64, %rsp, %rdx, q
	cmpw $0, FAILS
	jne 1f
	debug_exit 0x20
1:	debug_exit 0x21

	serial_routines
	flat_gdt
msg_ok_plain32: .asciz "ok ret_plain 32-bit\n"
msg_fail_plain32: .asciz "FAIL ret_plain 32-bit\n"
msg_ok_skip32: .asciz "ok ret_skip 32-bit\n"
msg_fail_skip32: .asciz "FAIL ret_skip 32-bit\n"
msg_ok_replaced32: .asciz "ok ret_replaced 32-bit\n"
msg_fail_replaced32: .asciz "FAIL ret_replaced 32-bit\n"
msg_ok_slow32: .asciz "ok ret_slow 32-bit\n"
msg_fail_slow32: .asciz "FAIL ret_slow 32-bit\n"
msg_ok_plain64: .asciz "ok ret_plain 64-bit\n"
msg_fail_plain64: .asciz "FAIL ret_plain 64-bit\n"
msg_ok_skip64: .asciz "ok ret_skip 64-bit\n"
msg_fail_skip64: .asciz "FAIL ret_skip 64-bit\n"
msg_ok_replaced64: .asciz "ok ret_replaced 64-bit\n"
msg_fail_replaced64: .asciz "FAIL ret_replaced 64-bit\n"
msg_ok_slow64: .asciz "ok ret_slow 64-bit\n"
msg_fail_slow64: .asciz "FAIL ret_slow 64-bit\n"
