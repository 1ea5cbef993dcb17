/* Benchmark: copy 1 MiB with a load/store loop (8 bytes a step), 128
 * times, in 64-bit mode. */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	enter_lm64 lm
	mov $128, %ebp
2:	mov $0x100000, %rsi
	mov $0x200000, %rdi
	mov $(0x100000 / 8), %ecx
1:	mov (%rsi), %rax
	mov %rax, (%rdi)
	add $8, %rsi
	add $8, %rdi
	dec %rcx
	jnz 1b
	dec %ebp
	jnz 2b
	debug_exit 0
	flat_gdt
