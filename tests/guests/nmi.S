/*
 * NMI delivery and blocking (SDM 6.7.1) in 32-bit protected mode: a
 * self-NMI through the local APIC's ICR is taken with IF=0; while its
 * handler runs a second one waits (one latched, a third is lost) and is
 * taken right after the handler's IRET, before any instruction of the
 * interrupted code; the self shorthand works too; an NMI from the IOAPIC
 * (the PIT on pin 2, delivery mode NMI) wakes a CPU halted with IF=0.
 * Ends with 0x1d (status 59), 0x3f (127) after a "FAIL" line.
 */
#include "guest.h"
#include "apic_checks.h"
#define NMIS 0x500		/* NMIs taken */
#define MODE 0x504		/* what the handler does: see nmi */
#define FIRST_RET 0x508		/* where the first NMI interrupted */
#define SAME_RET 0x50c		/* the second NMI interrupted there too */
#define NESTED 0x510		/* an NMI came inside the handler */
#define STEPS 0x514		/* loop iterations of the interrupted code */
#define FIRST_STEPS 0x518	/* STEPS when the first NMI came */

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm32
	gate 2, nmi
	gate 13, gp_skip2
	lidt LIN(idt_ptr)
	mov $0xff, %al			/* both 8259s masked */
	out %al, $0x21
	out %al, $0xa1
	mov $0x30, %al			/* PIT channel 0 waits for a count */
	out %al, $0x43
	movl $0x1ff, APIC + 0xf0	/* local APIC on */
	xor %eax, %eax
	mov %eax, NMIS
	mov %eax, MODE
	mov %eax, NESTED
	mov %eax, SAME_RET

	/* An NMI does not care about IF. */
	call send_nmi
	wait_for NMIS, 1
	check e, "nmi taken with if=0"

	/* Mode 1: the handler sends itself another NMI, which waits. */
	movl $0, NMIS
	movl $1, MODE
	call send_nmi
	mov $50000000, %ecx		/* counts its iterations */
1:	incl STEPS
	cmpl $2, NMIS
	jae 2f
	loop 1b
2:	cmpl $2, NMIS
	check e, "second nmi waits for iret"
	cmpl $0, NESTED
	check e, "no nmi inside the nmi handler"
	cmpl $1, SAME_RET
	check e, "latched nmi taken right after iret"

	/* Mode 2: two more NMIs inside the handler: one is latched. */
	movl $0, NMIS
	movl $2, MODE
	call send_nmi
	wait_for NMIS, 2
	mov $1000000, %ecx		/* a third would come by now */
1:	loop 1b
	cmpl $2, NMIS
	check e, "one nmi latched while blocked"

	/* The self shorthand. */
	movl $0, NMIS
	movl $0, MODE
	movl $0x44400, APIC + 0x300	/* self, NMI, assert */
	wait_for NMIS, 1
	check e, "self-shorthand nmi"

	/* PIT one-shot (mode 0, 5 ms) on IOAPIC pin 2 as an NMI: wakes HLT
	 * with IF=0. */
	movl $0, NMIS
	rte 2, $0x400			/* NMI, edge, physical, APIC 0 */
	mov $(5966 & 0xff), %al
	out %al, $0x40
	mov $(5966 >> 8), %al
	out %al, $0x40
	hlt
	rte 2, $0x10000
	cmpl $1, NMIS
	check e, "ioapic nmi wakes hlt with if=0"
	debug_exit 0x1d

send_nmi:
	movl $0, APIC + 0x310		/* APIC 0 */
	movl $0x4400, APIC + 0x300	/* physical, NMI, assert */
	ret

/* NMI: count; the first of a series remembers where it interrupted, a
 * later one whether it interrupted the same place with the same STEPS
 * (nothing ran between).
 * MODE 1 and 2 send 1 or 2 NMIs from the handler and spin: none may come
 * before IRET. */
nmi:
	push %eax
	push %ecx
	incl NMIS
	mov 8(%esp), %eax		/* the interrupted EIP */
	cmpl $1, NMIS
	jne 3f
	mov %eax, FIRST_RET
	mov STEPS, %eax
	mov %eax, FIRST_STEPS
	cmpl $0, MODE
	je 4f
	call send_nmi
	cmpl $2, MODE
	jne 1f
	call send_nmi
1:	mov $200000, %ecx
2:	cmpl $1, NMIS
	jne 5f
	loop 2b
	jmp 4f
5:	movl $1, NESTED
	jmp 4f
3:	cmp FIRST_RET, %eax
	jne 4f
	mov STEPS, %eax
	cmp FIRST_STEPS, %eax
	jne 4f
	movl $1, SAME_RET
4:	pop %ecx
	pop %eax
	iret

	apic_routines
	serial_routines
	flat_gdt
idt_ptr:
	.word 256 * 8 - 1
	.long IDT32
