/*
 * The Q35 host bridge's PAM register for 0xC0000-0xC3FFF (PAM1, low
 * nibble, config offset 0x91): off, the segment is not RAM; read-write,
 * it is RAM that keeps what is written and runs code from it; read-only,
 * writes are dropped; off and on again, the RAM kept its contents.  Each
 * change must reach the CPU at once (under the emulator: its TLB and its
 * decoded code of the segment).
 */
#include "guest.h"

#define SEG 0xc000

.macro set_pam1 v
	mov $0xcf8, %dx
	mov $0x80000090, %eax
	outl %eax, %dx
	mov $0xcfd, %dx
	mov $\v, %al
	outb %al, %dx
.endm

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	mov $SEG, %ax
	mov %ax, %es

	/* Off: whatever is there, writes do not stick. */
	movb $0x5a, %es:0
	cmpb $0x5a, %es:0
	je fail
	puts16 m_off

	set_pam1 0x03
	movb $0x5a, %es:0
	cmpb $0x5a, %es:0
	jne fail
	puts16 m_rw

	/* Code in the shadow RAM: mov $0x11, %al; lret.  Then rewritten. */
	movl $0x00cb11b0, %es:0x10
	xor %al, %al
	lcall $SEG, $0x10
	cmp $0x11, %al
	jne fail
	movb $0x22, %es:0x11
	lcall $SEG, $0x10
	cmp $0x22, %al
	jne fail
	puts16 m_code

	set_pam1 0x01
	movb $0x33, %es:0
	cmpb $0x5a, %es:0
	jne fail
	lcall $SEG, $0x10
	cmp $0x22, %al
	jne fail
	puts16 m_ro

	set_pam1 0x00
	cmpb $0x5a, %es:0
	je fail
	puts16 m_off2

	set_pam1 0x03
	cmpb $0x5a, %es:0
	jne fail
	puts16 m_kept
	debug_exit 0x10
fail:
	puts16 m_fail
	debug_exit 0x11

	serial_routines
m_off:  .asciz "pam off: not ram\n"
m_rw:   .asciz "pam read-write: ram\n"
m_code: .asciz "code in shadow ram runs, rewritten runs\n"
m_ro:   .asciz "pam read-only: write dropped, code runs\n"
m_off2: .asciz "pam off again: not ram\n"
m_kept: .asciz "pam on again: ram kept its bytes\n"
m_fail: .asciz "FAIL\n"
