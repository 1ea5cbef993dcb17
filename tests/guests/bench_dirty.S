/* Benchmark guest for live migration (bench/migrate_vs_qemu.py): keeps
 * rewriting 16 MiB of RAM from 16 MiB up, one quadword in each 4 KiB
 * page per pass, so that every page of it is dirty again and again. */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	enter_lm64 lm
	xor %eax, %eax
2:	inc %rax
	mov $0x1000000, %rdi
	mov $(0x1000000 / 4096), %ecx
1:	mov %rax, (%rdi)
	add $4096, %rdi
	dec %rcx
	jnz 1b
	jmp 2b
	flat_gdt
