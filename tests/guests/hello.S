/* Real mode "hello" over COM1, then debug-exit 0x10 (exit status 33). */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov $0x7000, %sp
	puts16 msg
	debug_exit 0x10

	serial_routines
msg:	.asciz "Hello from real mode\n"
