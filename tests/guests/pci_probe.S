/*
 * PCI configuration mechanism 1 from real mode (run with --rng): list
 * bus 0 as "slot vendor:device", size BAR0 of the virtio-rng in slot 1
 * (write all ones, read the mask back, restore), and walk its capability
 * list.  Exits with 0x15 (status 43).  Real mode only, so it also runs on
 * KVM-PVM hosts.
 */
#include "guest.h"

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack

	xor %bx, %bx                 /* slot */
scan:
	mov %bx, %ax
	xor %cx, %cx                 /* register 0 */
	call conf_read
	cmp $0xffff, %ax
	je next
	push %eax
	mov %bl, %al
	call puthex8
	mov $' ', %al
	call putc16
	pop %eax
	push %eax
	call puthex16                /* vendor */
	mov $':', %al
	call putc16
	pop %eax
	shr $16, %eax
	call puthex16                /* device */
	mov $'\n', %al
	call putc16
next:
	inc %bx
	cmp $32, %bx
	jb scan

	/* BAR0 of slot 1: size it the way an OS does. */
	mov $1, %bx
	mov $0x10, %cx
	call conf_read
	mov %eax, %edi               /* the address wirt assigned */
	mov $0xffffffff, %eax
	call conf_write
	call conf_read
	mov %eax, %ebp               /* the size mask */
	mov %edi, %eax
	call conf_write
	puts16 msg_bar               /* (clobbers si, cx, dx) */
	mov %ebp, %eax
	call puthex32
	mov $'\n', %al
	call putc16
	mov $0x10, %cx
	call conf_read
	cmp %eax, %edi
	jne fail

	/* Capabilities: status bit 4, pointer at 0x34, each "id next". */
	puts16 msg_caps
	mov $0x34, %cx
	call conf_read
	movzb %al, %cx
cap:
	test %cx, %cx
	jz caps_done
	call conf_read
	push %eax
	mov $' ', %al
	call putc16
	pop %eax
	push %eax
	call puthex8
	pop %eax
	movzb %ah, %cx
	jmp cap
caps_done:
	mov $'\n', %al
	call putc16
	debug_exit 0x15
fail:
	puts16 msg_fail
	debug_exit 0x16

	pci_conf_routines
	hex16_routines
	serial_routines
msg_bar:  .asciz "bar0 mask "
msg_caps: .asciz "caps"
msg_fail: .asciz "BAR not restored\n"
