/*
 * A hostile guest: from a seeded PRNG (xorshift32), write and read random
 * values of random widths to random I/O ports, to PCI configuration space
 * (mechanism 1 and ECAM), and to the MMIO of the local APIC, IOAPIC, HPET,
 * the virtio devices' BARs and the top of the address space.  The VMM must
 * neither crash nor hang nor write outside guest RAM, whatever it does to
 * its devices; tests/integration/test_hostile_guest.py runs it under the
 * sanitizers.  The test patches the seed and the iteration count after the
 * "HOSTILE-SEED" marker.
 *
 * Left out, as they only end or reset the VM: the debug-exit port, COM1
 * (the progress channel), port 0x92 (fast reset), 0xCF9, the i8042's
 * command port, ACPI PM1 control and reset, the LPC bridge's PMBASE and
 * ACPI_CNTL (0:1f.0 0x40-0x47, which would move the PM block where random
 * port writes reach its control register and power off), and the APIC's
 * ICR (INIT).
 * Interrupts stay off; an NMI (which random writes can make the LINT
 * pins or IOAPIC send) masks those and returns.
 * The generator's state lives in RAM, so should anything reset the CPU,
 * the guest resumes where it was instead of replaying the same sequence.
 */
#include "guest.h"

#define STATE	0x9000		/* magic, rng, iterations done, nbars, bars[16] */
#define MAGIC	0x48535449	/* "ITSH" */
#define IDT	0x8000
#define IOAPIC	0xfec00000
#define HPET	0xfed00000
#define LAPIC	0xfee00000
#define ECAM	0xe0000000

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm32
	cmpl $MAGIC, STATE
	je resume
	movl $MAGIC, STATE
	mov LIN(seed), %eax
	or $1, %eax			/* xorshift must not start at 0 */
	mov %eax, STATE + 4
	movl $0, STATE + 8
	call find_bars
	mov $LIN(banner), %esi
	call puts32_impl
	jmp 1f
resume:
	mov $LIN(resumed), %esi
	call puts32_impl
1:	call build_idt
	lidt LIN(idt_ptr)

loop:
	mov STATE + 8, %eax
	cmp LIN(iters), %eax
	jae done
	test $0x3fff, %eax
	jnz 2f
	mov $'.', %al
	call putc32
2:	incl STATE + 8
	call rand
	mov %eax, %ebx			/* what to do and where */
	call rand
	mov %eax, %ebp			/* the value */
	mov %ebx, %ecx
	and $7, %ecx
	jmp *LIN(actions)(, %ecx, 4)
done:
	mov $LIN(finished), %esi
	call puts32_impl
	debug_exit 0x21

/* eax = next xorshift32 value. */
rand:
	mov STATE + 4, %eax
	mov %eax, %edx
	shl $13, %edx
	xor %edx, %eax
	mov %eax, %edx
	shr $17, %edx
	xor %edx, %eax
	mov %eax, %edx
	shl $5, %edx
	xor %edx, %eax
	mov %eax, STATE + 4
	ret

/* A random port (from ebx's upper half) whose access, of any width, does
 * not touch one of the ports that end the VM; 0 if it would. */
pick_port:
	mov %ebx, %edx
	shr $16, %edx
	mov $LIN(forbidden), %edi
1:	movzwl (%edi), %eax		/* first forbidden port of a range */
	movzwl 2(%edi), %ecx		/* its length + 3 */
	test %ecx, %ecx
	jz 2f
	add $4, %edi
	neg %eax
	add %edx, %eax			/* port - first + 3, unsigned */
	add $3, %eax
	cmp %ecx, %eax
	jae 1b
	xor %edx, %edx
2:	ret
/* ebx bits 3-4: the width; value in ebp. */
act_port_write:
	call pick_port
	test %dx, %dx
	jz loop
	mov %ebp, %eax
	bt $3, %ebx
	jc 2f
	bt $4, %ebx
	jc 3f
	outb %al, %dx
	jmp loop
2:	outw %ax, %dx
	jmp loop
3:	outl %eax, %dx
	jmp loop

act_port_read:
	call pick_port
	bt $3, %ebx
	jc 2f
	bt $4, %ebx
	jc 3f
	inb %dx, %al
	jmp loop
2:	inw %dx, %ax
	jmp loop
3:	inl %dx, %eax
	jmp loop

/* PCI configuration through 0xCF8/0xCFC: any device, function, register. */
act_pci_conf:
	mov %ebx, %eax
	and $0x00fffffc, %eax		/* bus 0-255, device, function, register */
	mov %eax, %ecx
	and $0x00fffff8, %ecx
	cmp $(31 << 11 | 0x40), %ecx	/* 0:1f.0 PMBASE, ACPI_CNTL */
	je loop
	or $0x80000000, %eax
	mov $0xcf8, %dx
	outl %eax, %dx
	mov $0xcfc, %dx
	mov %ebx, %ecx
	shr $24, %ecx
	and $3, %ecx
	add %cx, %dx
	mov %ebp, %eax
	bt $29, %ebx
	jc 1f
	outb %al, %dx
	jmp loop
1:	bt $30, %ebx
	jc 2f
	inl %dx, %eax
	jmp loop
2:	outw %ax, %dx
	jmp loop

/* MMIO: pick a region by ebx bits 3-5, an offset from its upper bits. */
act_mmio:
	mov %ebx, %ecx
	shr $3, %ecx
	and $7, %ecx
	mov %ebx, %edi
	shr $12, %edi
	jmp *LIN(regions)(, %ecx, 4)
r_lapic:
	and $0x3f0, %edi
	cmp $0x300, %edi		/* ICR: INIT, SIPI */
	je loop
	cmp $0x310, %edi
	je loop
	add $LAPIC, %edi
	jmp access32
r_ioapic:
	and $0x7c, %edi
	add $IOAPIC, %edi
	jmp access
r_hpet:
	and $0x3fc, %edi
	add $HPET, %edi
	jmp access
r_ecam:
	and $0xffffc, %edi
	mov %edi, %ecx
	and $0xffff8, %ecx
	cmp $(31 << 15 | 0x40), %ecx	/* 0:1f.0 PMBASE, ACPI_CNTL */
	je loop
	add $ECAM, %edi
	jmp access
r_bar:
	mov STATE + 12, %ecx
	test %ecx, %ecx
	jz loop
	mov %ebx, %eax
	shr $24, %eax
	xor %edx, %edx
	div %ecx
	mov STATE + 16(, %edx, 4), %eax
	and $0x7ffc, %edi
	add %eax, %edi
	jmp access
r_high:					/* 0xFE000000 up: APICs, HPET, */
	shl $5, %edi			/* flash, ROM: 32-byte steps, */
	mov %ebp, %eax			/* the low bits from the value */
	and $0x1c, %eax
	or %eax, %edi
	and $0x1fffffc, %edi
	add $0xfe000000, %edi
	jmp access

/* Read or write (ebx bit 6) 1, 2, 4 or 8 bytes (bits 7-8) at edi. */
access:
	mov %ebp, %eax
	bt $6, %ebx
	jc rd
	bt $7, %ebx
	jc 1f
	bt $8, %ebx
	jc 2f
	movb %al, (%edi)
	jmp loop
1:	bt $8, %ebx
	jc 3f
	movw %ax, (%edi)
	jmp loop
2:	movl %eax, (%edi)
	jmp loop
3:	movd %ebp, %mm0
	movd %ebx, %mm1
	punpckldq %mm1, %mm0
	movq %mm0, (%edi)
	jmp loop
rd:	bt $7, %ebx
	jc 1f
	movb (%edi), %al
	jmp loop
1:	movl (%edi), %eax
	jmp loop
access32:
	mov %ebp, %eax
	bt $6, %ebx
	jc 1f
	movl %eax, (%edi)
	jmp loop
1:	movl (%edi), %eax
	jmp loop

/* The memory BARs of every device on bus 0, for r_bar. */
find_bars:
	xor %esi, %esi			/* device << 11 | bar register */
	movl $0, STATE + 12
1:	mov %esi, %eax
	and $~0xff, %eax
	or $0x80000000, %eax
	mov $0xcf8, %dx
	outl %eax, %dx
	mov $0xcfc, %dx
	inl %dx, %eax
	cmp $0xffffffff, %eax		/* no device */
	je 4f
	mov $0x10, %ecx
2:	mov %esi, %eax
	and $~0xff, %eax
	or %ecx, %eax
	or $0x80000000, %eax
	mov $0xcf8, %dx
	outl %eax, %dx
	mov $0xcfc, %dx
	inl %dx, %eax
	test $1, %eax			/* I/O BAR */
	jnz 3f
	and $~0xf, %eax
	jz 3f
	mov STATE + 12, %edx
	cmp $16, %edx
	jae 3f
	mov %eax, STATE + 16(, %edx, 4)
	incl STATE + 12
3:	add $4, %ecx
	cmp $0x28, %ecx
	jb 2b
4:	add $0x800, %esi
	cmp $0x10000, %esi
	jb 1b
	ret

/* Every vector to an IRET, popping the error code where there is one. */
build_idt:
	xor %ecx, %ecx
1:	mov $LIN(stub_nmi), %eax
	cmp $2, %ecx
	je 3f
	mov $LIN(stub), %eax
	cmp $8, %ecx
	je 2f
	cmp $17, %ecx
	je 2f
	cmp $10, %ecx
	jb 3f
	cmp $14, %ecx
	ja 3f
2:	mov $LIN(stub_err), %eax
3:	mov %eax, %edx
	and $0xffff, %eax
	or $0x00080000, %eax
	and $0xffff0000, %edx
	or $0x8e00, %edx
	mov %eax, IDT(, %ecx, 8)
	mov %edx, IDT + 4(, %ecx, 8)
	inc %ecx
	cmp $256, %ecx
	jb 1b
	ret
stub_err:
	add $4, %esp
stub:
	iret
/* An NMI: mask the sources a random write may have made a storm of (the
 * LINT pins, the IOAPIC's pins), so that the guest goes on. */
stub_nmi:
	push %eax
	push %ecx
	movl $0x10000, LAPIC + 0x350
	movl $0x10000, LAPIC + 0x360
	mov $0x10, %ecx
1:	mov %ecx, IOAPIC
	movl $0x10000, IOAPIC + 0x10
	add $2, %ecx
	cmp $0x40, %ecx
	jb 1b
	pop %ecx
	pop %eax
	iret

	serial_routines
	.code32
	.p2align 2
actions:
	.long LIN(act_port_write), LIN(act_port_write), LIN(act_port_read)
	.long LIN(act_pci_conf), LIN(act_mmio), LIN(act_mmio), LIN(act_mmio)
	.long LIN(act_port_write)
regions:
	.long LIN(r_lapic), LIN(r_ioapic), LIN(r_hpet), LIN(r_ecam)
	.long LIN(r_bar), LIN(r_bar), LIN(r_bar), LIN(r_high)
/* Port ranges (first, length + 3) no access may touch; then 0, 0. */
forbidden:
	.word DEBUG_EXIT, 7, 0x64, 4, 0x92, 4, 0xcf9, 4, COM1, 11
	.word 0x600, 19			/* ACPI PM1 event, control, timer, reset */
	.word 0, 0
idt_ptr:
	.word 256 * 8 - 1
	.long IDT
	.ascii "HOSTILE-SEED"
seed:	.long 0x2545f491
iters:	.long 100000
banner:	.asciz "hostile io\n"
resumed: .asciz "\nresumed after a reset\n"
finished: .asciz "\nhostile io done\n"
	flat_gdt
