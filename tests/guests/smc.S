/*
 * Self-modifying code, as the translator must see it: code copied into
 * RAM and run often enough to be translated (and its loops chained),
 * then rewritten while it runs.
 *   - 32-bit: a loop that rewrites an instruction of its own body: the
 *     following iterations run the new instruction;
 *   - 64-bit: an instruction that rewrites the next one in its block;
 *   - 64-bit: the same through a register a read used just before (one
 *     page group for the translator: its write still seen as one to
 *     code);
 *   - 64-bit: a loop that writes a counter in the page it runs from;
 *   - 64-bit: the same loop as in 32-bit code, rewritten in its chain.
 * Prints a line per check; ends with debug-exit 0x20 (exit status 65),
 * or 0x21 (67) at the first failure.
 */
#include "guest.h"
#define CODE32 0x50000	/* RAM the 32-bit routine is copied to */
#define CODE64 0x60000	/* and the 64-bit ones */
	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	cld
	mov $LIN(r32_start), %esi
	mov $CODE32, %edi
	mov $(r32_end - r32_start), %ecx
	rep movsb
	/* 20 runs: translated and chained after the first ones; each run
	 * puts the original instruction back first. */
	mov $20, %ebp
1:	movb $1, CODE32 + (r32_add - r32_start) + 2
	mov $CODE32, %ebx
	call *%ebx
	cmp $406, %eax
	jne fail32
	dec %ebp
	jnz 1b
	puts32 msg_loop32

	enter_lm64 lm
	cld
	mov $LIN(r64_start), %rsi
	mov $CODE64, %rdi
	mov $(r64_end - r64_start), %rcx
	rep movsb

	/* The next instruction, rewritten 50 times from 1 to 2 by the one
	 * before it: a dword store (inline in translated code), then a
	 * byte store (the handler's path). */
	mov $50, %ebp
1:	movb $1, CODE64 + (next_imm - r64_start)
	mov $(CODE64 + (r64_next - r64_start)), %rbx
	call *%rbx
	cmp $2, %eax
	jne fail
	movb $1, CODE64 + (next8_imm - r64_start)
	mov $(CODE64 + (r64_next8 - r64_start)), %rbx
	call *%rbx
	cmp $2, %eax
	jne fail
	dec %ebp
	jnz 1b
	puts32 msg_next

	/* The same, the write through RDX after a read through it. */
	mov $50, %ebp
1:	movb $1, CODE64 + (group_imm - r64_start)
	mov $(CODE64 + (r64_group - r64_start)), %rbx
	call *%rbx
	cmp $2, %eax
	jne fail
	dec %ebp
	jnz 1b
	puts32 msg_group

	/* A counter in the code's own page, 1000 increments, 10 times. */
	mov $10, %ebp
1:	movl $0, CODE64 + (counter - r64_start)
	mov $(CODE64 + (r64_count - r64_start)), %rbx
	call *%rbx
	cmp $1000, %eax
	jne fail
	dec %ebp
	jnz 1b
	puts32 msg_count

	mov $20, %ebp
1:	movb $1, CODE64 + (r64_add - r64_start) + 2
	mov $(CODE64 + (r64_loop - r64_start)), %rbx
	call *%rbx
	cmp $406, %eax
	jne fail
	dec %ebp
	jnz 1b
	puts32 msg_loop64

	debug_exit 0x20
fail:
	puts32 msg_fail
	debug_exit 0x21

	.code32
fail32:
	puts32 msg_fail
	debug_exit 0x21

/* 10 iterations adding 1, until the one at ECX = 5 makes the ADD's
 * immediate 100: 6 + 4 * 100 = 406. */
r32_start:
	xor %eax, %eax
	mov $10, %ecx
r32_add:
	add $1, %eax			/* 83 c0 01 */
	cmp $5, %ecx
	jne 2f
	movb $100, CODE32 + (r32_add - r32_start) + 2
2:	dec %ecx
	jnz r32_add
	ret
r32_end:

	.code64
r64_start:
r64_next:
	movl $2, next_imm(%rip)		/* C7 /0: an inline store in translated code */
	.byte 0xb8			/* mov $imm32, %eax */
next_imm:
	.long 1
	ret

r64_next8:
	movb $2, next8_imm(%rip)	/* C6 /0: the handler's store */
	.byte 0xb8
next8_imm:
	.long 1
	ret

r64_group:
	lea group_imm(%rip), %rdx
	mov (%rdx), %ecx		/* a read through RDX */
	movl $2, (%rdx)			/* then the write, into the code */
	.byte 0xb8
group_imm:
	.long 1
	ret

r64_count:
	mov $1000, %ecx
1:	incl counter(%rip)
	dec %ecx
	jnz 1b
	mov counter(%rip), %eax
	ret
counter:
	.long 0

r64_loop:
	xor %eax, %eax
	mov $10, %ecx
r64_add:
	add $1, %eax
	cmp $5, %ecx
	jne 2f
	movb $100, r64_add + 2(%rip)
2:	dec %ecx
	jnz r64_add
	ret
r64_end:

	serial_routines
	flat_gdt
msg_loop32: .asciz "32-bit loop rewriting its body ok\n"
msg_next:   .asciz "rewritten next instruction ok\n"
msg_group:  .asciz "rewritten through a register read before ok\n"
msg_count:  .asciz "counter in the code page ok\n"
msg_loop64: .asciz "64-bit loop rewriting its body ok\n"
msg_fail:   .asciz "FAIL\n"
