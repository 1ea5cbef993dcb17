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
 * Each is run JUMPS times (blocks are translated on their second entry).
 * Prints "ok <name>" or "FAIL <name>"; ends with 0x20 (status 65), or
 * 0x21 (67) if a check failed.
 */
#include "guest.h"
#define JUMPS 6
#define FAILS 0x600

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
	mov $0x1000, %ax
	mov %ax, %es
	mov $tmpl_a, %si
	xor %di, %di
	mov $tmpl_a_end - tmpl_a, %cx
	rep movsb
	mov $0x2000, %ax
	mov %ax, %es
	mov $tmpl_b, %si
	xor %di, %di
	mov $tmpl_b_end - tmpl_b, %cx
	rep movsb
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
5:	cmpw $0, FAILS
	jne 5f
	puts32 msg_ok_mode
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

	serial_routines

/* flat_gdt's segments, and 32-bit (0x20) and 16-bit (0x28) code based
 * at the ROM */
	flat_gdt 0x00409a0f0000ffff, 0x00009a0f0000ffff
