/*
 * MMIO to an address no device claims (0xFEB00000, in the PCI hole): the
 * read returns all ones, the write is ignored, and the guest continues.
 * Prints "mmio ok" and exits 0x15 (status 43), or "mmio FAIL" and 0x16.
 */
#include "guest.h"
#define UNASSIGNED 0xfeb00000
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
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
	movl $0x12345678, UNASSIGNED
	mov UNASSIGNED, %eax
	cmp $0xffffffff, %eax
	jne fail
	movb UNASSIGNED + 3, %al
	cmp $0xff, %al
	jne fail
	puts32 msg_ok
	debug_exit 0x15
fail:
	puts32 msg_fail
	debug_exit 0x16

	serial_routines
	.p2align 3
gdt:	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long LIN(gdt)
msg_ok:   .asciz "mmio ok\n"
msg_fail: .asciz "mmio FAIL\n"
