/*
 * The IDE controller from a guest that gets things wrong on purpose
 * (tests/integration/test_storage_ide.py attaches a 16-sector disk whose
 * sector N is filled with the byte N+1 as primary master, and a CD-ROM as
 * primary slave): good IDENTIFY, PIO and DMA reads as the reference, then
 * reads past the end, PRD tables and buffers outside RAM, a PRD table
 * shorter than the transfer, unknown commands, data-port reads with no
 * data, a reset in the middle of a transfer, and packet commands past the
 * end of the CD or unknown to it (with the sense data they must leave).
 * Each bad command must fail as the guest's command; wirt keeps running.
 */
#include "guest.h"

#define IDE_SLOT 1
#define CMD	0x1f0
#define CTL	0x3f6
#define ST_BSY	0x80
#define ST_DRQ	0x08
#define ST_ERR	0x01
#define PRD	0x1000		/* PRD table */
#define BUF	0x2000		/* DMA / PIO data */
#define bm_base	0x500		/* variables in RAM (the image is ROM) */
#define pkt	0x510

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	cld
	/* The bus-master registers: BAR4, and bus mastering on. */
	mov $IDE_SLOT, %bx
	mov $0x20, %cx
	call conf_read
	and $0xfffc, %ax
	mov %ax, bm_base
	mov $4, %cx
	call conf_read
	or $0x7, %ax
	call conf_write
	mov $0x02, %al			/* nIEN: polled */
	mov $CTL, %dx
	outb %al, %dx

	/* IDENTIFY DEVICE: a fixed disk of 16 sectors. */
	mov $0xe0, %al
	call select
	mov $0xec, %al
	call command
	test $ST_DRQ, %al
	jz fail
	mov $BUF, %di
	mov $256, %cx
	mov $CMD, %dx
	rep insw
	cmpw $0x0040, BUF
	jne fail
	cmpw $16, BUF + 120		/* words 60-61: LBA28 sectors */
	jne fail
	puts16 m_identify

	/* No data phase: the data port reads all ones. */
	mov $CMD, %dx
	inw %dx, %ax
	cmp $0xffff, %ax
	jne fail
	puts16 m_nodata

	/* PIO read of sector 3. */
	mov $3, %bl
	mov $1, %cl
	mov $0x20, %al
	call rw_command
	test $ST_DRQ, %al
	jz fail
	mov $BUF, %di
	mov $256, %cx
	mov $CMD, %dx
	rep insw
	cmpb $4, BUF
	jne fail
	cmpb $4, BUF + 511
	jne fail
	call status
	test $(ST_DRQ | ST_ERR), %al
	jnz fail
	puts16 m_pio

	/* Past the end: sector 16, and 2 sectors from 15. */
	mov $16, %bl
	mov $1, %cl
	mov $0x20, %al
	call rw_command
	call expect_idnf
	mov $15, %bl
	mov $2, %cl
	mov $0xc8, %al
	call rw_command
	call expect_idnf
	puts16 m_pastend

	/* Unknown command: aborted. */
	mov $0xe0, %al
	call select
	mov $0xff, %al
	call command
	test $ST_ERR, %al
	jz fail
	mov $(CMD + 1), %dx
	inb %dx, %al
	cmp $0x04, %al
	jne fail
	puts16 m_unknown

	/* DMA read of sectors 5-6 into BUF through two PRD entries. */
	movl $BUF, PRD
	movl $512, PRD + 4
	movl $(BUF + 512), PRD + 8
	movl $(0x80000000 | 512), PRD + 12
	movb $0, BUF
	movb $0, BUF + 1023
	call dma_read_5
	test $0x02, %ah			/* no bus-master error */
	jnz fail
	test $ST_ERR, %al
	jnz fail
	cmpb $6, BUF
	jne fail
	cmpb $7, BUF + 1023
	jne fail
	puts16 m_dma

	/* The buffer outside RAM (the IOAPIC's page). */
	movl $0xfec00000, PRD
	movl $(0x80000000 | 1024), PRD + 4
	call dma_read_5
	call expect_dma_error
	puts16 m_dma_outside

	/* The PRD table itself outside RAM. */
	movl $0xfec00000, %eax
	call dma_read_5_table
	call expect_dma_error
	puts16 m_prd_outside

	/* A PRD table shorter than the transfer. */
	movl $BUF, PRD
	movl $(0x80000000 | 512), PRD + 4
	call dma_read_5
	call expect_dma_error
	puts16 m_short

	/* A region running past the end of RAM (64 KiB at 512 MiB - 256; the
	 * test gives the guest 512 MiB). */
	movl $0x1fffff00, PRD
	movl $0x80000000, PRD + 4
	call dma_read_5
	call expect_dma_error
	puts16 m_ram_end

	/* A reset in the middle of a PIO read: the transfer is gone. */
	mov $0, %bl
	mov $4, %cl
	mov $0x20, %al
	call rw_command
	mov $CMD, %dx
	inw %dx, %ax
	mov $CTL, %dx
	mov $0x06, %al
	outb %al, %dx
	mov $0x02, %al
	outb %al, %dx
	call wait_not_bsy
	test $ST_DRQ, %al
	jnz fail
	mov $(CMD + 2), %dx		/* signature: 01 01 00 00 */
	inb %dx, %al
	cmp $1, %al
	jne fail
	puts16 m_reset

	/* The CD-ROM: READ(10) past the end, then its sense. */
	mov $0xf0, %al
	call select
	movl $0x00000028, pkt		/* READ(10) */
	movl $0x0000ff00, pkt + 2	/* LBA 0x00ff0000 */
	movl $0x00000100, pkt + 6	/* 1 block */
	call packet
	test $ST_ERR, %al
	jz fail
	call request_sense
	cmp $0x0521, %ax
	jne fail
	puts16 m_cd_pastend

	/* An opcode it does not know: WRITE(10) to a CD-ROM. */
	movl $0x0000002a, pkt
	movl $0, pkt + 4
	movl $0x00000100, pkt + 6
	call packet
	test $ST_ERR, %al
	jz fail
	call request_sense
	cmp $0x0520, %ax
	jne fail
	puts16 m_cd_opcode

	/* IDENTIFY DEVICE on the CD-ROM: aborted, with the ATAPI signature. */
	mov $0xec, %al
	call command
	test $ST_ERR, %al
	jz fail
	mov $(CMD + 4), %dx
	inb %dx, %al
	cmp $0x14, %al
	jne fail
	puts16 m_cd_sig

	/* Garbage in every bus-master register, then a good PIO read. */
	mov bm_base, %dx
	mov $0xffffffff, %eax
	outl %eax, %dx
	add $4, %dx
	outl %eax, %dx
	mov bm_base, %dx
	xor %al, %al
	outb %al, %dx
	mov $0xe0, %al
	call select
	mov $7, %bl
	mov $1, %cl
	mov $0x20, %al
	call rw_command
	test $ST_DRQ, %al
	jz fail
	mov $BUF, %di
	mov $256, %cx
	mov $CMD, %dx
	rep insw
	cmpb $8, BUF
	jne fail
	puts16 m_alive
	debug_exit 0x10
fail:
	puts16 m_fail
	debug_exit 0x11

/* ---- helpers (real mode) ---- */

/* Device register al, then wait until not busy. */
select:
	mov $(CMD + 6), %dx
	outb %al, %dx
	jmp wait_not_bsy

/* Command al; returns the status once not busy. */
command:
	mov $(CMD + 7), %dx
	outb %al, %dx
	/* fall through */
wait_not_bsy:
	push %ecx
	mov $0x1000000, %ecx
1:	mov $(CMD + 7), %dx
	inb %dx, %al
	test $ST_BSY, %al
	jz 2f
	dec %ecx
	jnz 1b
	pop %ecx
	jmp fail
2:	pop %ecx
	ret

status:
	mov $(CMD + 7), %dx
	inb %dx, %al
	ret

/* LBA28 command al for bl (sector) and cl (count) on the master. */
rw_command:
	push %ax
	mov $(CMD + 2), %dx
	mov %cl, %al
	outb %al, %dx
	inc %dx
	mov %bl, %al
	outb %al, %dx
	inc %dx
	xor %al, %al
	outb %al, %dx
	inc %dx
	outb %al, %dx
	inc %dx
	mov $0xe0, %al
	outb %al, %dx
	pop %ax
	jmp command

expect_idnf:
	test $ST_ERR, %al
	jz fail
	mov $(CMD + 1), %dx
	inb %dx, %al
	test $0x10, %al
	jz fail
	ret

/* READ DMA of 2 sectors from 5, PRD table at PRD (or eax: dma_read_5_table);
 * returns al = ATA status, ah = bus-master status. */
dma_read_5:
	mov $PRD, %eax
dma_read_5_table:
	mov bm_base, %dx
	add $4, %dx
	outl %eax, %dx
	mov bm_base, %dx
	add $2, %dx
	mov $0x06, %al			/* clear error and interrupt */
	outb %al, %dx
	mov $5, %bl
	mov $2, %cl
	mov $0xc8, %al
	mov $(CMD + 2), %dx
	mov %cl, %al
	outb %al, %dx
	inc %dx
	mov %bl, %al
	outb %al, %dx
	inc %dx
	xor %al, %al
	outb %al, %dx
	inc %dx
	outb %al, %dx
	inc %dx
	mov $0xe0, %al
	outb %al, %dx
	inc %dx
	mov $0xc8, %al
	outb %al, %dx
	mov bm_base, %dx
	mov $0x09, %al			/* start, to memory */
	outb %al, %dx
	/* Wait for the interrupt bit (bounded). */
	mov $0x1000000, %ecx
	mov bm_base, %dx
	add $2, %dx
1:	inb %dx, %al
	test $0x04, %al
	jnz 2f
	dec %ecx
	jnz 1b
	jmp fail
2:	mov bm_base, %dx
	xor %al, %al			/* stop */
	outb %al, %dx
	add $2, %dx
	inb %dx, %al
	mov %al, %ah
	call wait_not_bsy
	ret

expect_dma_error:
	test $0x02, %ah
	jz fail
	test $ST_ERR, %al
	jz fail
	ret

/* Send the 12-byte packet at pkt (byte count limit 2048); returns the
 * status once the command is over (data, if any, is read and dropped). */
packet:
	mov $(CMD + 1), %dx
	xor %al, %al
	outb %al, %dx
	mov $(CMD + 4), %dx
	outb %al, %dx
	inc %dx
	mov $0x08, %al
	outb %al, %dx
	mov $0xa0, %al
	call command
	test $ST_DRQ, %al
	jz fail
	mov $pkt, %si
	mov $6, %cx
	mov $CMD, %dx
	rep outsw
	call wait_not_bsy
1:	test $ST_DRQ, %al
	jz 2f
	mov $CMD, %dx
	inw %dx, %ax
	call status
	jmp 1b
2:	ret

/* REQUEST SENSE; returns ah = sense key, al = ASC. */
request_sense:
	movl $0x00000003, pkt
	movl $0x00000012, pkt + 4
	movl $0, pkt + 8
	mov $(CMD + 1), %dx
	xor %al, %al
	outb %al, %dx
	mov $(CMD + 4), %dx
	outb %al, %dx
	inc %dx
	mov $0x08, %al
	outb %al, %dx
	mov $0xa0, %al
	call command
	mov $pkt, %si
	mov $6, %cx
	mov $CMD, %dx
	rep outsw
	call wait_not_bsy
	test $ST_DRQ, %al
	jz fail
	mov $BUF, %di
	mov $9, %cx
	mov $CMD, %dx
	rep insw
	call wait_not_bsy
	test $ST_ERR, %al
	jnz fail
	mov BUF + 2, %ah
	and $0x0f, %ah
	mov BUF + 12, %al
	ret

	pci_conf_routines
	serial_routines

m_identify:    .asciz "identify: fixed disk of 16 sectors\n"
m_nodata:      .asciz "data port without data: all ones\n"
m_pio:         .asciz "pio read ok\n"
m_pastend:     .asciz "reads past the end: id not found\n"
m_unknown:     .asciz "unknown command: aborted\n"
m_dma:         .asciz "dma read ok\n"
m_dma_outside: .asciz "dma buffer outside ram: error\n"
m_prd_outside: .asciz "prd table outside ram: error\n"
m_short:       .asciz "prd table too short: error\n"
m_ram_end:     .asciz "dma region past the end of ram: error\n"
m_reset:       .asciz "reset mid-transfer: transfer gone, signature back\n"
m_cd_pastend:  .asciz "cd read past the end: sense 05/21\n"
m_cd_opcode:   .asciz "cd write: sense 05/20\n"
m_cd_sig:      .asciz "identify on the cd: aborted, atapi signature\n"
m_alive:       .asciz "still running, pio read ok\n"
m_fail:        .asciz "FAIL\n"
