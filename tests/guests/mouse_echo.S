/*
 * The PS/2 mouse on the i8042's AUX port (run with a display): enable
 * the port, run its interface test (00: a mouse is there), reset the
 * mouse (FA AA 00), identify it (FA 00), turn reporting on (FA), say
 * "ready", then print every byte it sends, in hex, one line per byte,
 * "m" before those the status register marks as the mouse's (bit 5).
 * Polls; runs until ended.
 */
#include "guest.h"

#define DATA 0x60
#define STATUS 0x64

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	mov $0xa8, %al              /* enable the AUX port */
	out %al, $STATUS
	mov $0xa9, %al              /* its interface test */
	out %al, $STATUS
	call show
	mov $0xff, %al              /* reset */
	call mouse_send
	call show
	call show
	call show
	mov $0xf2, %al              /* identify */
	call mouse_send
	call show
	call show
	mov $0xf4, %al              /* reporting on */
	call mouse_send
	call show
	puts16 msg_ready
1:	call show
	jmp 1b

mouse_send:
	push %ax
	mov $0xd4, %al
	out %al, $STATUS
	pop %ax
	out %al, $DATA
	ret

/* Wait for a byte and print it as "xx\n" or "mxx\n" (from the mouse). */
show:
1:	in $STATUS, %al
	test $1, %al
	jz 1b
	test $0x20, %al
	jz 2f
	mov $'m', %al
	call putc16
2:	in $DATA, %al
	call puthex8
	mov $'\n', %al
	call putc16
	ret

	serial_routines
	hex16_routines
msg_ready:	.asciz "ready\n"
