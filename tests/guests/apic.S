/*
 * Local APIC and IOAPIC registers in 32-bit protected mode, where QEMU's
 * PC agrees (apic_modes.S has the rest): the local APIC's state after
 * reset (ID, version, masked LVTs, SVR 0xFF, IA32_APIC_BASE); timer
 * details (a TMICT write restarts the count, TMCCT reads 0 once a
 * one-shot expired); the IOAPIC's version
 * and its level-triggered pins with Remote IRR, through the HPET's timer
 * 1 in level mode (it holds its line until the guest clears the status
 * bit): Remote IRR and the TMR bit set on delivery, no second message
 * while it is set, the EOI register and the local APIC's EOI broadcast
 * clearing it with the message sent again while the line is still
 * asserted; an edge-triggered pin leaves Remote IRR clear; a masked
 * level pin delivers when unmasked.
 * Ends with 0x1d (status 59), 0x3f (127) after a "FAIL" line.
 */
#include "guest.h"
#include "apic_checks.h"
#define IRQS 0x500		/* vector 0x31 taken */
#define EOI_IN_HANDLER 0x504	/* the handler clears the HPET and EOIs */
#define RTE_SEEN 0x508		/* the RTE's low dword in the handler */
#define PIN 0x50c		/* the IOAPIC pin HPET timer 1 drives */
#define TICKS_1MS 0x510

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm32
	gate 0x31, level_irq
	gate 13, gp_skip2
	lidt LIN(idt_ptr)
	mov $0xff, %al			/* both 8259s masked */
	out %al, $0x21
	out %al, $0xa1
	mov $0x30, %al			/* PIT channel 0 waits for a count */
	out %al, $0x43

	/* ---- the local APIC after reset (SDM 10.4.7.1) ---- */
	cmpl $0, APIC + 0x20
	check e, "apic id 0 after reset"
	mov APIC + 0x30, %eax
	cmp $0x14, %al
	jne 1f
	shr $16, %eax
	cmp $5, %al			/* at least 6 LVT entries */
1:	check ae, "version 0x14 with its lvt count"
	mov $0x320, %ebx		/* timer, thermal, perf: masked */
1:	cmpl $0x10000, APIC(%ebx)
	jne 2f
	add $0x10, %ebx
	cmp $0x350, %ebx
	jb 1b
	cmpl $0x10000, APIC + 0x360	/* LINT1, error */
	jne 2f
	cmpl $0x10000, APIC + 0x370
2:	check e, "lvt entries masked after reset"
	cmpl $0xff, APIC + 0xf0
	check e, "svr 0xff after reset"
	cmpl $0xffffffff, APIC + 0xe0
	jne 1f
	cmpl $0, APIC + 0xd0
	jne 1f
	cmpl $0, APIC + 0x80
1:	check e, "dfr all ones, ldr and tpr 0 after reset"
	mov $0x1b, %ecx
	rdmsr
	test %edx, %edx
	jnz 1f
	cmp $0xfee00900, %eax		/* enabled, BSP */
1:	check e, "ia32_apic_base 0xfee00900"

	movl $0x1ff, APIC + 0xf0	/* local APIC on */

	/* ---- timer ---- */
	movl $0xb, APIC + 0x3e0		/* divide by 1 */
	movl $0x10040, APIC + 0x320	/* one-shot, masked */
	movl $0x40000000, APIC + 0x380
	mov APIC + 0x390, %ebx
	mov $50000000, %ecx		/* let it count down by 0x100000 */
	lea -0x100000(%ebx), %edx
1:	cmp APIC + 0x390, %edx
	ja 2f
	loop 1b
2:	movl $0x40000000, APIC + 0x380	/* again: from the top */
	mov APIC + 0x390, %eax
	cmp %edx, %eax
	check a, "tmict write restarts the count"
	movl $1000, APIC + 0x380
	mov $50000000, %ecx
1:	cmpl $0, APIC + 0x390
	je 2f
	loop 1b
2:	mov $100000, %ecx		/* and stays there */
1:	loop 1b
	cmpl $0, APIC + 0x390
	check e, "tmcct 0 after a one-shot expired"
	movl $0x10000, APIC + 0x320

	/* ---- the IOAPIC ---- */
	/* 24 pins, version 0x20 (with the EOI register, wirt's emulator and
	 * QEMU) or 0x11 (KVM's in-kernel IOAPIC, which takes EOI register
	 * writes all the same). */
	movl $1, IOAPIC
	mov IOAPIC + 0x10, %eax
	cmp $0x170020, %eax
	je 1f
	cmp $0x170011, %eax
1:	check e, "ioapic version 0x20 or 0x11, 24 pins"

	/* HPET timer 1, level, to the highest pin it offers. */
	mov HPET + 4, %ecx		/* period in fs: ticks in 1 ms */
	mov $0xe8, %edx
	mov $0xd4a51000, %eax
	div %ecx
	mov %eax, TICKS_1MS
	mov HPET + 0x124, %eax		/* route capability */
	and $0x00ffffff, %eax
	bsr %eax, %ecx
	mov %ecx, PIN
	mov $(0x8000 | 0x31), %eax	/* level, vector 0x31 */
	call set_rte
	mov PIN, %eax
	lea 0x10(,%eax,2), %eax
	mov %eax, IOAPIC
	mov IOAPIC + 0x10, %eax
	cmp $0x8031, %eax
	check e, "redirection entry reads back"
	movl $0, IRQS
	movl $0, EOI_IN_HANDLER
	mov PIN, %ecx
	shl $9, %ecx
	or $((1 << 1) | (1 << 2)), %ecx	/* level, enabled, route */
	mov %ecx, HPET + 0x120
	mov TICKS_1MS, %eax
	mov %eax, HPET + 0x128		/* 1 ms after the counter's 0 */
	movl $0, HPET + 0x12c
	movl $0, HPET + 0xf0
	movl $0, HPET + 0xf4
	movl $1, HPET + 0x10		/* enable */
	sti
	wait_for IRQS, 1		/* the handler neither clears nor EOIs */
	call wait_3ms
	cli
	cmpl $1, IRQS
	check e, "level pin: one message while remote irr is set"
	testl $0x4000, RTE_SEEN
	check nz, "level delivery sets remote irr"
	mov APIC + 0x190, %eax		/* TMR bits 32-63 */
	test $(1 << 17), %eax
	check nz, "level vector sets its tmr bit"
	/* The IOAPIC's EOI register: Remote IRR clears, the line is still
	 * high, the message goes again: in the IRR behind the one in service. */
	movl $0x31, IOAPIC + 0x40
	mov $50000000, %ecx
1:	testl $(1 << 17), APIC + 0x210	/* IRR bits 32-63 */
	jnz 2f
	loop 1b
2:	check nz, "ioapic eoi register: line still high, sent again"
	call read_rte
	test $0x4000, %eax
	check nz, "remote irr set again by that message"
	/* The local APIC's EOI: broadcast for a TMR vector; the pending 0x31
	 * comes, its handler clears the line and EOIs. */
	movl $1, EOI_IN_HANDLER
	movl $0, APIC + 0xb0
	sti
	wait_for IRQS, 2
	call wait_3ms
	cli
	cmpl $2, IRQS
	check e, "lapic eoi broadcast: delivered again, then quiet"
	call read_rte
	test $0x4000, %eax
	check z, "remote irr clear after the eoi broadcast"

	/* Edge: no Remote IRR even before the EOI. */
	movl $0, HPET + 0x10
	mov $0x31, %eax			/* edge, vector 0x31 */
	call set_rte
	movl $0, IRQS
	movl $0, EOI_IN_HANDLER
	mov PIN, %ecx
	shl $9, %ecx
	or $(1 << 2), %ecx		/* edge, enabled, route */
	mov %ecx, HPET + 0x120
	movl $0, HPET + 0xf0
	movl $0, HPET + 0xf4
	movl $1, HPET + 0x10
	sti
	wait_for IRQS, 1
	cli
	testl $0x4000, RTE_SEEN
	check z, "edge delivery leaves remote irr clear"
	movl $0, APIC + 0xb0

	/* Masked level pin: nothing while masked, delivered when unmasked. */
	movl $0, HPET + 0x10
	mov $0x18031, %eax		/* masked, level, vector 0x31 */
	call set_rte
	movl $0, IRQS
	movl $1, EOI_IN_HANDLER
	mov PIN, %ecx
	shl $9, %ecx
	or $((1 << 1) | (1 << 2)), %ecx
	mov %ecx, HPET + 0x120
	movl $0, HPET + 0xf0
	movl $0, HPET + 0xf4
	movl $1, HPET + 0x10
	sti
	call wait_3ms
	cmpl $0, IRQS
	check e, "masked level pin: nothing"
	mov $0x8031, %eax		/* unmasked */
	call set_rte
	wait_for IRQS, 1
	check e, "unmasked level pin still asserted: delivered"
	cli
	movl $0, HPET + 0x10
	debug_exit 0x1d

/* RTE low dword of PIN = eax (destination APIC 0). */
set_rte:
	push %eax
	mov PIN, %eax
	lea 0x11(,%eax,2), %eax
	mov %eax, IOAPIC
	movl $0, IOAPIC + 0x10
	dec %eax
	mov %eax, IOAPIC
	pop %eax
	mov %eax, IOAPIC + 0x10
	ret

read_rte:
	mov PIN, %eax
	lea 0x10(,%eax,2), %eax
	mov %eax, IOAPIC
	mov IOAPIC + 0x10, %eax
	ret

/* 3 ms by the HPET's counter, which runs. */
wait_3ms:
	mov HPET + 0xf0, %edx
	mov TICKS_1MS, %eax
	lea (%eax,%eax,2), %eax
	add %eax, %edx
	mov $100000000, %ecx
1:	cmp HPET + 0xf0, %edx
	jbe 2f
	loop 1b
2:	ret

/* Vector 0x31: count, note the RTE; with EOI_IN_HANDLER clear the HPET
 * timer's status (the line drops) and EOI. */
level_irq:
	push %eax
	incl IRQS
	call read_rte
	mov %eax, RTE_SEEN
	cmpl $0, EOI_IN_HANDLER
	je 1f
	movl $2, HPET + 0x20		/* timer 1's status: write 1 to clear */
	movl $0, APIC + 0xb0
1:	pop %eax
	iret

	apic_routines
	serial_routines
	flat_gdt
idt_ptr:
	.word 256 * 8 - 1
	.long IDT32
