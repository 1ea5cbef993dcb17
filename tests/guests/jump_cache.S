/*
 * The translator's jump cache (an indirect jump's target found without
 * the run loop) keys its entries by the code's size and CS base as well
 * as by the offset:
 * - cs_base: real-mode routines in segments 1000 and 2000 each jump
 *   through BX to offset 0100 of their own segment, which holds
 *   different code in each;
 * - mode: one routine in the ROM, entered through BX/EBX at the same
 *   offset with the same CS base (F0000) from real mode, 32-bit and then
 *   16-bit protected mode, decodes differently in 16- and 32-bit code.
 * Return prediction (a CALL's return address and the translation that
 * follows it, checked by RET before the jump cache) keys its entries the
 * same way:
 * - ret_cs_base: 32-bit code at offset 0200 of a segment based at
 *   0x10000 calls a subroutine that far-jumps to offset 0230 of one
 *   based at 0x20000 and returns there, so RET lands in the second
 *   segment, not after the CALL in the first (and the other way round);
 * - ret_remap: 32-bit code at a linear page calls a subroutine that
 *   maps that page to another frame (new code at the return address)
 *   and flushes it with INVLPG before its RET.
 * Each is run JUMPS times (blocks are translated on their second entry).
 * Prints "ok <name>" or "FAIL <name>"; ends with 0x20 (status 65), or
 * 0x21 (67) if a check failed.
 */
#include "guest.h"
#define JUMPS 6
#define FAILS 0x600
#define BACK 0x610 /* ret_cs_base: far pointer (offset, selector) back to the caller */
/* ret_remap: a page directory and table mapping 0-4 MiB, the linear page
 * WINDOW and the two frames it is mapped to in turn */
#define PD32 0x80000
#define PT32 0x81000
#define WINDOW 0x30000
#define FRAME_A 0x40000
#define FRAME_B 0x41000
#define WINDOW_PTE (PT32 + (WINDOW >> 12) * 4)

/* Real mode, DS = CS: copy the routine at label (to label_end) to
 * seg:off. */
.macro copy_to seg, off, label
	mov $\seg, %ax
	mov %ax, %es
	mov $\label, %si
	mov $\off, %di
	mov $\label\()_end - \label, %cx
	rep movsb
.endm

/* 32-bit flat code: copy the routine at label (to label_end) to addr. */
.macro copy32_to addr, label
	mov $LIN(\label), %esi
	mov $\addr, %edi
	mov $\label\()_end - \label, %ecx
	rep movsb
.endm

/* ret_cs_base's routine (32-bit code, copied to offset 0200 of a
 * segment): call a subroutine that returns (ECX = 0) or far-jumps to
 * offset 0230 of segment other, a RET; set EAX = value, back through
 * the far pointer at BACK. */
.macro ret_template name, value, other
\name:
	call 1f
	mov $\value, %eax
	ljmp *BACK
	.fill 0x20 - (. - \name), 1, 0x90
1:	jecxz 2f
	ljmp $\other, $0x230
2:	ret
	.fill 0x30 - (. - \name), 1, 0x90
	ret
\name\()_end:
.endm

/* ret_remap's routine (32-bit code run at WINDOW): call a subroutine
 * (the same bytes in every copy) that returns (ECX = 0) or first maps
 * WINDOW to FRAME_B; set EAX = value, back to ESI. */
.macro remap_template name, value
\name:
	call 1f
	mov $\value, %eax
	jmp *%esi
	.fill 0x20 - (. - \name), 1, 0x90
1:	jecxz 2f
	movl $(FRAME_B | 3), WINDOW_PTE
	invlpg WINDOW
2:	ret
\name\()_end:
.endm

/* ret_cs_base, one run: the routine at offset 0200 of segment sel with
 * ECX = ecx must come back through BACK with EAX = expect (to 2f on
 * failure). */
.macro ret_via sel, ecx, expect
	movl $LIN(9f), BACK
	mov $\ecx, %ecx
	mov $\expect, %edx
	ljmp $\sel, $0x200
9:	cmp %edx, %eax
	jne 2f
.endm

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	xor %ax, %ax
	mov %ax, %ds
	movw $0, FAILS
	/* the routines to 1000:0000 and 2000:0000 */
	mov %cs, %ax
	mov %ax, %ds
	cld
	copy_to 0x1000, 0, tmpl_a
	copy_to 0x2000, 0, tmpl_b
	copy_to 0x1000, 0x200, rtmpl_a
	copy_to 0x2000, 0x200, rtmpl_b
	xor %ax, %ax
	mov %ax, %ds

	/* ---- cs_base: the same offset in two segments ---- */
	mov $JUMPS, %di
1:	mov $0x100, %bx
	mov $0xaaaa, %dx
	ljmp $0x1000, $0
back_a:	cmp %dx, %ax
	jne 2f
	mov $0x100, %bx
	mov $0xbbbb, %dx
	ljmp $0x2000, $0
back_b:	cmp %dx, %ax
	jne 2f
	dec %di
	jnz 1b
	puts16 msg_ok_base
	jmp 3f
2:	incw FAILS
	puts16 msg_fail_base
3:
	/* ---- mode, part 1: real mode (CS base F0000) ---- */
	mov $JUMPS, %di
1:	xor %eax, %eax
	mov $2f, %si
	mov $two_modes, %bx
	jmp *%bx
2:	cmp $0x1234, %eax
	jne 3f
	dec %di
	jnz 1b
	jmp 4f
3:	incw FAILS
	puts16 msg_fail_mode16
4:
	enter_pm32 pm
	/* ---- mode, part 2: 32-bit code, CS base F0000 again ---- */
	ljmp $0x20, $pm_base_f0000
pm_base_f0000:
	mov $JUMPS, %edi
1:	xor %eax, %eax
	mov $2f, %esi
	mov $two_modes, %ebx
	jmp *%ebx
2:	cmp $0x04eb1234, %eax
	jne 3f
	dec %edi
	jnz 1b
	jmp 4f
3:	incw FAILS
	puts32 msg_fail_mode32
4:
	/* ---- mode, part 3: 16-bit protected mode, CS base F0000: no TLB
	 * flush since part 2 (the jump cache's entry is current) ---- */
	ljmp $0x28, $pm16
	.code16
pm16:
	mov $JUMPS, %di
1:	xor %eax, %eax
	mov $2f, %si
	mov $two_modes, %bx
	jmp *%bx
2:	cmp $0x1234, %eax
	jne 3f
	dec %di
	jnz 1b
	jmp 4f
3:	incw FAILS
4:	ljmpl $0x20, $pm32_again
	.code32
pm32_again:
	cmpw $0, FAILS
	je 5f
	puts32 msg_fail_mode16pm
	jmp 6f
5:	puts32 msg_ok_mode
6:
	/* ---- ret_remap: flat code, 4 KiB pages identity-mapping 0-4 MiB ---- */
	ljmpl $0x08, $LIN(flat32)
flat32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	cld
	/* ---- ret_cs_base: RET after a far jump to the other segment; the
	 * routines also return normally, so that the landing after each
	 * CALL is chained ---- */
	movw $0x08, BACK + 4
	mov $JUMPS, %edi
1:	ret_via 0x30, 0, 0xaaaa
	ret_via 0x30, 1, 0xbbbb
	ret_via 0x38, 0, 0xbbbb
	ret_via 0x38, 1, 0xaaaa
	dec %edi
	jnz 1b
	puts32 msg_ok_ret_base
	jmp 3f
2:	incw FAILS
	puts32 msg_fail_ret_base
3:
	mov $PT32, %edi
	mov $3, %eax
1:	stosl
	add $0x1000, %eax
	cmp $PT32 + 4096, %edi
	jne 1b
	mov $PD32, %edi
	xor %eax, %eax
	mov $1024, %ecx
	rep stosl
	movl $(PT32 | 3), PD32
	copy32_to FRAME_A, ptmpl_a
	copy32_to FRAME_B, ptmpl_b
	mov $PD32, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	mov $JUMPS, %edi
1:	movl $(FRAME_A | 3), WINDOW_PTE
	invlpg WINDOW
	xor %ecx, %ecx
	mov $LIN(2f), %esi
	mov $WINDOW, %ebx
	jmp *%ebx
2:	cmp $0xaaaa, %eax
	jne 3f
	inc %ecx
	mov $LIN(2f), %esi
	jmp *%ebx
2:	cmp $0xbbbb, %eax
	jne 3f
	dec %edi
	jnz 1b
	puts32 msg_ok_ret_remap
	jmp 4f
3:	incw FAILS
	puts32 msg_fail_ret_remap
4:	cmpw $0, FAILS
	jne 5f
	debug_exit 0x20
5:	debug_exit 0x21

	.code16
/* Copied to 1000:0000 and 2000:0000: jump through BX to offset 0100,
 * set AX and come back. */
tmpl_a:
	jmp *%bx
	.fill 0x100 - (. - tmpl_a), 1, 0x90
	mov $0xaaaa, %ax
	ljmp $0xf000, $back_a
tmpl_a_end:
tmpl_b:
	jmp *%bx
	.fill 0x100 - (. - tmpl_b), 1, 0x90
	mov $0xbbbb, %ax
	ljmp $0xf000, $back_b
tmpl_b_end:

	.code32
/* Copied to 1000:0200 and 2000:0200, run as 32-bit code from segments
 * 0x30 (base 0x10000) and 0x38 (base 0x20000): call a subroutine that
 * returns (ECX = 0) or far-jumps to the other segment's RET, which
 * returns to that segment's MOV EAX; then back through the far pointer
 * at BACK. */
	ret_template rtmpl_a, 0xaaaa, 0x38
	ret_template rtmpl_b, 0xbbbb, 0x30

	.code32
/* Copied to FRAME_A and FRAME_B and run at WINDOW: call a subroutine
 * (the same bytes in both) that returns (ECX = 0) or first maps WINDOW
 * to FRAME_B, so that its RET returns to FRAME_B's MOV EAX, whichever
 * frame the CALL ran from. */
	remap_template ptmpl_a, 0xaaaa
	remap_template ptmpl_b, 0xbbbb
	.code16

/* 16-bit: MOV AX, 0x1234; JMP +4 to JMP SI.  32-bit: MOV EAX,
 * 0x04eb1234; JMP ESI.  Either way back to (E)SI. */
two_modes:
	.byte 0xb8, 0x34, 0x12, 0xeb, 0x04
	.byte 0xff, 0xe6
	.byte 0x90, 0x90
	.byte 0xff, 0xe6

msg_ok_base:	.asciz "ok cs_base\n"
msg_fail_base:	.asciz "FAIL cs_base\n"
msg_fail_mode16: .asciz "FAIL mode (16-bit)\n"
msg_fail_mode32: .asciz "FAIL mode (32-bit)\n"
msg_fail_mode16pm: .asciz "FAIL mode (16-bit protected)\n"
msg_ok_mode:	.asciz "ok mode\n"
msg_ok_ret_base: .asciz "ok ret_cs_base\n"
msg_fail_ret_base: .asciz "FAIL ret_cs_base\n"
msg_ok_ret_remap: .asciz "ok ret_remap\n"
msg_fail_ret_remap: .asciz "FAIL ret_remap\n"

	serial_routines

/* flat_gdt's segments, 32-bit (0x20) and 16-bit (0x28) code based at
 * the ROM, and 32-bit code based at 0x10000 (0x30) and 0x20000 (0x38) */
	flat_gdt 0x00409a0f0000ffff, 0x00009a0f0000ffff, 0x00cf9a010000ffff, 0x00cf9a020000ffff
