/*
 * Interrupts and HLT wake-up in 32-bit protected mode: the 8254 PIT
 * through the 8259 PICs and the local APIC's LINT0 in virtual-wire mode
 * (ten IRQ 0 ticks, each waking the CPU from HLT), then the local APIC
 * timer in one-shot mode, waited for by HLT and then by a spin loop.
 * Prints a line per part; ends with 0x19 (status 51), 0x1a (53) on failure.
 */
#include "guest.h"
#define TICKS 0x500
#define APIC 0xfee00000
#define IDT32 0x6000

/* IDT gate for vector v to label (32-bit interrupt gate, selector 0x08). */
.macro gate v, label
	mov $LIN(\label), %eax
	mov %ax, IDT32 + \v * 8
	movw $0x08, IDT32 + \v * 8 + 2
	movw $0x8e00, IDT32 + \v * 8 + 4
	shr $16, %eax
	mov %ax, IDT32 + \v * 8 + 6
.endm

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	lgdtl %cs:gdt_ptr
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $LIN(pm32)

	.code32
pm32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7000, %esp
	gate 0x20, irq0
	gate 0x40, apic_timer
	lidt idt_ptr + ROM_LOW
	/* Local APIC on, LINT0 = ExtINT: the 8259 in virtual-wire mode. */
	movl $0x1ff, APIC + 0xf0
	movl $0x700, APIC + 0x350
	/* 8259s: vectors 0x20 / 0x28, cascade on IRQ 2, only IRQ 0 unmasked. */
	mov $0x11, %al
	out %al, $0x20
	out %al, $0xa0
	mov $0x20, %al
	out %al, $0x21
	mov $0x28, %al
	out %al, $0xa1
	mov $4, %al
	out %al, $0x21
	mov $2, %al
	out %al, $0xa1
	mov $1, %al
	out %al, $0x21
	out %al, $0xa1
	mov $0xfe, %al
	out %al, $0x21
	mov $0xff, %al
	out %al, $0xa1
	/* PIT channel 0, mode 2, 1193182 / 11932 = 100 Hz. */
	movl $0, TICKS
	mov $0x34, %al
	out %al, $0x43
	mov $(11932 & 0xff), %al
	out %al, $0x40
	mov $(11932 >> 8), %al
	out %al, $0x40
	sti
1:	hlt
	cmpl $10, TICKS
	jb 1b
	cli
	mov $0xff, %al
	out %al, $0x21
	puts32 msg_pit

	/* Local APIC timer, one-shot. */
	movl $0, TICKS
	movl $0xb, APIC + 0x3e0		/* divide by 1 */
	movl $0x40, APIC + 0x320	/* one-shot, vector 0x40 */
	movl $2000000, APIC + 0x380
	sti
2:	hlt
	cmpl $1, TICKS
	jb 2b
	cli
	mov APIC + 0x390, %eax		/* one-shot: the count stays at zero */
	test %eax, %eax
	jnz fail
	puts32 msg_apic

	/* The same timer waited for by a spin loop: one block jumping
	 * back to itself, which must still let the interrupt in. */
	movl $0, TICKS
	movl $2000000, APIC + 0x380
	sti
3:	cmpl $1, TICKS
	jb 3b
	cli
	puts32 msg_spin
	debug_exit 0x19
fail:
	puts32 msg_fail
	debug_exit 0x1a

irq0:
	incl TICKS
	push %eax
	mov $0x20, %al
	out %al, $0x20
	pop %eax
	iret

apic_timer:
	incl TICKS
	movl $0, APIC + 0xb0		/* EOI */
	iret

	serial_routines
	.p2align 3
gdt:	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long LIN(gdt)
idt_ptr:
	.word 256 * 8 - 1
	.long IDT32
msg_pit:  .asciz "pit irq ok\n"
msg_apic: .asciz "lapic timer ok\n"
msg_spin: .asciz "lapic timer seen by a spin loop ok\n"
msg_fail: .asciz "lapic timer FAIL\n"
