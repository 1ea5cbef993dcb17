/* Benchmark: a two-instruction loop (DEC, JNZ) run 100 million times. */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	mov $100000000, %ecx
1:	dec %ecx
	jnz 1b
	debug_exit 0
	flat_gdt
