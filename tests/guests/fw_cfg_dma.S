/*
 * fw_cfg from the guest's side: the signature through the data port and
 * the DMA register, one good DMA read, then the requests a hostile or
 * broken guest makes: a target outside RAM (the LAPIC page), a length of
 * 4 GiB - 1, a write, and a request structure in ROM.  Each bad request
 * must come back with the error bit and copy nothing; the one whose
 * structure is not in RAM is ignored.  wirt keeps running throughout.
 */
#include "guest.h"

#define FW_SEL  0x510
#define FW_DATA 0x511
#define FW_DMA_HI 0x514
#define FW_DMA_LO 0x518
#define REQ 0x1000
#define DST 0x2000

/* Build the request at REQ (big-endian words given already swapped) and
 * start it; EAX = the control word read back (as stored, big-endian). */
.macro dma ctl_be, len_be, addr_hi_be, addr_lo_be
	movl $\ctl_be, REQ
	movl $\len_be, REQ + 4
	movl $\addr_hi_be, REQ + 8
	movl $\addr_lo_be, REQ + 12
	xor %eax, %eax
	mov $FW_DMA_HI, %dx
	outl %eax, %dx
	mov $0x00100000, %eax           /* REQ = 0x1000, big-endian */
	mov $FW_DMA_LO, %dx
	outl %eax, %dx
	movl REQ, %eax
.endm

	reset_vector
	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7000, %sp

	/* Signature through the data port. */
	mov $FW_SEL, %dx
	xor %ax, %ax
	outw %ax, %dx
	mov $FW_DATA, %dx
	mov $4, %cx
	xor %ebx, %ebx
1:	inb %dx, %al
	shl $8, %ebx
	mov %al, %bl
	loop 1b
	cmp $0x51454d55, %ebx           /* 'Q' 'E' 'M' 'U' in read order */
	jne fail
	puts16 m_sig

	/* "QEMU CFG" reads back from the DMA register. */
	mov $FW_DMA_HI, %dx
	inl %dx, %eax
	cmp $0x554d4551, %eax
	jne fail
	puts16 m_dmasig

	/* Good: select key 0 and read its 4 bytes to DST. */
	movl $0, DST
	dma 0x0a000000, 0x04000000, 0, 0x00200000
	test %eax, %eax
	jnz fail
	cmpl $0x554d4551, DST
	jne fail
	puts16 m_good

	/* Target outside RAM: the LAPIC page at 0xfee00000. */
	dma 0x02000000, 0x04000000, 0, 0x0000e0fe
	cmp $0x01000000, %eax
	jne fail
	puts16 m_outside

	/* 4 GiB - 1 bytes to RAM at DST: runs past RAM, nothing copied. */
	movl $0x12345678, DST
	dma 0x0a000000, 0xffffffff, 0, 0x00200000
	cmp $0x01000000, %eax
	jne fail
	cmpl $0x12345678, DST
	jne fail
	puts16 m_huge

	/* A write: fw_cfg items are read-only. */
	dma 0x10000000, 0x04000000, 0, 0x00200000
	cmp $0x01000000, %eax
	jne fail
	puts16 m_write

	/* The request itself in ROM (0xfffffff0): ignored. */
	xor %eax, %eax
	mov $FW_DMA_HI, %dx
	outl %eax, %dx
	mov $0xf0ffffff, %eax
	mov $FW_DMA_LO, %dx
	outl %eax, %dx
	puts16 m_alive
	debug_exit 0x10
fail:
	puts16 m_fail
	debug_exit 0x11

	serial_routines
m_sig:     .asciz "fw_cfg signature QEMU\n"
m_dmasig:  .asciz "dma register reads QEMU CFG\n"
m_good:    .asciz "dma read ok\n"
m_outside: .asciz "dma outside ram: error bit\n"
m_huge:    .asciz "dma huge length: error bit, nothing copied\n"
m_write:   .asciz "dma write: error bit\n"
m_alive:   .asciz "request in rom ignored, still running\n"
m_fail:    .asciz "FAIL\n"
