/* Real mode "hello" over COM1, then debug-exit 0x10 (exit status 33). */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	puts16 msg
	debug_exit 0x10

	serial_routines
msg:	.asciz "Hello from real mode\n"
