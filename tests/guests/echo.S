/* Real mode: says "echo" on COM1, then sends back every byte it receives
 * there, forever (for the console socket: input reaches the guest). */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	puts16 msg
1:	mov $COM1_LSR, %dx
	inb %dx, %al
	test $1, %al
	jz 2f
	mov $COM1, %dx
	inb %dx, %al
	call putc16
	jmp 1b
2:	pause
	jmp 1b

	serial_routines
msg:	.asciz "echo\n"
