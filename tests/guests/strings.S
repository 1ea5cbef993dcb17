/*
 * REP MOVS and REP STOS in 64-bit mode, the cases a copy done in bulk
 * must get right: runs across page boundaries (STOS of each size), overlapping copies (the
 * destination just above the source replicates; just below, it moves),
 * the direction flag set, and a copy over code that then runs.
 * Prints a line per check; ends with debug-exit 0x1b (exit status 55),
 * or 0x1c (57) at the first failure.
 */
#include "guest.h"
#define BUF  0x100000	/* scratch RAM, zero at start */
#define CODE 0x50000	/* RAM the test copies code into */
	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	enter_lm64 lm
	cld

	/* 1000 quadwords from 8 bytes before a page boundary. */
	mov $(BUF + 0xff8), %rdi
	mov $0x1122334455667788, %rax
	mov $1000, %rcx
	rep stosq
	test %rcx, %rcx
	jnz fail
	cmp $(BUF + 0xff8 + 8000), %rdi
	jne fail
	mov $(BUF + 0xff8), %rsi
	mov $1000, %rcx
1:	cmp %rax, (%rsi)
	jne fail
	add $8, %rsi
	loop 1b
	cmpq $0, (%rsi)		/* nothing past the end */
	jne fail
	puts32 msg_stos

	/* STOSW and STOSD of patterns across pages, STOSQ of one byte
	 * repeated (the bulk path's memset) */
	mov $(BUF + 0x40ffe), %rdi
	mov $0xa1b2, %eax
	mov $3000, %rcx
	rep stosw
	mov $(BUF + 0x40ffe), %rsi
	mov $3000, %rcx
1:	cmpw $0xa1b2, (%rsi)
	jne fail
	add $2, %rsi
	loop 1b
	cmpw $0, (%rsi)
	jne fail
	mov $(BUF + 0x43ffc), %rdi
	mov $0xc3d4e5f6, %eax
	mov $3000, %rcx
	rep stosl
	mov $(BUF + 0x43ffc), %rsi
	mov $3000, %rcx
1:	cmpl $0xc3d4e5f6, (%rsi)
	jne fail
	add $4, %rsi
	loop 1b
	cmpl $0, (%rsi)
	jne fail
	mov $(BUF + 0x48000), %rdi
	mov $0x4141414141414141, %rax
	mov $600, %rcx
	rep stosq
	mov $(BUF + 0x48000), %rsi
	mov $600, %rcx
1:	cmp %rax, (%rsi)
	jne fail
	add $8, %rsi
	loop 1b
	cmpq $0, (%rsi)
	jne fail
	puts32 msg_stos_sizes

	/* 5000 bytes to an odd address, across two page boundaries. */
	mov $(BUF + 0xff8), %rsi
	mov $(BUF + 0x10003), %rdi
	mov $5000, %rcx
	rep movsb
	cmp $(BUF + 0xff8 + 5000), %rsi
	jne fail
	mov $(BUF + 0xff8), %rsi
	mov $(BUF + 0x10003), %rdi
	mov $5000, %rcx
	repe cmpsb
	jne fail
	cmpb $0, (%rdi)
	jne fail
	puts32 msg_movs

	/* Destination one byte above the source: the first byte spreads. */
	movb $0xab, BUF + 0x20ffe
	mov $(BUF + 0x20ffe), %rsi
	lea 1(%rsi), %rdi
	mov $300, %rcx
	rep movsb
	mov $(BUF + 0x20ffe), %rdi
	mov $301, %rcx
	mov $0xab, %al
	repe scasb
	jne fail
	cmpb $0, (%rdi)
	jne fail
	puts32 msg_up

	/* Destination three bytes below the source: 100 bytes move down. */
	mov $(BUF + 0xffb), %rsi
	mov $(BUF + 0xff8), %rdi
	mov $100, %rcx
	rep movsb
	mov $0x6677881122334455, %rax
	cmp %rax, BUF + 0xff8
	jne fail
	cmp %rax, BUF + 0x1000
	jne fail
	mov $0x1122334422334455, %rax
	cmp %rax, BUF + 0xff8 + 96
	jne fail
	puts32 msg_down

	/* Direction flag set: 32 bytes stored downwards. */
	std
	mov $(BUF + 0x40010), %rdi
	mov $0x5a, %al
	mov $32, %rcx
	rep stosb
	cld
	cmp $(BUF + 0x3fff0), %rdi
	jne fail
	cmpb $0, (%rdi)
	jne fail
	mov $(BUF + 0x3fff1), %rdi
	mov $32, %rcx
	repe scasb
	jne fail
	puts32 msg_std

	/* Code copied into RAM, run, overwritten by a copy, run again. */
	mov $LIN(ret1), %rsi
	mov $CODE, %rdi
	mov $(ret_end - ret1), %rcx
	rep movsb
	mov $CODE, %rbx
	call *%rbx
	cmp $1, %eax
	jne fail
	mov $LIN(ret2), %rsi
	mov $CODE, %rdi
	mov $(ret_end - ret2), %rcx
	rep movsb
	call *%rbx
	cmp $2, %eax
	jne fail
	puts32 msg_code

	debug_exit 0x1b
fail:
	puts32 msg_fail
	debug_exit 0x1c

ret1:	mov $1, %eax
	ret
ret2:	mov $2, %eax
	ret
ret_end:

	serial_routines
	flat_gdt
msg_stos: .asciz "rep stosq across pages ok\n"
msg_stos_sizes: .asciz "rep stosw, stosd, stosq of a byte ok\n"
msg_movs: .asciz "rep movsb across pages ok\n"
msg_up:   .asciz "overlap upwards ok\n"
msg_down: .asciz "overlap downwards ok\n"
msg_std:  .asciz "direction flag ok\n"
msg_code: .asciz "copy over code ok\n"
msg_fail: .asciz "FAIL\n"
