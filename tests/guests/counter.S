/* Real mode: prints "tick NNNN tsc TTTTTTTT" (hex; T: the TSC in units of
 * 2^20 cycles) on COM1 every 50 ms of the ACPI PM timer, forever: a guest
 * whose output shows whether its vCPU runs and what time it sees (the
 * monitor's stop and cont). */
#include "guest.h"
#define PM_TMR 0x608
#define TICKS_50MS 178977  /* 3.579545 MHz * 50 ms */
	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	xor %bx, %bx
next:
	puts16 msg
	mov %bx, %ax
	call puthex16
	puts16 msg_tsc
	rdtsc
	shrd $20, %edx, %eax
	call puthex32
	mov $'\n', %al
	call putc16
	inc %bx
	mov $PM_TMR, %dx
	inl %dx, %eax
	mov %eax, %edi
1:	inl %dx, %eax
	sub %edi, %eax
	and $0xffffff, %eax
	cmp $TICKS_50MS, %eax
	jb 1b
	jmp next

	serial_routines
	hex16_routines
msg:	.asciz "tick "
msg_tsc:	.asciz " tsc "
