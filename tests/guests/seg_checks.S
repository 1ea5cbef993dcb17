/*
 * The translator checks a segment's type once per block in 16- and
 * 32-bit code.  When that first check fails (the handler does the
 * access), the block must not go on as if it had passed: a later access
 * through the same segment in the same block has to see the type again.
 * - read-only ES: a read (done by the handler), then a write: #GP;
 * - expand-down FS (limit 0xfff): a read above the limit (valid), then
 *   one below it: #GP.
 * Each pair runs LOOPS times (blocks are translated on their second
 * entry) and must fault each time at the second access.
 * - DS flat, then based: a block translated while DS was flat (whose
 *   accesses apply no base or limit) must see the base of the DS loaded
 *   later, and fault past that one's limit.  Prints "ok
 * <name>" or "FAIL <name>"; ends with 0x22 (status 69), or 0x23 (71) if
 * a check failed.
 */
#include "guest.h"
#define LOOPS 4
#define IDT 0x6000
#define FAULTS 0x600
#define RECOVER 0x604
#define FAILS 0x608

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	movl $0, FAILS
	/* #GP (vector 13): a 32-bit interrupt gate to gp_handler */
	mov $IDT + 13 * 8, %edi
	mov $LIN(gp_handler), %eax
	mov %ax, (%edi)
	movw $0x08, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	lidt LIN(idt_ptr)

	/* ---- read-only ES ---- */
	mov $0x20, %ax
	mov %ax, %es
	movl $0, FAULTS
	mov $LOOPS, %ebx
	mov $0x500, %esi
1:	movl $LIN(2f), RECOVER
	mov %es:(%esi), %eax		/* ModRM forms: the translator's */
	mov %eax, %es:4(%esi)
	jmp 3f			/* no fault: fails below */
2:	dec %ebx
	jnz 1b
3:	mov $0x10, %ax
	mov %ax, %es
	cmpl $LOOPS, FAULTS
	jne 4f
	puts32 msg_ok_ro
	jmp 5f
4:	incl FAILS
	puts32 msg_fail_ro
5:
	/* ---- expand-down FS ---- */
	mov $0x28, %ax
	mov %ax, %fs
	movl $0, FAULTS
	mov $LOOPS, %ebx
	mov $0x2000, %esi
	mov $0x800, %edi
1:	movl $LIN(2f), RECOVER
	mov %fs:(%esi), %eax
	mov %fs:(%edi), %eax
	jmp 3f
2:	dec %ebx
	jnz 1b
3:	mov $0x10, %ax
	mov %ax, %fs
	cmpl $LOOPS, FAULTS
	jne 4f
	puts32 msg_ok_ed
	jmp 5f
4:	incl FAILS
	puts32 msg_fail_ed
5:
	/* ---- a block translated with DS flat, run with DS based ---- */
	movl $0x11111111, 0x3000
	movl $0x22222222, 0x4000
	mov $LOOPS, %ebx
1:	mov $0x3000, %esi
	call read_ds
	dec %ebx
	jnz 1b
	cmp $0x11111111, %eax
	jne 4f
	mov $0x30, %ax		/* base 0x1000 */
	mov %ax, %ds
	mov $0x3000, %esi
	call read_ds		/* linear 0x4000 */
	mov $0x10, %cx
	mov %cx, %ds
	cmp $0x22222222, %eax
	jne 4f
	mov $0x38, %ax		/* base 0, limit 0xfff */
	mov %ax, %ds
	movl $0, FAULTS
	movl $LIN(2f), RECOVER
	mov %esp, %ebp		/* a fault leaves read_ds's return address */
	call read_ds		/* 0x3000: past the limit, #GP */
2:	mov %ebp, %esp
	mov $0x10, %ax
	mov %ax, %ds
	cmpl $1, FAULTS
	jne 4f
	puts32 msg_ok_flat
	jmp 5f
4:	mov $0x10, %ax
	mov %ax, %ds
	incl FAILS
	puts32 msg_fail_flat
5:	cmpl $0, FAILS
	jne 6f
	debug_exit 0x22
6:	debug_exit 0x23

read_ds:
	mov (%esi), %eax
	ret

/* Count the fault, go on at RECOVER. */
gp_handler:
	incl FAULTS
	add $4, %esp			/* the error code */
	push %eax
	mov RECOVER, %eax
	mov %eax, 4(%esp)
	pop %eax
	iret

	.p2align 2
idt_ptr:
	.word 32 * 8 - 1
	.long IDT

msg_ok_ro:	.asciz "ok read-only es\n"
msg_fail_ro:	.asciz "FAIL read-only es\n"
msg_ok_ed:	.asciz "ok expand-down fs\n"
msg_fail_ed:	.asciz "FAIL expand-down fs\n"
msg_ok_flat:	.asciz "ok ds flat then based\n"
msg_fail_flat:	.asciz "FAIL ds flat then based\n"

	serial_routines

/* flat_gdt's segments; a read-only flat data segment (0x20), an
 * expand-down writable one with limit 0xfff (0x28), a writable one at
 * base 0x1000 (0x30) and one at base 0 with limit 0xfff (0x38) */
	flat_gdt 0x00cf90000000ffff, 0x0040960000000fff, 0x00cf92001000ffff, 0x0040920000000fff
