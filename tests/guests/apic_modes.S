/*
 * The local APIC's modes through IA32_APIC_BASE, in 32-bit protected
 * mode: reserved bits and invalid mode changes raise #GP; a globally
 * disabled APIC drops out of CPUID and of its MMIO page, the 8259 reaches
 * the CPU directly, and re-enabling it gives its power-up state (LINT0
 * masked: the 8259 is cut off again); the base moves the MMIO window;
 * x2APIC mode (SDM 10.12): its MSRs (ID, LDR from the ID, #GP for
 * read-only, write-only, absent and reserved-bit accesses), SELF IPI and
 * the 64-bit ICR, no MMIO page, the way back only through disabled; and
 * the TSC-deadline timer (SDM 10.5.4.1).
 * QEMU 7.2's TCG has neither x2APIC nor the TSC-deadline timer, writes
 * reserved bits of IA32_APIC_BASE without #GP, cannot move the APIC
 * window and keeps a disabled APIC disabled: no QEMU oracle.
 * Ends with 0x1d (status 59), 0x3f (127) after a "FAIL" line.
 */
#include "guest.h"
#include "apic_checks.h"
#define IRQS 0x500		/* vector 0x40 taken */
#define X2 0x504		/* the handler EOIs through the x2APIC MSR */
#define IRQ_TSC 0x508		/* TSC when it was taken (8 bytes) */
#define TICKS 0x510		/* 8259 IRQ 0 taken */
#define DEADLINE 0x518		/* 8 bytes */

/* WRMSR IA32_APIC_BASE with edx:eax = 0:value. */
.macro apic_base value
	mov $0x1b, %ecx
	mov $\value, %eax
	xor %edx, %edx
	wrmsr
.endm

/* edx:eax = TSC + ns (1 GHz TSC). */
.macro tsc_plus ns
	rdtsc
	add $\ns, %eax
	adc $0, %edx
.endm

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm32
	gate 0x20, irq0
	gate 0x40, apic_irq
	gate 13, gp_skip2
	lidt LIN(idt_ptr)
	call pic_init			/* 8259s at 0x20, all masked */
	mov $0x30, %al			/* PIT channel 0 waits for a count */
	out %al, $0x43
	xor %eax, %eax
	mov %eax, IRQS
	mov %eax, X2
	mov %eax, TICKS

	/* ---- reserved bits, invalid changes ---- */
	expect_gp "ia32_apic_base bit 0 reserved: #gp", apic_base 0xfee00901
	expect_gp "ia32_apic_base bit 9 reserved: #gp", apic_base 0xfee00b00
	mov $0x1b, %ecx
	mov $0xfee00900, %eax
	mov $0x100, %edx
	expect_gp "ia32_apic_base bit 40 (past maxphyaddr): #gp", wrmsr
	expect_gp "extd without en: #gp", apic_base 0xfee00500
	mov $0x1b, %ecx
	rdmsr
	cmp $0xfee00900, %eax
	check e, "ia32_apic_base unchanged by them"
	mov $1, %eax
	cpuid
	test $(1 << 9), %edx
	jz 1f
	and $((1 << 21) | (1 << 24)), %ecx
	cmp $((1 << 21) | (1 << 24)), %ecx
1:	check e, "cpuid: apic, x2apic, tsc-deadline"
	mov $0x802, %ecx
	expect_gp "x2apic msr in xapic mode: #gp", rdmsr

	/* ---- globally disabled ---- */
	movl $0x1ff, APIC + 0xf0
	movl $0x20, APIC + 0x80		/* TPR: gone after the disable */
	apic_base 0xfee00100		/* EN = 0 */
	mov $1, %eax
	cpuid
	test $(1 << 9), %edx
	check z, "disabled apic: cpuid.1:edx.apic clear"
	cmpl $0xffffffff, APIC + 0x30
	check e, "disabled apic: mmio page does not answer"
	expect_gp "disabled to x2apic directly: #gp", apic_base 0xfee00d00
	/* The 8259 (IRQ 0 unmasked) reaches the CPU without the APIC. */
	mov $0xfe, %al
	out %al, $0x21
	mov $0x34, %al			/* PIT: mode 2, 1 kHz */
	out %al, $0x43
	mov $(1193 & 0xff), %al
	out %al, $0x40
	mov $(1193 >> 8), %al
	out %al, $0x40
	sti
	wait_for TICKS, 3
	cli
	check ae, "disabled apic: the 8259 reaches the cpu directly"
	apic_base 0xfee00900		/* enabled again */
	mov $1, %eax
	cpuid
	test $(1 << 9), %edx
	check nz, "re-enabled apic: cpuid.1:edx.apic set"
	cmpl $0xff, APIC + 0xf0
	jne 1f
	cmpl $0, APIC + 0x80
	jne 1f
	cmpl $0, APIC + 0x20
	jne 1f
	cmpl $0x10000, APIC + 0x350	/* LINT0 masked */
1:	check e, "re-enabled apic: power-up state, same id"
	movl $0, TICKS
	sti
	call wait_5ms
	cli
	cmpl $0, TICKS
	check e, "re-enabled apic: lint0 masked cuts the 8259 off"
	mov $0x30, %al			/* PIT stopped, 8259 masked */
	out %al, $0x43
	mov $0xff, %al
	out %al, $0x21

	/* ---- moving the base ---- */
	apic_base 0xfee10900
	mov APIC + 0x10030, %eax
	cmp $0x14, %al
	jne 1f
	cmpl $0xffffffff, APIC + 0x30
1:	check e, "apic base moves the mmio window"
	apic_base 0xfee00900

	/* ---- x2APIC ---- */
	movl $0x1ff, APIC + 0xf0
	apic_base 0xfee00d00
	movl $1, X2
	mov $0x1b, %ecx
	rdmsr
	cmp $0xfee00d00, %eax
	check e, "xapic to x2apic"
	mov $0x802, %ecx
	rdmsr
	test %eax, %eax
	jnz 1f
	mov $0x80d, %ecx		/* LDR: cluster 0, bit 0 */
	rdmsr
	cmp $1, %eax
	jne 1f
	mov $0x803, %ecx
	rdmsr
	cmp $0x14, %al
1:	check e, "x2apic id, ldr from the id, version"
	cmpl $0xffffffff, APIC + 0x30
	check e, "x2apic mode: mmio page does not answer"
	xor %eax, %eax
	xor %edx, %edx
	mov $0x802, %ecx
	expect_gp "x2apic id is read-only: #gp", wrmsr
	mov $0x80b, %ecx
	expect_gp "x2apic eoi is write-only: #gp", rdmsr
	mov $0x83f, %ecx
	expect_gp "x2apic self ipi is write-only: #gp", rdmsr
	mov $0x80e, %ecx
	expect_gp "x2apic has no dfr: #gp", rdmsr
	mov $0x831, %ecx
	expect_gp "x2apic has no icr high half: #gp", rdmsr
	mov $0x80b, %ecx
	mov $1, %eax
	xor %edx, %edx
	expect_gp "x2apic eoi of a non-zero value: #gp", wrmsr
	mov $0x808, %ecx
	xor %eax, %eax
	mov $1, %edx
	expect_gp "x2apic tpr reserved bits: #gp", wrmsr
	movl $0, IRQS
	sti
	mov $0x83f, %ecx
	mov $0x40, %eax
	xor %edx, %edx
	wrmsr
	wait_for IRQS, 1
	check e, "x2apic self ipi"
	mov $0x830, %ecx
	mov $0x4040, %eax		/* fixed, assert, physical */
	xor %edx, %edx			/* to x2APIC ID 0 */
	wrmsr
	wait_for IRQS, 2
	check e, "x2apic icr: ipi to its own id"
	cli
	expect_gp "x2apic to xapic directly: #gp", apic_base 0xfee00900
	apic_base 0xfee00100
	apic_base 0xfee00900
	movl $0, X2
	mov APIC + 0x30, %eax
	cmp $0x14, %al
	check e, "x2apic to disabled to xapic: mmio back"

	/* ---- TSC-deadline timer ---- */
	movl $0x1ff, APIC + 0xf0
	movl $0xb, APIC + 0x3e0
	movl $0x10040, APIC + 0x320	/* one-shot, masked */
	movl $0x40000000, APIC + 0x380
	movl $0x40040, APIC + 0x320	/* TSC-deadline, vector 0x40 */
	mov APIC + 0x380, %eax
	or APIC + 0x390, %eax
	check z, "entering tsc-deadline mode clears tmict"
	movl $1000, APIC + 0x380
	mov APIC + 0x380, %eax
	or APIC + 0x390, %eax
	check z, "tsc-deadline mode: tmict ignored, tmcct 0"
	movl $0, IRQS
	tsc_plus 2000000		/* 2 ms */
	mov %eax, DEADLINE
	mov %edx, DEADLINE + 4
	mov $0x6e0, %ecx
	wrmsr
	rdmsr
	cmp DEADLINE, %eax
	jne 1f
	cmp DEADLINE + 4, %edx
1:	check e, "ia32_tsc_deadline reads the armed value"
	sti
	wait_for IRQS, 1
	cli
	check e, "tsc deadline fires"
	mov IRQ_TSC, %eax
	mov IRQ_TSC + 4, %edx
	sub DEADLINE, %eax
	sbb DEADLINE + 4, %edx
	check ns, "tsc deadline fires not before the deadline"
	mov $0x6e0, %ecx
	rdmsr
	or %edx, %eax
	check z, "ia32_tsc_deadline reads 0 once fired"
	movl $0, IRQS
	mov $0x6e0, %ecx
	mov $1, %eax
	xor %edx, %edx
	wrmsr
	sti
	wait_for IRQS, 1
	cli
	check e, "a deadline in the past fires at once"
	movl $0, IRQS
	tsc_plus 2000000
	mov $0x6e0, %ecx
	wrmsr
	xor %eax, %eax
	xor %edx, %edx
	wrmsr
	sti
	call wait_5ms
	cli
	cmpl $0, IRQS
	check e, "writing 0 disarms it"
	tsc_plus 1000000000
	mov $0x6e0, %ecx
	wrmsr
	movl $0x40, APIC + 0x320	/* one-shot */
	movl $0x40040, APIC + 0x320	/* TSC-deadline again */
	mov $0x6e0, %ecx
	rdmsr
	or %edx, %eax
	check z, "leaving tsc-deadline mode disarms it"
	movl $0x10000, APIC + 0x320
	debug_exit 0x1d

/* 5 ms by the TSC. */
wait_5ms:
	tsc_plus 5000000
	mov %eax, %ebx
	mov %edx, %esi
1:	rdtsc
	sub %ebx, %eax
	sbb %esi, %edx
	js 1b
	ret

pic_init:
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
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1
	ret

irq0:
	incl TICKS
	push %eax
	mov $0x20, %al
	out %al, $0x20
	pop %eax
	iret

apic_irq:
	push %eax
	push %ecx
	push %edx
	incl IRQS
	rdtsc
	mov %eax, IRQ_TSC
	mov %edx, IRQ_TSC + 4
	cmpl $0, X2
	je 1f
	mov $0x80b, %ecx
	xor %eax, %eax
	xor %edx, %edx
	wrmsr
	jmp 2f
1:	movl $0, APIC + 0xb0
2:	pop %edx
	pop %ecx
	pop %eax
	iret

	apic_routines
	serial_routines
	flat_gdt
idt_ptr:
	.word 256 * 8 - 1
	.long IDT32
