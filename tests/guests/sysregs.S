/*
 * System registers and instructions at the edges the SDM defines:
 * POP SS between 16- and 32-bit stacks (the stack pointer moves by the
 * width of the stack popped from); WRMSR of a non-canonical address to
 * the base and entry-point MSRs (#GP, the MSR keeps its value); reserved
 * bits of EFER, PAT, MISC_ENABLE, SFMASK, TSC_AUX (#GP, unchanged);
 * LTR/LLDT of a 16-byte descriptor with a non-canonical base or a
 * non-zero type in its upper half (#GP(selector)); INVLPG of a
 * non-canonical address (a NOP).
 * Prints one line per check; ends with 0x1b (status 55) if all passed,
 * else 0x1c (status 57).
 */
#include "guest.h"
#define PML4 0x1000
#define PDPT 0x2000
#define PD   0x3000
#define IDT  0x6000
#define VEC     0x7f00
#define ERR     0x7f08
#define RECOVER 0x7f18
#define FAILS   0x7f20
#define SAVED   0x7f28

.macro messages name
ok_\name: .ascii "ok \name\n\0"
fail_\name: .ascii "FAIL \name\n\0"
.endm
/* Print ok/FAIL name as the flags of the last comparison say. */
.macro report name
	jne 8f
	puts32 ok_\name
	jmp 7f
8:	puts32 fail_\name
	incq FAILS
7:
.endm
/* Before an instruction that may fault: no vector seen yet, resume at 1f. */
.macro try
	movq $0xff, VEC
	movq $LIN(1f), RECOVER
.endm
/* WRMSR of edx:eax must raise #GP(0) and leave the MSR as it was. */
.macro wrmsr_gp msr, name
	push %rdx
	push %rax
	mov $\msr, %ecx
	rdmsr
	mov %eax, SAVED
	mov %edx, SAVED + 4
	pop %rax
	pop %rdx
	try
	wrmsr
1:	mov $\msr, %ecx
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	cmp SAVED, %rax
	jne 8f
	cmpq $13, VEC
	jne 8f
	cmpq $0, ERR
	report \name
.endm
/* A canonical value, then a non-canonical one that must #GP. */
.macro noncanonical msr, name
	mov $\msr, %ecx
	mov $0x56789000, %eax
	mov $0x00001234, %edx
	wrmsr
	xor %eax, %eax
	mov $0x00008000, %edx
	wrmsr_gp \msr, \name
.endm
/* LTR or LLDT of sel must raise #GP(sel). */
.macro load_gp insn, sel, name
	mov $\sel, %ax
	try
	\insn %ax
1:	cmpq $13, VEC
	jne 8f
	cmpq $\sel, ERR
	report \name
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
	ljmpl $0x20, $LIN(pm32)

	.code32
pm32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7000, %esp
	movl $0, FAILS
	movl $0, FAILS + 4

	/* POP SS from a 16-bit stack at SP=0xfffc into a 32-bit SS: SP
	 * wraps to 0, ESP's upper half stays 0 (not ESP = 0x10000). */
	movl $0x10, 0xfffc
	mov $0x18, %ax
	mov %ax, %ss
	mov $0xfffc, %esp
	pop %ss
	mov %esp, %ebx
	mov $0x10, %ax
	mov %ax, %ss
	mov $0x7000, %esp
	cmp $0, %ebx
	jne 8f
	puts32 ok_pop_ss_from_16bit_stack
	jmp 7f
8:	puts32 fail_pop_ss_from_16bit_stack
	incl FAILS
7:
	/* POP SS from a 32-bit stack into a 16-bit SS: ESP moves by 4 as
	 * a 32-bit register (0x20000, not SP wrapping to 0x10000). */
	movl $0x18, 0x1fffc
	mov $0x1fffc, %esp
	pop %ss
	mov %esp, %ebx
	mov $0x10, %ax
	mov %ax, %ss
	mov $0x7000, %esp
	cmp $0x20000, %ebx
	jne 8f
	puts32 ok_pop_ss_from_32bit_stack
	jmp 7f
8:	puts32 fail_pop_ss_from_32bit_stack
	incl FAILS
7:

	/* Long mode: the first GiB identity-mapped with 2 MiB pages. */
	identity_map_1g 3
	mov $PML4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax			/* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	ljmp $0x08, $LIN(lm64)

	.code64
lm64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7000, %rsp
	/* IDT: every vector to a handler that records it. */
	fill_idt64 IDT, 0x08, 32
	lidt idt_ptr + ROM_LOW

	noncanonical 0xc0000100, wrmsr_fs_base_noncanonical
	noncanonical 0xc0000101, wrmsr_gs_base_noncanonical
	noncanonical 0xc0000102, wrmsr_kernel_gs_base_noncanonical
	noncanonical 0x175, wrmsr_sysenter_esp_noncanonical
	noncanonical 0x176, wrmsr_sysenter_eip_noncanonical
	noncanonical 0xc0000082, wrmsr_lstar_noncanonical
	noncanonical 0xc0000083, wrmsr_cstar_noncanonical

	/* EFER: a reserved bit; LME cleared while paging is on. */
	mov $0xc0000080, %ecx
	rdmsr
	or $0x2, %eax
	wrmsr_gp 0xc0000080, efer_reserved_bit
	mov $0xc0000080, %ecx
	rdmsr
	and $~0x100, %eax
	wrmsr_gp 0xc0000080, efer_lme_change_while_paging
	/* PAT: memory type 2 and 8 are reserved; WC (1) is fine. */
	mov $0x00070402, %eax
	mov $0x00070406, %edx
	wrmsr_gp 0x277, pat_type_2
	mov $0x00070406, %eax
	mov $0x00070408, %edx
	wrmsr_gp 0x277, pat_type_8
	mov $0x277, %ecx
	mov $0x00070106, %eax
	mov $0x00070406, %edx
	wrmsr
	rdmsr
	cmp $0x00070106, %eax
	report pat_wc_accepted
	mov $0x277, %ecx
	mov $0x00070406, %eax
	mov %eax, %edx
	wrmsr
	/* SFMASK and TSC_AUX: the upper half is reserved. */
	xor %eax, %eax
	mov $1, %edx
	wrmsr_gp 0xc0000084, sfmask_upper_half
	xor %eax, %eax
	mov $1, %edx
	wrmsr_gp 0xc0000103, tsc_aux_upper_half

	/* MISC_ENABLE bit 1 and the MTRR default type's bit 9 are reserved. */
	mov $0x1a0, %ecx
	rdmsr
	or $0x2, %eax
	wrmsr_gp 0x1a0, misc_enable_reserved_bit
	mov $0x2ff, %ecx
	rdmsr
	or $0x200, %eax
	wrmsr_gp 0x2ff, mtrr_def_type_reserved_bit
	/* An MSR nobody models: RDMSR and WRMSR raise #GP(0). */
	mov $0x4000ffff, %ecx
	try
	rdmsr
1:	cmpq $13, VEC
	report rdmsr_unknown
	mov $0x4000ffff, %ecx
	try
	wrmsr
1:	cmpq $13, VEC
	report wrmsr_unknown

	/* 16-byte system descriptors in long mode. */
	load_gp ltr, 0x38, ltr_noncanonical_base
	load_gp lldt, 0x48, lldt_noncanonical_base
	load_gp ltr, 0x58, ltr_upper_type_nonzero

	/* INVLPG of a non-canonical address does nothing. */
	try
	movabs $0x8000000000001000, %rax
	invlpg (%rax)
1:	cmpq $0xff, VEC
	report invlpg_noncanonical_is_a_nop

	cmpq $0, FAILS
	jne 9f
	puts32 msg_all
	debug_exit 0x1b
9:	debug_exit 0x1c

	exception_stubs

common:
	push %rax
	mov 8(%rsp), %rax
	mov %rax, VEC
	mov 16(%rsp), %rax
	mov %rax, ERR
	mov RECOVER, %rax
	mov %rax, 24(%rsp)
	pop %rax
	add $16, %rsp
	iretq

	serial_routines
	.p2align 3
gdt:	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: 32-bit flat data */
	.quad 0x000092000000ffff	/* 0x18: 16-bit data, limit 0xffff */
	.quad 0x00cf9a000000ffff	/* 0x20: 32-bit code */
	.quad 0x0000890050000067	/* 0x28: 64-bit TSS at 0x5000 */
	.quad 0
	.quad 0x0000890050000067	/* 0x38: TSS based at 0x0000800000005000 */
	.quad 0x0000000000008000
	.quad 0x0000820050000067	/* 0x48: LDT based at 0x0000800000005000 */
	.quad 0x0000000000008000
	.quad 0x0000890050000067	/* 0x58: TSS, upper half's type 9 */
	.quad 0x0000090000000000
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long LIN(gdt)
idt_ptr:
	.word 32 * 16 - 1
	.quad IDT
	.irp n, pop_ss_from_16bit_stack, pop_ss_from_32bit_stack, wrmsr_fs_base_noncanonical, wrmsr_gs_base_noncanonical, wrmsr_kernel_gs_base_noncanonical, wrmsr_sysenter_esp_noncanonical, wrmsr_sysenter_eip_noncanonical, wrmsr_lstar_noncanonical, wrmsr_cstar_noncanonical, efer_reserved_bit, efer_lme_change_while_paging, pat_type_2, pat_type_8, pat_wc_accepted, sfmask_upper_half, tsc_aux_upper_half, misc_enable_reserved_bit, mtrr_def_type_reserved_bit, rdmsr_unknown, wrmsr_unknown, ltr_noncanonical_base, lldt_noncanonical_base, ltr_upper_type_nonzero, invlpg_noncanonical_is_a_nop
	messages \n
	.endr
msg_all: .asciz "all sysregs ok\n"
