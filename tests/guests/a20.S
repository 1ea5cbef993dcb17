/*
 * The A20 gate in real mode: with it on (as the machine starts), FFFF:0510
 * (linear 0x100500) is not 0000:0500; turned off through port 0x92 bit 1 or
 * through the i8042's output port (command 0xD1), the address wraps at
 * 1 MiB as on an 8086.  Port 0x92 and the i8042's output port read the gate
 * back (not checked before the first write: QEMU's port 0x92 then reads 0,
 * wirt's reads the gate's state).  Ends with a fast reset through port 0x92 bit 0 (run with
 * --no-reboot: exit status 0).
 */
#include "guest.h"
#define KBD_DATA 0x60
#define KBD_CMD  0x64
	reset_vector
	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov %ax, %ds
	mov $0x7000, %sp
	mov $0xffff, %ax
	mov %ax, %es

	call wraps
	jc 1f
	puts16 msg_on_ok
	jmp 2f
1:	puts16 msg_on_fail
2:
	/* Gate off through port 0x92 (bit 0 stays 0: no reset). */
	inb $0x92, %al
	and $~3, %al
	outb %al, $0x92
	call wraps
	jnc 1f
	puts16 msg_off_ok
	jmp 2f
1:	puts16 msg_off_fail
2:	inb $0x92, %al
	test $2, %al
	jnz 1f
	puts16 msg_p92_off
1:
	/* Gate on through port 0x92 again. */
	inb $0x92, %al
	or $2, %al
	and $~1, %al
	outb %al, $0x92
	call wraps
	jc 1f
	puts16 msg_on_again
1:
	/* Gate off, then on, through the i8042's output port. */
	mov $0xdd, %bl		/* reset line high, A20 low */
	call kbd_outport
	call wraps
	jnc 1f
	puts16 msg_kbd_off
1:	call kbd_read_outport
	test $2, %al
	jnz 1f
	puts16 msg_kbd_reads_off
1:	mov $0xdf, %bl		/* reset line high, A20 high */
	call kbd_outport
	call wraps
	jc 1f
	puts16 msg_kbd_on
1:	call kbd_read_outport
	test $2, %al
	jz 1f
	puts16 msg_kbd_reads_on
1:
	puts16 msg_reset
	inb $0x92, %al
	or $1, %al
	outb %al, $0x92
	/* Not reached if the reset happened. */
	puts16 msg_no_reset
	debug_exit 0x14

/* CF set if FFFF:0510 and 0000:0500 are the same byte. */
wraps:
	movb $0xaa, 0x500
	movb $0x55, %es:0x510
	cmpb $0x55, 0x500
	je 1f
	clc
	ret
1:	stc
	ret

kbd_wait_in:	/* until the controller's input buffer is empty (bounded) */
	mov $0xffff, %cx
1:	inb $KBD_CMD, %al
	test $2, %al
	loopnz 1b
	ret

kbd_outport:	/* write bl to the output port */
	call kbd_wait_in
	mov $0xd1, %al
	outb %al, $KBD_CMD
	call kbd_wait_in
	mov %bl, %al
	outb %al, $KBD_DATA
	call kbd_wait_in
	ret

kbd_read_outport:
	call kbd_wait_in
	mov $0xd0, %al
	outb %al, $KBD_CMD
	mov $0xffff, %cx
1:	inb $KBD_CMD, %al
	test $1, %al
	loopz 1b
	inb $KBD_DATA, %al
	ret

	serial_routines
msg_on_ok:	.asciz "a20 on at start: no wrap\n"
msg_on_fail:	.asciz "FAIL a20 on at start: wraps\n"
msg_off_ok:	.asciz "port 0x92 a20 off: wraps at 1 MiB\n"
msg_off_fail:	.asciz "FAIL port 0x92 a20 off: no wrap\n"
msg_p92_off:	.asciz "port 0x92 reads a20 off\n"
msg_on_again:	.asciz "port 0x92 a20 on: no wrap\n"
msg_kbd_off:	.asciz "i8042 a20 off: wraps\n"
msg_kbd_reads_off: .asciz "i8042 output port reads a20 off\n"
msg_kbd_on:	.asciz "i8042 a20 on: no wrap\n"
msg_kbd_reads_on: .asciz "i8042 output port reads a20 on\n"
msg_reset:	.asciz "fast reset through port 0x92\n"
msg_no_reset:	.asciz "FAIL no reset\n"
