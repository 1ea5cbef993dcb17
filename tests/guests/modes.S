/*
 * Mode switches as an OS performs them: real mode -> 32-bit protected mode
 * -> long mode (PAE paging, EFER.LME, 64-bit code segment), reporting each
 * step over COM1; a 64-bit computation proves 64-bit registers work, and a
 * far jump to an offset with bit 31 set lands there (zero-extended).
 * Ends with debug-exit 0x11 (exit status 35).
 */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	puts16 msg_real
	enter_pm32 pm
	puts32 msg_prot
	enter_lm64 lm
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
	/*
	 * A far jump's 32-bit offset is zero-extended into 64-bit code (OVMF
	 * enters long mode with one to 0xfffff8xx): map 3 GiB + 1022 MiB up
	 * with a 2 MiB page (PDPT[3] -> a page directory at 0x5000), go to
	 * compatibility mode (32-bit code, paging on) and from there jump to
	 * this code's copy in the ROM just below 4 GiB, as OVMF does.
	 */
	mov $0x5000, %edi
	xor %eax, %eax
	mov $1024, %ecx
	rep stosl
	movl $(0xffe00000 | 0x83), 0x5ff8
	movl $(0x5000 | 3), 0x2018
	mov %cr3, %rax
	mov %rax, %cr3
	ljmpl *compat_target(%rip)
	.code32
compat:
	ljmp $0x18, $HIGH(high)
	.code64
high:
	lea high(%rip), %rax
	mov $HIGH(high), %ecx		/* zero-extended into rcx */
	cmp %rcx, %rax
	jne fail
	puts32 msg_high
	debug_exit 0x11
fail:
	puts32 msg_fail
	debug_exit 0x12

	serial_routines
	flat_gdt
msg_real: .asciz "real mode\n"
msg_prot: .asciz "protected mode\n"
msg_long: .asciz "long mode\n"
msg_ok:   .asciz "64-bit arithmetic ok\n"
msg_high: .asciz "far jump to 0xffff.... ok\n"
	.p2align 2
compat_target:
	.long LIN(compat)
	.word 0x08
msg_fail: .asciz "FAIL\n"
