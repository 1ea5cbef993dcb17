/* Benchmark: copy 1 MiB with a load/store loop (4 bytes a step), 64 times. */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	mov $64, %ebp
2:	mov $0x100000, %esi
	mov $0x200000, %edi
	mov $(0x100000 / 4), %ecx
1:	mov (%esi), %eax
	mov %eax, (%edi)
	add $4, %esi
	add $4, %edi
	dec %ecx
	jnz 1b
	dec %ebp
	jnz 2b
	debug_exit 0
	flat_gdt
