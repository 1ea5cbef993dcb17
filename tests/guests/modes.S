/*
 * Mode switches as an OS performs them: real mode -> 32-bit protected mode
 * -> long mode (PAE paging, EFER.LME, 64-bit code segment), reporting each
 * step over COM1; a 64-bit computation proves 64-bit registers work.
 * Ends with debug-exit 0x11 (exit status 35).
 */
#include "guest.h"
#define PML4 0x1000
#define PDPT 0x2000
#define PD   0x3000
	reset_vector
	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov $0x7000, %sp
	puts16 msg_real
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
	puts32 msg_prot
	/* Identity-map the first GiB with 2 MiB pages. */
	mov $PML4, %edi
	xor %eax, %eax
	mov $(3 * 4096 / 4), %ecx
	rep stosl
	movl $(PDPT | 3), PML4
	movl $(PD | 3), PDPT
	mov $PD, %edi
	mov $0x83, %eax
	mov $512, %ecx
1:	mov %eax, (%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 1b
	mov $PML4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax		/* PAE */
	mov %eax, %cr4
	mov $0xc0000080, %ecx	/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax	/* PG */
	mov %eax, %cr0
	ljmp $0x18, $LIN(lm64)

	.code64
lm64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7000, %rsp
	puts32 msg_long
	/* Check EFER.LMA and a 64-bit multiply. */
	mov $0xc0000080, %ecx
	rdmsr
	test $0x400, %eax
	jz fail
	mov $0x100000001, %rax
	mov $0x10, %rbx
	imul %rbx, %rax
	mov $0x1000000010, %rcx
	cmp %rcx, %rax
	jne fail
	puts32 msg_ok
	debug_exit 0x11
fail:
	puts32 msg_fail
	debug_exit 0x12

	serial_routines
	.p2align 3
gdt:	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
	.quad 0x00af9a000000ffff	/* 0x18: 64-bit code */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long LIN(gdt)
msg_real: .asciz "real mode\n"
msg_prot: .asciz "protected mode\n"
msg_long: .asciz "long mode\n"
msg_ok:   .asciz "64-bit arithmetic ok\n"
msg_fail: .asciz "FAIL\n"
