/* Benchmark: a real-mode (16-bit) integer loop run 50 million times: a
 * register add, a read-modify-write of a word in memory, DEC, JNZ.  The
 * count is split over two registers since a 16-bit one holds at most
 * 65535. */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	xor %ax, %ax
	mov %ax, %ds
	movw $0, 0x500
	mov $800, %dx
2:	mov $62500, %cx
1:	add %cx, %ax
	add %ax, 0x500
	dec %cx
	jnz 1b
	dec %dx
	jnz 2b
	debug_exit 0
