/*
 * Real-mode faults the SDM requires and QEMU's TCG does not raise: an
 * access that crosses the 64 KiB segment limit is #GP (a word at DS:FFFF,
 * an 8-byte x87 load at ES:FFF9; ES:FFF8 is fine), through SS it is #SS,
 * LOCK on a MOV is #UD.  Prints "ok <name>" or "FAIL <name>"; ends
 * with 0x1d (status 59), or 0x1e (61) if a check failed.
 */
#include "guest.h"
#include "realmode_checks.h"

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

	exc_handler 6
	exc_handler 12
	exc_handler 13
	realmode_check_routines
	serial_routines
