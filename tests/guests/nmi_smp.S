/*
 * NMIs between two CPUs (run with two vCPUs): the BSP starts the AP with
 * INIT and a start-up IPI (vector 0xF0: CS=0xF000, IP=0, this image's
 * first byte, where both CPUs tell themselves apart by IA32_APIC_BASE's
 * BSP bit); the AP's APIC after reset (ID 1, no BSP flag, LINT0 masked:
 * only the BSP's is the 8259's virtual wire); the AP halts with IF=0, the BSP's NMI (ICR, physical APIC 1)
 * wakes it, and the AP answers with an NMI to APIC 0 that the BSP takes
 * with IF=0.  Ends with 0x1d (status 59), 0x3f (127) after a "FAIL" line.
 */
#include "guest.h"
#include "apic_checks.h"
#define NMIS0 0x500		/* NMIs the BSP took */
#define NMIS1 0x504		/* NMIs the AP took */
#define AP_READY 0x508		/* the AP is in protected mode, APIC on */
#define AP_HALTS 0x50c		/* HLTs the AP left */
#define AP_ID 0x510		/* the AP's ID register */
#define AP_BASE 0x514		/* the AP's IA32_APIC_BASE */
#define AP_LINT0 0x518		/* the AP's LINT0 entry */

	reset_vector
	.code16
	.globl _start
_start:				/* first byte of the image: the AP starts here too */
	ap_goes_to ap_start
	enter_pm32 pm32
	xor %eax, %eax
	mov %eax, NMIS0
	mov %eax, NMIS1
	mov %eax, AP_READY
	mov %eax, AP_HALTS
	gate 2, nmi
	gate 13, gp_skip2
	lidt LIN(idt_ptr)
	mov $0xff, %al			/* both 8259s masked */
	out %al, $0x21
	out %al, $0xa1
	start_ap
	wait_for AP_READY, 1
	check e, "ap started"
	cmpl $(1 << 24), AP_ID
	check e, "ap's apic id 1 << 24"
	cmpl $0xfee00800, AP_BASE
	check e, "ap's ia32_apic_base without the bsp flag"
	cmpl $0x10000, AP_LINT0
	check e, "ap's lint0 masked"
	mov $2000000, %ecx		/* let it reach its HLT */
1:	loop 1b
	cmpl $0, AP_HALTS
	check e, "ap halted with if=0"
	movl $(1 << 24), APIC + 0x310	/* NMI to APIC 1 */
	movl $0x4400, APIC + 0x300
	wait_for NMIS1, 1
	check e, "nmi to another cpu wakes it from hlt"
	wait_for NMIS0, 1
	check e, "nmi from another cpu taken with if=0"
	debug_exit 0x1d

	.code16
ap_start:
	enter_pm32 ap32, 0x5000
	lidt LIN(idt_ptr)
	mov APIC + 0x20, %eax
	mov %eax, AP_ID
	mov APIC + 0x350, %eax
	mov %eax, AP_LINT0
	mov $0x1b, %ecx
	rdmsr
	mov %eax, AP_BASE
	movl $0x1ff, APIC + 0xf0
	movl $1, AP_READY
1:	hlt				/* IF=0: only an NMI ends it */
	incl AP_HALTS
	cmpl $1, NMIS1
	jb 1b
	movl $0, APIC + 0x310		/* answer: NMI to APIC 0 */
	movl $0x4400, APIC + 0x300
2:	hlt
	jmp 2b

/* NMI: count on the CPU that took it (APIC ID from its ID register). */
nmi:
	push %eax
	mov APIC + 0x20, %eax
	shr $24, %eax
	incl NMIS0(,%eax,4)
	pop %eax
	iret

	apic_routines
	serial_routines
	flat_gdt
idt_ptr:
	.word 256 * 8 - 1
	.long IDT32
