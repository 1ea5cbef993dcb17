/*
 * Real-mode faults the SDM requires and QEMU's TCG does not raise: an
 * access that crosses the 64 KiB segment limit is #GP (a word at DS:FFFF,
 * an 8-byte x87 load at ES:FFF9; ES:FFF8 is fine), through SS it is #SS,
 * LOCK on a MOV is #UD.  Prints "ok <name>" or "FAIL <name>"; ends
 * with 0x1d (status 59), or 0x1e (61) if a check failed.
 */
#include "guest.h"
#define LASTVEC 0x600
#define SKIP    0x602
#define FAILS   0x604

.macro report name
	.pushsection .text, 1
9:	.asciz "\name"
	.popsection
	mov $9b, %si
	call report_impl
.endm

.macro ivt vec, label
	movw $\label, 4 * \vec
	movw $0xf000, 4 * \vec + 2
.endm

.macro may_fault
	movw $(2f - 1f), %ss:SKIP
	movb $0xff, %ss:LASTVEC
.endm

	reset_vector
	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov %ax, %ds
	mov $0x7000, %sp
	movw $0, FAILS
	ivt 6, exc6
	ivt 12, exc12
	ivt 13, exc13

	mov $0x1000, %ax
	mov %ax, %es
	mov $0xffff, %bx
	may_fault
1:	mov %es:(%bx), %ax
2:	cmpb $13, LASTVEC
	report "word at offset 0xffff is #gp"
	mov $0xfffe, %bx
	may_fault
1:	mov %es:(%bx), %ax
2:	cmpb $0xff, LASTVEC
	report "word at offset 0xfffe is fine"
	fninit
	mov $0xfff9, %bx
	may_fault
1:	fldl %es:(%bx)
2:	cmpb $13, LASTVEC
	report "8 bytes at offset 0xfff9 is #gp"
	mov $0xfff8, %bx
	may_fault
1:	fldl %es:(%bx)
2:	cmpb $0xff, LASTVEC
	report "8 bytes at offset 0xfff8 is fine"
	fninit

	/* A word through SS at offset 0xFFFF: #SS.  (Not a push with SP=1:
	 * the SDM has the CPU shut down there, the #SS frame cannot be
	 * pushed.) */
	mov $0xffff, %bp
	may_fault
1:	mov (%bp), %ax
2:	cmpb $12, LASTVEC
	report "word at ss:0xffff is #ss"

	may_fault
1:	.byte 0xf0, 0x8b, 0x07		/* lock mov (%bx), %ax */
2:	cmpb $6, LASTVEC
	report "lock mov is #ud"

	cmpw $0, FAILS
	jne 1f
	debug_exit 0x1d
1:	debug_exit 0x1e

report_impl:
	jnz 1f
	push %si
	puts16 msg_ok
	jmp 2f
1:	push %si
	puts16 msg_fail
	incw %ss:FAILS
2:	pop %si
	call puts16_impl
	mov $'\n', %al
	call putc16
	ret

/* Exception handlers: note the vector, skip SKIP bytes.  #SS and #GP
 * push no error code in real mode.  SS may be 0x2000 here: the data is
 * reached through segment 0 explicitly. */
exc6:	push $6
	jmp exc_skip
exc12:	push $12
	jmp exc_skip
exc13:	push $13
exc_skip:
	push %bp
	mov %sp, %bp
	push %ax
	push %ds
	xor %ax, %ax
	mov %ax, %ds
	mov 2(%bp), %ax
	mov %al, LASTVEC
	mov SKIP, %ax
	add %ax, 4(%bp)
	pop %ds
	pop %ax
	pop %bp
	add $2, %sp
	iret

	serial_routines
msg_ok:   .asciz "ok "
msg_fail: .asciz "FAIL "
