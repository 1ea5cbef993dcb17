/*
 * Exceptions and privilege changes in long mode: #DE, #UD, #BP, #GP and
 * #PF (not present, write, NX, user write to a read-only page) delivered
 * through a 64-bit IDT with the right vector, error code and CR2; a trip
 * to ring 3 through IRETQ (with the TSS stack on the way back) and back
 * through SYSCALL; a #DF on its own IST stack.
 * Prints one line per check; ends with 0x17 (status 47) if all passed,
 * else 0x18 (status 49).
 */
#include "guest.h"
#define PML4 0x1000
#define PDPT 0x2000
#define PD   0x3000
#define TSS  0x5000
#define IDT  0x6000
#define VEC     0x7f00
#define ERR     0x7f08
#define FCR2    0x7f10
#define RECOVER 0x7f18
#define FAILS   0x7f20
#define FCS     0x7f28
/* Compare the recorded vector and error code; print ok/FAIL name. */
.macro check vec, err, name
	cmpq $\vec, VEC
	jne 8f
	cmpq $\err, ERR
	jne 8f
	puts32 ok_\name
	jmp 7f
8:	puts32 fail_\name
	incq FAILS
7:
.endm
.macro messages name
ok_\name: .ascii "ok \name\n\0"
fail_\name: .ascii "FAIL \name\n\0"
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
	ljmpl $0x38, $LIN(pm32)

	.code32
pm32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7000, %esp
	/* Page tables: 1 GiB identity, user-accessible; 2-4 MiB read-only. */
	identity_map_1g 7
	movl $0x200085, PD + 8		/* 2 MiB page at 2 MiB: present, user, read-only */
	movl $0x80000000, PD + 16 + 4	/* 2 MiB page at 4 MiB: NX */
	mov $PML4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $0xc0000080, %ecx
	rdmsr
	or $0x901, %eax			/* LME, NXE, SCE */
	wrmsr
	mov %cr0, %eax
	or $0x80010000, %eax		/* PG, WP */
	mov %eax, %cr0
	ljmp $0x08, $LIN(lm64)

	.code64
lm64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7000, %rsp
	movq $0, FAILS
	/* TSS: RSP0 and IST1. */
	mov $TSS, %rdi
	xor %eax, %eax
	mov $(0x68 / 4), %ecx
	rep stosl
	movq $0x8000, TSS + 4
	movq $0x9800, TSS + 0x24
	movw $0x68, TSS + 0x66
	mov $0x28, %ax
	ltr %ax
	/* IDT: every vector to a handler that records it. */
	fill_idt64 IDT, 0x08, 32
	movb $1, IDT + 8 * 16 + 4	/* #DF on IST1 */
	lidt idt_ptr + ROM_LOW
	/* SYSCALL target and selectors. */
	mov $0xc0000082, %ecx
	mov $LIN(syscall_entry), %eax
	xor %edx, %edx
	wrmsr
	mov $0xc0000081, %ecx
	xor %eax, %eax
	mov $0x00100008, %edx		/* SYSRET base 0x10, SYSCALL base 0x08 */
	wrmsr

	movq $LIN(after_de), RECOVER
	mov $1, %eax
	xor %ecx, %ecx
	div %ecx
after_de:
	check 0, 0, de

	movq $LIN(after_ud), RECOVER
	ud2
after_ud:
	check 6, 0, ud

	movq $LIN(after_bp), RECOVER
	int3
after_bp:
	check 3, 0, bp

	movq $LIN(after_gp), RECOVER
	movabs $0x8000000000000000, %rax
	mov (%rax), %rax
after_gp:
	check 13, 0, gp

	movq $LIN(after_pf_read), RECOVER
	mov 0x40000123, %eax
after_pf_read:
	check 14, 0, pf_read
	cmpq $0x40000123, FCR2
	jne fail_cr2

	movq $LIN(after_pf_write), RECOVER
	movl $1, 0x40000000
after_pf_write:
	check 14, 2, pf_write

	movq $LIN(after_pf_wp), RECOVER
	movl $1, 0x200000
after_pf_wp:
	check 14, 3, pf_wp

	movq $LIN(after_nx), RECOVER
	mov $0x400000, %eax
	call *%rax
after_nx:
	check 14, 0x11, pf_nx

	/* Ring 3: IRETQ to user code, which faults and then makes a syscall. */
	movq $LIN(user_after_fault), RECOVER
	push $0x1b			/* SS: user data, RPL 3 */
	push $0x7800			/* RSP */
	push $0x002			/* RFLAGS */
	push $0x23			/* CS: user code, RPL 3 */
	push $LIN(user_code)
	iretq

	/* ---- ring 3 ---- */
user_code:
	movl $1, 0x200000		/* read-only page: #PF, error P|W|U */
user_after_fault:
	syscall

	/* ---- back in ring 0 through SYSCALL ---- */
syscall_entry:
	mov $0x7000, %rsp
	check 14, 7, pf_user
	cmpq $0x23, FCS			/* the fault came from ring 3 */
	jne fail_cs
	puts32 msg_ring3

	/* #DF: a #GP whose delivery faults (#NP on a non-present gate). */
	andb $0x7f, IDT + 13 * 16 + 5	/* clear P of the #GP gate */
	movq $LIN(after_df), RECOVER
	movabs $0x8000000000000000, %rax
	mov (%rax), %rax
after_df:
	check 8, 0, df
	cmpq $0, FAILS
	jne 9f
	puts32 msg_all
	debug_exit 0x17
9:	debug_exit 0x18

fail_cr2:
	puts32 msg_fail_cr2
	incq FAILS
	debug_exit 0x18
fail_cs:
	puts32 msg_fail_cs
	debug_exit 0x18

	exception_stubs

common:
	push %rax
	mov 8(%rsp), %rax
	mov %rax, VEC
	mov 16(%rsp), %rax
	mov %rax, ERR
	mov 32(%rsp), %rax
	mov %rax, FCS
	mov %cr2, %rax
	mov %rax, FCR2
	mov RECOVER, %rax
	mov %rax, 24(%rsp)
	pop %rax
	add $16, %rsp
	iretq

	serial_routines
	.p2align 3
gdt:	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit kernel code */
	.quad 0x00cf92000000ffff	/* 0x10: kernel data */
	.quad 0x00cff2000000ffff	/* 0x18: user data (SYSRET SS) */
	.quad 0x00affa000000ffff	/* 0x20: 64-bit user code (SYSRET CS) */
	.quad 0x0000890050000067	/* 0x28: TSS at 0x5000, limit 0x67 */
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x38: 32-bit code for the switch */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long LIN(gdt)
idt_ptr:
	.word 32 * 16 - 1
	.quad IDT
	.irp n, de, ud, bp, gp, pf_read, pf_write, pf_wp, pf_nx, pf_user, df
	messages \n
	.endr
msg_ring3:    .asciz "ok ring3 iretq/syscall\n"
msg_all:      .asciz "all exceptions ok\n"
msg_fail_cr2: .asciz "FAIL cr2\n"
msg_fail_cs:  .asciz "FAIL cs of the user fault\n"
