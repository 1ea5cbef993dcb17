/* Benchmark: 20 million CALL/RET pairs to a function that adds. */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	mov $20000000, %ecx
	xor %eax, %eax
1:	call func
	dec %ecx
	jnz 1b
	debug_exit 0
func:
	add %ecx, %eax
	ret
	flat_gdt
