/* Real mode: says "idle" on COM1, then sleeps in HLT with interrupts off
 * until it is killed; a VM that keeps its devices (disks) open for tests
 * of what happens around a running VM. */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	puts16 msg
1:	hlt
	jmp 1b

	serial_routines
msg:	.asciz "idle\n"
