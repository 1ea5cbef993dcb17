/*
 * Cross-modifying code between two CPUs (run with two vCPUs): the AP
 * stores, over and over, the immediate of "mov $imm, %eax; ret" in a RAM
 * page, whatever value the BSP asks for, while the BSP calls that
 * function.  Each value the AP has stored must be what the BSP's next
 * call returns.  The AP's store loop runs long enough to be translated
 * and to find the page writable at full speed before it holds code:
 * when the BSP's call caches the code, the AP must lose that (the
 * page's write tags in every vCPU's TLB), or its stores go unseen and
 * the BSP keeps running the code it cached first.  Ends with 0x1d
 * (status 59), 0x3f (127) after a "FAIL" line.
 */
#include "guest.h"
#include "apic_checks.h"
#define FUNC 0x8000		/* B8 imm32 (mov $imm, %eax), C3 (ret) */
#define VALUE 0x500		/* the immediate the BSP asks for */
#define STORES 0x504		/* stores the AP made */
#define AP_READY 0x508

	reset_vector
	.code16
	.globl _start
_start:				/* first byte of the image: the AP starts here too */
	ap_goes_to ap_start
	enter_pm32 pm32
	movl $0, AP_READY
	movl $0, STORES
	movl $1, VALUE
	movb $0xb8, FUNC
	movl $1, FUNC + 1
	movb $0xc3, FUNC + 5
	gate 13, gp_skip2
	lidt LIN(idt_ptr)
	start_ap
	wait_for AP_READY, 1
	check e, "ap started"
	wait_for STORES, 100000		/* its loop translated by now */
	check ae, "ap keeps storing"
	/* the code cached (and translated) while the AP stores 1 */
	mov $20, %ebx
1:	mov $FUNC, %eax		/* (absolute: the image runs where it is not linked) */
	call *%eax
	cmp $1, %eax
	jne 2f
	dec %ebx
	jnz 1b
2:	cmp $1, %eax
	check e, "the function returns what the ap stores"
	/* new values: each one seen once the AP has stored it */
	mov $2, %edi
3:	mov %edi, %eax
	xchg %eax, VALUE		/* (a barrier: seen before STORES is read) */
	mov STORES, %edx
	add $2, %edx			/* a whole iteration after the change */
	mov $50000000, %ecx
4:	cmp %edx, STORES
	jae 5f
	pause
	loop 4b
5:	mov $FUNC, %eax
	call *%eax
	cmp %edi, %eax
	jne 6f
	inc %edi
	cmp $12, %edi
	jb 3b
6:	cmp $12, %edi
	check e, "each value the ap stores is what the next call returns"
	debug_exit 0x1d

	.code16
ap_start:
	enter_pm32 ap32, 0x5000
	movl $1, AP_READY
	mov $VALUE, %esi		/* (ModRM forms: the translator's inline ones) */
	mov $FUNC + 1, %edi
1:	mov (%esi), %eax
	mov %eax, (%edi)
	lock incl STORES - VALUE(%esi)	/* (a barrier: the next load of VALUE
					 * follows it) */
	jmp 1b

	apic_routines
	serial_routines
	flat_gdt
idt_ptr:
	.word 256 * 8 - 1
	.long IDT32
