/*
 * Mode switches as an OS performs them: real mode -> 32-bit protected mode
 * -> long mode (PAE paging, EFER.LME, 64-bit code segment), reporting each
 * step over COM1; a 64-bit computation proves 64-bit registers work.
 * Ends with debug-exit 0x11 (exit status 35).
 */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	puts16 msg_real
	enter_pm32 pm
	puts32 msg_prot
	enter_lm64 lm
	puts32 msg_long
	/* Check EFER.LMA and a 64-bit multiply. */
	mov $0xc0000080, %ecx
	rdmsr
	test $0x400, %eax
	jz fail
	mov $0x100000001, %rax
	mov $0x10, %rbx
	imul %rbx, %rax
	mov $0x1000000010, %rcx
	cmp %rcx, %rax
	jne fail
	puts32 msg_ok
	debug_exit 0x11
fail:
	puts32 msg_fail
	debug_exit 0x12

	serial_routines
	flat_gdt
msg_real: .asciz "real mode\n"
msg_prot: .asciz "protected mode\n"
msg_long: .asciz "long mode\n"
msg_ok:   .asciz "64-bit arithmetic ok\n"
msg_fail: .asciz "FAIL\n"
