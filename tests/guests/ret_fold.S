/*
 * RETs folded into their CALL's block: in 64-bit code the decode cache
 * and the translator go on at a CALL's return address after the
 * callee's RET (in the same page), checking what the RET popped.  The
 * RET must still go where the stack says:
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
 * entry and loops chained).  Prints "ok <name>" or "FAIL <name>"; ends
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
	enter_lm64 lm
	jmp tests

/* ok or FAIL with the name, by the flags of the compare before. */
.macro report name
	jne 8f
	puts32 msg_ok_\name
	jmp 9f
8:	incw FAILS
	puts32 msg_fail_\name
9:
.endm

	.p2align 12     /* the tests and their callees in one page (far below 4 KiB) */
tests:
	/* ---- ret_plain ---- */
	mov $LOOPS, %ecx
	xor %eax, %eax
	xor %ebx, %ebx
1:	call add_two            /* EAX += 2, nested */
	call is_even            /* ZF from the callee's TEST */
	jne 2f
	inc %ebx
2:	call add_five_deep      /* five calls deep */
	dec %ecx
	jnz 1b
	cmp $(LOOPS * 7), %eax
	jne 3f
	cmp $(LOOPS / 2), %ebx
3:	report plain

	/* ---- ret_skip ---- */
	mov $LOOPS, %ecx
	xor %eax, %eax
1:	call skip2
	xor %eax, %eax          /* 2 bytes, skipped */
	inc %eax
	dec %ecx
	jnz 1b
	cmp $LOOPS, %eax
	report skip

	/* ---- ret_replaced ---- */
	mov $LOOPS, %ecx
	xor %eax, %eax
1:	call replace
	add $100, %eax          /* skipped: it returns to replaced_to */
replaced_to:
	inc %eax
	dec %ecx
	jnz 1b
	cmp $LOOPS, %eax
	report replaced

	/* ---- ret_slow ---- */
	mov $LOOPS, %ecx
	xor %eax, %eax
1:	call evict
	inc %eax
	call evict_replace
	add $100, %eax          /* skipped: it returns to slow_to */
slow_to:
	inc %eax
	dec %ecx
	jnz 1b
	cmp $(LOOPS * 2), %eax
	report slow

	cmpw $0, FAILS
	jne 1f
	debug_exit 0x20
1:	debug_exit 0x21

add_two:
	call add_one
	call add_one
	ret
add_one:
	inc %eax
	ret
is_even:
	test $1, %al            /* EAX = 2, 9, 16, 23, ...: odd every other time */
	ret
add_five_deep:
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
skip2:
	addq $2, (%rsp)
	ret
replace:
	lea replaced_to(%rip), %rdx
	mov %rdx, (%rsp)
	ret
evict:
	mov 0x400000(%rsp), %rdx
	ret
evict_replace:
	lea slow_to(%rip), %rdx
	mov %rdx, (%rsp)
	mov 0x400000(%rsp), %rdx
	ret

	serial_routines
	flat_gdt
msg_ok_plain:      .asciz "ok ret_plain\n"
msg_fail_plain:    .asciz "FAIL ret_plain\n"
msg_ok_skip:       .asciz "ok ret_skip\n"
msg_fail_skip:     .asciz "FAIL ret_skip\n"
msg_ok_replaced:   .asciz "ok ret_replaced\n"
msg_fail_replaced: .asciz "FAIL ret_replaced\n"
msg_ok_slow:       .asciz "ok ret_slow\n"
msg_fail_slow:     .asciz "FAIL ret_slow\n"
