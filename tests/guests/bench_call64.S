/* Benchmark: 20 million CALL/RET pairs to a function that adds, in
 * 64-bit mode (where wirt's emulator has its fast paths). */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	enter_lm64 lm
	mov $20000000, %ecx
	xor %eax, %eax
1:	call func
	dec %rcx
	jnz 1b
	debug_exit 0
func:
	add %rcx, %rax
	ret
	flat_gdt
