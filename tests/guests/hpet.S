/*
 * The HPET in 32-bit protected mode, its interrupts through the IOAPIC
 * (the 8259s masked): capabilities; timer 0 periodic with legacy
 * replacement, ten ticks on IOAPIC pin 2 (ISA IRQ 0's pin); timer 1
 * level-triggered one-shot routed to the highest IOAPIC pin its route
 * capability offers, taken once and cleared through the status register;
 * timer 2 in 32-bit mode, one-shot across the wrap of the counter's low
 * half.  Prints a line per part; ends with 0x1b (status 55), 0x1c (57)
 * on failure.
 */
#include "guest.h"
#define HPET 0xfed00000
#define IOAPIC 0xfec00000
#define APIC 0xfee00000
#define IDT32 0x6000
#define TICKS 0x500
#define LEVEL_IRQS 0x504
#define ISR_SEEN 0x508
#define TICKS_1MS 0x50c
#define PIN 0x510
#define WRAP_IRQS 0x514

.macro gate v, label
	mov $LIN(\label), %eax
	mov %ax, IDT32 + \v * 8
	movw $0x08, IDT32 + \v * 8 + 2
	movw $0x8e00, IDT32 + \v * 8 + 4
	shr $16, %eax
	mov %ax, IDT32 + \v * 8 + 6
.endm

/* IOAPIC redirection entry: pin, low dword, destination APIC 0. */
.macro rte pin, low
	movl $(0x10 + 2 * \pin), IOAPIC
	movl \low, IOAPIC + 0x10
	movl $(0x11 + 2 * \pin), IOAPIC
	movl $0, IOAPIC + 0x10
.endm

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm32
	gate 0x30, tick
	gate 0x31, level_irq
	gate 0x32, wrap_irq
	lidt LIN(idt_ptr)
	mov $0xff, %al			/* both 8259s masked */
	out %al, $0x21
	out %al, $0xa1
	movl $0x1ff, APIC + 0xf0	/* local APIC on */
	mov $0x30, %al			/* PIT channel 0 waits for a count: */
	out %al, $0x43			/* no IRQ 0 from it (QEMU's counts from reset) */
	xor %eax, %eax
	mov %eax, TICKS
	mov %eax, LEVEL_IRQS
	mov %eax, WRAP_IRQS

	/* Capabilities: a period of at most 100 ns, 64-bit, legacy route,
	 * at least three timers. */
	mov HPET + 4, %ecx		/* period in fs */
	test %ecx, %ecx
	jz fail
	cmp $100000000, %ecx
	ja fail
	mov HPET, %eax
	test $(1 << 13), %eax
	jz fail
	test $(1 << 15), %eax
	jz fail
	shr $8, %eax
	and $0x1f, %eax
	cmp $2, %eax
	jb fail
	/* Ticks in 1 ms: 10^12 fs / period. */
	mov $0xe8, %edx
	mov $0xd4a51000, %eax
	div %ecx
	mov %eax, TICKS_1MS
	puts32 msg_caps

	/* Part 1: timer 0 periodic, 1 ms, legacy replacement: IRQ 0 on pin 2. */
	rte 2, $0x30			/* edge, active high, vector 0x30 */
	movl $0, HPET + 0x10		/* halted */
	movl $0, HPET + 0xf0
	movl $0, HPET + 0xf4
	movl $((1 << 2) | (1 << 3) | (1 << 6)), HPET + 0x100
	mov TICKS_1MS, %eax
	mov %eax, HPET + 0x108		/* first match (VAL_SET) */
	movl $0, HPET + 0x10c
	mov %eax, HPET + 0x108		/* period */
	movl $3, HPET + 0x10		/* enable, legacy replacement */
	sti
1:	hlt
	cmpl $10, TICKS
	jb 1b
	cli
	movl $0, HPET + 0x100		/* timer 0 off */
	/* Ten ticks took at least five periods of the counter (not ten:
	 * QEMU's HPET delivers a stray tick or two when it is enabled). */
	mov HPET + 0xf0, %eax
	mov TICKS_1MS, %ecx
	imul $5, %ecx
	cmp %ecx, %eax
	jb fail
	puts32 msg_legacy
	movl $0, HPET + 0x10
	rte 2, $0x10000			/* masked */

	/* Part 2: timer 1, level, one-shot, routed to the highest pin offered. */
	mov HPET + 0x124, %eax		/* route capability */
	and $0x00ffffff, %eax		/* the IOAPIC has 24 pins */
	bsr %eax, %ecx
	jz fail
	mov %ecx, PIN
	lea 0x10(,%ecx,2), %eax		/* RTE: level, vector 0x31 */
	mov %eax, IOAPIC
	movl $(0x8000 | 0x31), IOAPIC + 0x10
	inc %eax
	mov %eax, IOAPIC
	movl $0, IOAPIC + 0x10
	shl $9, %ecx
	or $((1 << 1) | (1 << 2)), %ecx	/* level, enabled, route */
	mov %ecx, HPET + 0x120
	mov TICKS_1MS, %eax
	shl $1, %eax
	mov %eax, HPET + 0x128		/* 2 ms after the counter's 0 */
	movl $0, HPET + 0x12c
	movl $0, HPET + 0xf0
	movl $0, HPET + 0xf4
	movl $1, HPET + 0x10		/* enable, no legacy route */
	sti
2:	hlt
	cmpl $1, LEVEL_IRQS
	jb 2b
	/* Wait 3 ms more by the counter: the cleared line stays quiet. */
	mov TICKS_1MS, %ecx
	imul $5, %ecx
3:	cmp HPET + 0xf0, %ecx
	ja 3b
	cli
	cmpl $1, LEVEL_IRQS
	jne fail
	cmpl $2, ISR_SEEN		/* the handler saw timer 1's status */
	jne fail
	testl $2, HPET + 0x20		/* and cleared it */
	jnz fail
	puts32 msg_level
	movl $0, HPET + 0x10
	movl $0, HPET + 0x120

	/* Part 3: timer 2, 32-bit one-shot: the counter's low half wraps
	 * before it reaches the comparator. */
	mov PIN, %ecx
	lea 0x10(,%ecx,2), %eax		/* the same pin, now edge, vector 0x32 */
	mov %eax, IOAPIC
	movl $0x32, IOAPIC + 0x10
	shl $9, %ecx
	or $((1 << 2) | (1 << 8)), %ecx	/* enabled, 32-bit, route */
	mov %ecx, HPET + 0x140
	mov TICKS_1MS, %eax
	mov %eax, HPET + 0x148		/* 1 ms after the wrap */
	movl $0, HPET + 0x14c
	mov TICKS_1MS, %eax
	neg %eax			/* 1 ms before the wrap */
	mov %eax, HPET + 0xf0
	movl $1, HPET + 0xf4		/* high half 1: to 2 at the wrap */
	movl $1, HPET + 0x10
	sti
4:	hlt
	cmpl $1, WRAP_IRQS
	jb 4b
	cli
	cmpl $2, HPET + 0xf4
	jne fail
	puts32 msg_wrap
	debug_exit 0x1b
fail:
	cli
	puts32 msg_fail
	debug_exit 0x1c

tick:
	incl TICKS
	movl $0, APIC + 0xb0
	iret

level_irq:
	push %eax
	incl LEVEL_IRQS
	mov HPET + 0x20, %eax
	mov %eax, ISR_SEEN
	mov %eax, HPET + 0x20		/* clear by writing 1 */
	movl $0, APIC + 0xb0
	pop %eax
	iret

wrap_irq:
	incl WRAP_IRQS
	movl $0, APIC + 0xb0
	iret

	serial_routines
	flat_gdt
idt_ptr:
	.word 256 * 8 - 1
	.long IDT32
msg_caps:   .asciz "hpet capabilities ok\n"
msg_legacy: .asciz "legacy replacement: periodic timer 0 on ioapic pin 2 ok\n"
msg_level:  .asciz "level-triggered timer 1 routed to an ioapic pin, status cleared ok\n"
msg_wrap:   .asciz "32-bit one-shot across the wrap ok\n"
msg_fail:   .asciz "hpet FAIL\n"
