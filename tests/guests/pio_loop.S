/*
 * A loop of port I/O: 1000 rounds of writing a value to the UART scratch
 * register and reading it back, plus writes to the POST port 0x80.
 * Prints "pio ok" and exits with 0x13 (status 39), or "pio FAIL" and 0x14.
 */
#include "guest.h"
#define COM1_SCR (COM1 + 7)
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	mov $1000, %bx
1:	mov %bl, %al
	xor $0x5a, %al
	mov $COM1_SCR, %dx
	outb %al, %dx
	mov %al, %ah
	inb %dx, %al
	cmp %al, %ah
	jne fail
	mov $0x80, %dx
	outb %al, %dx
	dec %bx
	jnz 1b
	puts16 msg_ok
	debug_exit 0x13
fail:
	puts16 msg_fail
	debug_exit 0x14

	serial_routines
msg_ok:   .asciz "pio ok\n"
msg_fail: .asciz "pio FAIL\n"
