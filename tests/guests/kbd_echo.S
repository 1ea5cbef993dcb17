/*
 * The PS/2 keyboard behind the i8042 (run with a display: --vga std or
 * --display vnc=...): reset it (ACK, self-test passed), identify it
 * (translated: AB 41), then print every byte it sends, in hex, one line
 * per byte, polling the status port.  After the 4th key byte it turns
 * the controller's translation off (configuration byte 0x05) and prints
 * "set2", so the next keys arrive in scancode set 2.  Runs until ended.
 */
#include "guest.h"

#define KBD_DATA 0x60
#define KBD_STATUS 0x64

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack

	mov $0xff, %al              /* reset */
	call kbd_send
	call kbd_show
	call kbd_show
	mov $0xf2, %al              /* identify */
	call kbd_send
	call kbd_show
	call kbd_show
	call kbd_show
	puts16 msg_ready

	mov $4, %bp
keys:
	call kbd_show
	dec %bp
	jnz keys
	/* translation off: configuration byte 0x05 (IRQ, system flag) */
	mov $0x60, %al
	out %al, $KBD_STATUS
	mov $0x05, %al
	out %al, $KBD_DATA
	puts16 msg_set2
1:	call kbd_show
	jmp 1b

kbd_send:
	out %al, $KBD_DATA
	ret

/* Wait for a byte from the keyboard and print it as "xx\n". */
kbd_show:
1:	in $KBD_STATUS, %al
	test $1, %al
	jz 1b
	in $KBD_DATA, %al
	call puthex8
	mov $'\n', %al
	call putc16
	ret

	serial_routines
	hex16_routines
msg_ready:	.asciz "ready\n"
msg_set2:	.asciz "set2\n"
