/*
 * MOV CR3 in long mode with bit 40 set: bits MAXPHYADDR (40) to 63 are
 * reserved without PCID, so the MOV is #GP and CR3 keeps its value.
 * A CPU that took the write would walk tables outside memory, so this
 * check has a guest of its own (QEMU's TCG takes it and hangs).
 * Prints one line; ends with 0x1d (status 59) if it passed, else 0x1e.
 */
#include "guest.h"
#define IDT 0x6000

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	enter_lm64 lm
	/* IDT: #GP (13) to gp_handler. */
	mov $IDT, %rdi
	xor %eax, %eax
	mov $(32 * 16 / 4), %ecx
	rep stosl
	mov $LIN(gp_handler), %eax
	mov %ax, IDT + 13 * 16
	movw $0x18, IDT + 13 * 16 + 2
	movw $0x8e00, IDT + 13 * 16 + 4
	shr $16, %eax
	mov %ax, IDT + 13 * 16 + 6
	lidt idt_ptr + ROM_LOW
	mov %cr3, %rax
	bts $40, %rax
	mov %rax, %cr3
	puts32 msg_fail
	debug_exit 0x1e

gp_handler:
	mov %cr3, %rax
	cmp $0x1000, %rax
	jne 1f
	cmpq $0, (%rsp)			/* error code 0 */
	jne 1f
	puts32 msg_ok
	debug_exit 0x1d
1:	puts32 msg_fail
	debug_exit 0x1e

	serial_routines
	flat_gdt
idt_ptr:
	.word 32 * 16 - 1
	.quad IDT
msg_ok:   .asciz "ok mov_cr3_above_maxphyaddr\n"
msg_fail: .asciz "FAIL mov_cr3_above_maxphyaddr\n"
