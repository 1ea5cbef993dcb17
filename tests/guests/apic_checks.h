/*
 * Shared pieces of the interrupt-controller tiny guests (apic.S,
 * apic_modes.S, nmi.S): 32-bit flat protected mode, an IDT at IDT32,
 * variables at 0x500 and up, one "ok ..." line per check and a
 * "FAIL ..." line naming the first check that did not hold.
 */
#define APIC 0xfee00000
#define IOAPIC 0xfec00000
#define HPET 0xfed00000
#define IDT32 0x6000
#define GPS 0x4f0		/* #GP count (gp_skip2) */

/* IDT gate for vector v to label (32-bit interrupt gate, selector 0x08). */
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

/* Print "ok <name>" when the check passed (flags from a cmp/test and the
 * condition that means success), else "FAIL <name>" and end. */
.macro check cond, name
	j\cond 91f
	mov $LIN(92f), %esi
	jmp fail_named
91:	puts32 93f
	.section .rodata
93:	.ascii "ok "
92:	.asciz "\name\n"
	.text
.endm

/* Spin (bounded) until the dword at addr is at least n; ZF/CF as cmp. */
.macro wait_for addr, n
	mov $50000000, %ecx
94:	cmpl $\n, \addr
	jae 95f
	pause
	loop 94b
95:	cmpl $\n, \addr
.endm

/* Two-CPU guests: start APIC 1 with INIT and a start-up IPI of vector
 * 0xF0 (CS=0xF000, IP=0: the image's first byte, ap_goes_to). */
.macro start_ap
	movl $0x1ff, APIC + 0xf0
	movl $(1 << 24), APIC + 0x310	/* APIC 1: INIT, then start-up */
	movl $0x4500, APIC + 0x300
	mov $100000, %ecx		/* (the SDM's 10 ms, shortened) */
96:	loop 96b
	movl $0x46f0, APIC + 0x300
.endm

/* At the image's first byte, where both CPUs start: the AP (no BSP
 * flag in IA32_APIC_BASE) goes on at label. */
.macro ap_goes_to label
	mov $0x1b, %ecx
	rdmsr
	test $0x100, %eax
	jz \label
.endm

/* The instruction insn must raise #GP (the handler skips its 2 bytes). */
.macro expect_gp name, insn:vararg
	movl $0, GPS
	\insn
	cmpl $1, GPS
	check e, "\name"
.endm

/* Routines: fail_named prints the string at esi and ends with code 0x3f;
 * gp_skip2 counts a #GP and resumes after the 2-byte faulting
 * instruction (RDMSR, WRMSR). */
.macro apic_routines
fail_named:
	cli
	push %esi
	puts32 msg_FAIL
	pop %esi
	call puts32_impl
	debug_exit 0x3f
gp_skip2:
	incl GPS
	addl $2, 4(%esp)	/* past the error code: EIP */
	add $4, %esp
	iret
msg_FAIL: .asciz "FAIL "
.endm
