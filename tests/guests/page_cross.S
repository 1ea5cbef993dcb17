/*
 * A loop whose instruction ADD EDX, imm32 spans two pages (2 bytes in
 * the first, 4 in the second), copied to RAM just below 0x20000, with
 * 32-bit paging: the translator runs that instruction from its own block
 * and must notice when the bytes in the second page change:
 * - plain: the loop's sums with the immediate 0x01000000;
 * - rewritten: the immediate's top byte (in the second page) rewritten
 *   to 0x02, the loop run again;
 * - remapped: the second page's PTE pointed at a copy whose top byte is
 *   0x03 (INVLPG), the loop run again;
 * - folded: a routine at BOUNDARY2 - 32 whose first instruction, a JMP
 *   over 3 bytes, folds into its block, which ends with MOV EAX, imm32
 *   across BOUNDARY2.  The crossing instruction is found where the walk
 *   goes (past the fold), not at the sum of the lengths before it, 3
 *   bytes early, where the bytes decode as a 10-byte MOV to memory that
 *   would span the boundary too.
 * Each run is LOOPS iterations (the block is translated on its second
 * entry).  Prints "ok <name>" or "FAIL <name>"; ends with 0x22 (status
 * 69), or 0x23 (71) if a check failed.
 */
#include "guest.h"
#define LOOPS 3000
#define PD 0x1000
#define PT 0x2000
#define BOUNDARY 0x20000
#define COPY 0x30000
#define BOUNDARY2 0x50000
#define FAILS 0x600

/* Run the loop in RAM; EAX = its sum. */
.macro run_loop
	mov $LOOPS, %ecx
	mov $BOUNDARY - 16, %eax
	call *%eax
.endm
/* ok/FAIL name by EAX == expected */
.macro check expected, name
	cmp $\expected, %eax
	jne 8f
	puts32 ok_\name
	jmp 9f
8:	incl FAILS
	puts32 fail_\name
9:
.endm

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	movl $0, FAILS
	/* 4 MiB identity-mapped with 4 KiB pages */
	mov $PT, %edi
	mov $3, %eax
1:	mov %eax, (%edi)
	add $4, %edi
	add $0x1000, %eax
	cmp $PT + 4096, %edi
	jne 1b
	movl $PT | 3, PD
	mov $PD, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	/* the loop to RAM, its crossing ADD at BOUNDARY - 2 */
	mov $LIN(loop_start), %esi
	mov $BOUNDARY - 16, %edi
	mov $loop_end - loop_start, %ecx
	rep movsb

	run_loop
	check (LOOPS*0x01000007)&0xffffffff, plain

	movb $0x02, BOUNDARY + 3
	run_loop
	check (LOOPS*0x02000007)&0xffffffff, rewritten

	/* a copy of the second page with 0x03 there, mapped in its place */
	mov $BOUNDARY, %esi
	mov $COPY, %edi
	mov $1024, %ecx
	rep movsl
	movb $0x03, COPY + 3
	movl $COPY | 3, PT + (BOUNDARY >> 12) * 4
	invlpg BOUNDARY
	run_loop
	check (LOOPS*0x03000007)&0xffffffff, remapped

	mov $LIN(folded_start), %esi
	mov $BOUNDARY2 - 32, %edi
	mov $folded_end - folded_start, %ecx
	rep movsb
	mov $20, %edx
1:	mov $BOUNDARY2 - 32, %eax
	call *%eax
	cmp $0x44444444, %eax
	jne 2f
	dec %edx
	jnz 1b
2:	check 0x44444444, folded

	cmpl $0, FAILS
	jne 1f
	debug_exit 0x22
1:	debug_exit 0x23

/* Copied to BOUNDARY - 16: EAX = ECX * (imm + 7). */
loop_start:
	xor %eax, %eax			/* 2 bytes: BOUNDARY - 16 */
	xor %ebx, %ebx			/* 2: - 14 */
1:	add $3, %eax			/* 3: - 12 */
	add $4, %eax			/* 3: - 9 */
	xor %edx, %edx			/* 2: - 6 */
	lea (%ebx), %ebx		/* 2: - 4 */
	add $0x01000000, %edx		/* 6: - 2 to + 4, the immediate's top
					 * byte at + 3 */
	add %edx, %eax			/* 2 */
	dec %ecx			/* 1 */
	jnz 1b				/* 2 */
	ret
loop_end:

/* Copied to BOUNDARY2 - 32 (offsets from the boundary). */
folded_start:
	.byte 0xeb, 0x03		/* -32: jmp to -27 */
	.byte 0x90, 0x90, 0x90		/* -30: skipped */
	.byte 0xbb, 1, 1, 1, 1		/* -27: mov ebx, imm32 */
	.byte 0xbb, 2, 2, 2, 2		/* -22 */
	.byte 0xbb, 3, 3, 3, 3		/* -17 */
	.byte 0x90, 0x90, 0x90		/* -12 */
	.byte 0xb9, 0x00, 0xc7, 0x05, 0x00  /* -9: mov ecx, imm32 (C7 05 at -7:
					 * what a sum of lengths finds) */
	.byte 0xb8, 0x44, 0x44, 0x44, 0x44  /* -4: mov eax, 0x44444444, across */
	.byte 0xc3			/* +1: ret */
folded_end:

ok_plain:	.asciz "ok plain\n"
fail_plain:	.asciz "FAIL plain\n"
ok_rewritten:	.asciz "ok rewritten\n"
fail_rewritten:	.asciz "FAIL rewritten\n"
ok_remapped:	.asciz "ok remapped\n"
fail_remapped:	.asciz "FAIL remapped\n"
ok_folded:	.asciz "ok folded\n"
fail_folded:	.asciz "FAIL folded\n"

	serial_routines
	flat_gdt
