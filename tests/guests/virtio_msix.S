/*
 * A virtio driver in real mode (run with --rng): set up the virtio-rng in
 * slot 1, post a buffer, notify, and take the answer as an MSI-X
 * interrupt through the local APIC; then check masking (the message waits
 * in the pending bit array) and unmasking (it arrives).  Exits with 0x17
 * (status 47).
 *
 * Real mode cannot reach 0xC0000000 or 0xFEE00000, so the guest moves
 * BAR0 to 0xA0000 and the local APIC to 0xB0000 (the VGA window, where
 * wirt has no memory), as an OS may.  Under KVM this drives ioeventfd (the
 * notify register, after the BAR moved) and irqfd (the vectors); under the
 * emulator, wirt's own APIC.  Real mode only, so it runs on KVM-PVM too.
 */
#include "guest.h"

#define RNG_SLOT     1
#define BAR_SEG      0xa000          /* BAR0 at 0xA0000 */
#define BAR_ADDR     0xa0000
#define APIC_SEG     0xb000          /* local APIC at 0xB0000 */
#define APIC_BASE    0xb0000
#define MSR_APIC_BASE 0x1b
#define APIC_ENABLE  0x800
#define APIC_BSP     0x100
#define APIC_TPR     0x80
#define APIC_EOI     0xb0
#define APIC_SVR     0xf0
#define VECTOR       0x40            /* the interrupt the MSI raises */
#define MSIX_VECTOR  1               /* the queue's MSI-X table entry */

/* virtio 1.x common configuration (offsets in BAR0). */
#define DEV_FEAT_SEL 0x00
#define DEV_FEAT     0x04
#define DRV_FEAT_SEL 0x08
#define DRV_FEAT     0x0c
#define MSIX_CONFIG  0x10
#define STATUS       0x14
#define Q_SELECT     0x16
#define Q_SIZE       0x18
#define Q_MSIX       0x1a
#define Q_ENABLE     0x1c
#define Q_NOTIFY_OFF 0x1e
#define Q_DESC       0x20
#define Q_DRIVER     0x28
#define Q_DEVICE     0x30
#define NOTIFY       0x3000          /* wirt's layout, multiplier 4 */
#define MSIX_TABLE   0x4000
#define MSIX_PBA     0x5000

/* The queue in low RAM (segment 0). */
#define DESC         0x8000
#define AVAIL        0x8100
#define USED         0x8200
#define BUF          0x9000
#define IRQ_COUNT    0x7e00
#define QSIZE        8
#define WAIT_LOOPS   4000000

	reset_vector
	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov %ax, %ds
	mov $0x7000, %sp

	/* Move BAR0, enable memory decoding and bus mastering. */
	mov $RNG_SLOT, %bx
	mov $0x10, %cx
	mov $BAR_ADDR, %eax
	call conf_write
	mov $0x04, %cx
	mov $0x0006, %eax
	call conf_write
	mov $BAR_SEG, %ax
	mov %ax, %es

	/* Local APIC at 0xB0000, software-enabled; the handler in the IVT. */
	mov $MSR_APIC_BASE, %ecx
	xor %edx, %edx
	mov $(APIC_BASE | APIC_ENABLE | APIC_BSP), %eax
	wrmsr
	mov $APIC_SEG, %ax
	mov %ax, %fs
	movl $0, %fs:APIC_TPR
	movl $0x1ff, %fs:APIC_SVR
	movw $msi_handler, (VECTOR * 4)
	movw $0xf000, (VECTOR * 4 + 2)
	movw $0, IRQ_COUNT

	/* Clear the rings and the buffers. */
	push %es
	xor %ax, %ax
	mov %ax, %es
	mov $DESC, %di
	mov $((BUF + 0x100 - DESC) / 2), %cx
	rep stosw
	pop %es

	/* Reset, ACKNOWLEDGE | DRIVER, then features: VERSION_1 only. */
	movb $0, %es:STATUS
	movb $3, %es:STATUS
	movl $1, %es:DEV_FEAT_SEL
	testl $1, %es:DEV_FEAT
	jz fail_features
	movl $1, %es:DRV_FEAT_SEL
	movl $1, %es:DRV_FEAT
	movl $0, %es:DRV_FEAT_SEL
	movl $0, %es:DRV_FEAT
	movb $0xb, %es:STATUS
	testb $8, %es:STATUS
	jz fail_features

	/* Queue 0: QSIZE entries, MSI-X entry 1, rings in low RAM. */
	movw $0xffff, %es:MSIX_CONFIG
	movw $0, %es:Q_SELECT
	movw $QSIZE, %es:Q_SIZE
	movw $MSIX_VECTOR, %es:Q_MSIX
	cmpw $MSIX_VECTOR, %es:Q_MSIX
	jne fail_vector
	movl $DESC, %es:Q_DESC
	movl $0, %es:Q_DESC + 4
	movl $AVAIL, %es:Q_DRIVER
	movl $0, %es:Q_DRIVER + 4
	movl $USED, %es:Q_DEVICE
	movl $0, %es:Q_DEVICE + 4
	movw $1, %es:Q_ENABLE
	mov %es:Q_NOTIFY_OFF, %di
	shl $2, %di
	add $NOTIFY, %di                /* es:di = queue 0's notify register */
	movb $0xf, %es:STATUS           /* DRIVER_OK */

	/* MSI-X entry 1: to APIC 0, fixed, VECTOR; unmasked. */
	movl $0xfee00000, %es:MSIX_TABLE + 16 * MSIX_VECTOR
	movl $0, %es:MSIX_TABLE + 16 * MSIX_VECTOR + 4
	movl $VECTOR, %es:MSIX_TABLE + 16 * MSIX_VECTOR + 8
	movl $0, %es:MSIX_TABLE + 16 * MSIX_VECTOR + 12
	call msix_enable

	/* Two 16-byte device-writable descriptors. */
	movl $BUF, DESC
	movl $16, DESC + 8
	movw $2, DESC + 12
	movl $(BUF + 16), DESC + 16
	movl $16, DESC + 16 + 8
	movw $2, DESC + 16 + 12
	sti

	/* First request: the answer comes as an interrupt. */
	movw $0, AVAIL + 4
	movw $1, AVAIL + 2
	movw $0, %es:(%di)
	mov $1, %ax
	call wait_irqs
	jne fail_irq
	cmpw $1, USED + 2
	jne fail_used
	cmpl $0, USED + 4               /* descriptor 0 ... */
	jne fail_used
	cmpl $16, USED + 8              /* ... filled with 16 bytes */
	jne fail_used
	mov BUF, %eax
	or BUF + 4, %eax
	or BUF + 8, %eax
	or BUF + 12, %eax
	jz fail_used
	puts16 msg_irq

	/* Masked: the device answers, the message waits in the PBA. */
	movl $1, %es:MSIX_TABLE + 16 * MSIX_VECTOR + 12
	movw $1, AVAIL + 6
	movw $2, AVAIL + 2
	movw $0, %es:(%di)
	mov $WAIT_LOOPS, %ecx
1:	cmpw $2, USED + 2
	je 2f
	pause
	loopl 1b
	jmp fail_used
2:	mov $2, %ax                     /* no second interrupt may come */
	call wait_irqs
	je fail_masked
	testl $(1 << MSIX_VECTOR), %es:MSIX_PBA
	jz fail_masked
	puts16 msg_masked

	/* Unmasked: the pending message is sent. */
	movl $0, %es:MSIX_TABLE + 16 * MSIX_VECTOR + 12
	mov $2, %ax
	call wait_irqs
	jne fail_irq
	testl $(1 << MSIX_VECTOR), %es:MSIX_PBA
	jnz fail_masked
	puts16 msg_unmasked
	debug_exit 0x17

/* ZF set once IRQ_COUNT reaches ax; gives up after WAIT_LOOPS polls. */
wait_irqs:
	mov $WAIT_LOOPS, %ecx
1:	cmp IRQ_COUNT, %ax
	je 2f
	pause
	loopl 1b
	cmp IRQ_COUNT, %ax
2:	ret

/* Walk the capability list to MSI-X and set its enable bit. */
msix_enable:
	mov $0x34, %cx
	call conf_read
	movzb %al, %cx
1:	test %cx, %cx
	jz fail_nocap
	call conf_read
	cmp $0x11, %al
	je 2f
	movzb %ah, %cx
	jmp 1b
2:	or $0x80000000, %eax            /* message control bit 15 */
	call conf_write
	ret

msi_handler:
	incw %ss:IRQ_COUNT
	movl $0, %fs:APIC_EOI
	iret

fail_features:
	puts16 msg_features
	debug_exit 0x18
fail_vector:
	puts16 msg_vector
	debug_exit 0x18
fail_irq:
	puts16 msg_noirq
	debug_exit 0x18
fail_used:
	puts16 msg_used
	debug_exit 0x18
fail_masked:
	puts16 msg_leak
	debug_exit 0x18
fail_nocap:
	puts16 msg_nocap
	debug_exit 0x18

	pci_conf_routines
	serial_routines
msg_irq:      .asciz "request answered, msi-x interrupt taken\n"
msg_masked:   .asciz "masked vector: message pending\n"
msg_unmasked: .asciz "unmasked vector: pending message delivered\n"
msg_features: .asciz "device refused VERSION_1\n"
msg_vector:   .asciz "queue vector not accepted\n"
msg_noirq:    .asciz "no interrupt\n"
msg_used:     .asciz "used ring wrong\n"
msg_leak:     .asciz "masked vector interrupted or PBA wrong\n"
msg_nocap:    .asciz "no MSI-X capability\n"
