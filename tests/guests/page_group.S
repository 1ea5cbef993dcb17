/*
 * A page group (the translator's one TLB check for several accesses
 * through one register, jit/page_group.c) that writes must check the
 * page for writing: a 2 MiB page whose dirty bit the guest clears (and
 * INVLPGs) is read through RSI, which leaves the TLB with a read entry
 * only, then read and written through RBX.  The write must set the
 * dirty bit in the page directory entry again, each of LOOPS times (the
 * block is translated after its first runs).  Prints "ok dirty bit
 * through a page group" or "FAIL ..."; ends with 0x20 (exit status 65),
 * or 0x21 (67) on failure.
 */
#include "guest.h"
#define LOOPS 20
#define PAGE 0x800000                    /* the 2 MiB page written */
#define PDE (0x3000 + (PAGE >> 21) * 8)  /* its entry (enter_lm64's tables) */
#define PDE_D 0x40
	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	enter_lm64 lm
	mov $LOOPS, %ecx
	mov $PAGE, %esi
	mov $PAGE, %ebx
1:	andl $~PDE_D, PDE
	invlpg PAGE
	mov (%rsi), %rax        /* a read: a TLB entry without write access */
	mov (%rbx), %rax        /* the group's leader */
	mov %rax, 8(%rbx)       /* its member, a write: sets D */
	testl $PDE_D, PDE
	jz 2f
	dec %ecx
	jnz 1b
	puts32 msg_ok
	debug_exit 0x20
2:	puts32 msg_fail
	debug_exit 0x21

	serial_routines
	flat_gdt
msg_ok:   .asciz "ok dirty bit through a page group\n"
msg_fail: .asciz "FAIL dirty bit through a page group\n"
