/*
 * The board's NMI line (wirt's console key C-a n, driven by
 * tests/integration/test_nmi_button.py): LINT1 programmed as NMI wakes a
 * CPU halted with IF=0; programmed as a fixed vector it raises that
 * vector; with the APIC globally disabled the line is the CPU's NMI pin.
 * The guest prints "ready ..." and halts before each press.
 * Ends with 0x1d (status 59), 0x3f (127) after a "FAIL" line.
 */
#include "guest.h"
#include "apic_checks.h"
#define NMIS 0x500
#define VEC50 0x504

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm32
	xor %eax, %eax
	mov %eax, NMIS
	mov %eax, VEC50
	gate 2, nmi
	gate 0x50, vec50
	gate 13, gp_skip2
	lidt LIN(idt_ptr)
	mov $0xff, %al			/* both 8259s masked */
	out %al, $0x21
	out %al, $0xa1
	mov $0x30, %al			/* PIT channel 0 waits for a count */
	out %al, $0x43
	movl $0x1ff, APIC + 0xf0

	movl $0x400, APIC + 0x360	/* LINT1: NMI */
	puts32 msg_ready_nmi
1:	hlt
	cmpl $1, NMIS
	jb 1b
	check e, "lint1 as nmi wakes hlt with if=0"

	movl $0x50, APIC + 0x360	/* LINT1: fixed, vector 0x50 */
	puts32 msg_ready_fixed
	sti
1:	hlt
	cmpl $1, VEC50
	jb 1b
	cli
	check e, "lint1 as a fixed vector"

	mov $0x1b, %ecx			/* APIC globally disabled */
	mov $0xfee00100, %eax
	xor %edx, %edx
	wrmsr
	puts32 msg_ready_disabled
1:	hlt
	cmpl $2, NMIS
	jb 1b
	check e, "nmi pin with the apic disabled"
	debug_exit 0x1d

nmi:
	incl NMIS
	iret

vec50:
	incl VEC50
	movl $0, APIC + 0xb0
	iret

	apic_routines
	serial_routines
	flat_gdt
idt_ptr:
	.word 256 * 8 - 1
	.long IDT32
msg_ready_nmi: .asciz "ready lint1 nmi\n"
msg_ready_fixed: .asciz "ready lint1 fixed\n"
msg_ready_disabled: .asciz "ready apic disabled\n"
