/*
 * 32-bit paging (4 MiB and 4 KiB pages) and PAE paging (2 MiB and 4 KiB
 * pages, NX): remapped pages, accessed and dirty bits, write protection
 * with CR0.WP, not-present pages, and the #PF error codes and CR2; an
 * instruction whose displacement runs into a not-present page.
 * Prints a line per check; ends with 0x1d (status 59) or 0x1e (61).
 */
#include "guest.h"
#define PD32   0x10000
#define PT32   0x11000
#define PDPT   0x12000
#define PDPAE  0x13000
#define PTPAE  0x14000
#define IDT32  0x6000
#define ERRC   0x500
#define FCR2   0x504
#define RECOVER 0x508
#define FAILS  0x50c

.macro check_pf err, addr, name
	cmpl $\err, ERRC
	jne 8f
	cmpl $\addr, FCR2
	jne 8f
	puts32 ok_\name
	jmp 7f
8:	puts32 fail_\name
	incl FAILS
7:
.endm
.macro check_eq a, b, name
	cmpl \a, \b
	jne 8f
	puts32 ok_\name
	jmp 7f
8:	puts32 fail_\name
	incl FAILS
7:
.endm
.macro messages name
ok_\name: .ascii "ok \name\n\0"
fail_\name: .ascii "FAIL \name\n\0"
.endm
/* Zero n dwords at addr. */
.macro zero addr, n
	mov $\addr, %edi
	mov $\n, %ecx
	xor %eax, %eax
	rep stosl
.endm

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	movl $0, FAILS
	/* #PF handler: record error code and CR2, resume at RECOVER. */
	mov $LIN(pf_handler), %eax
	mov %ax, IDT32 + 14 * 8
	movw $0x08, IDT32 + 14 * 8 + 2
	movw $0x8e00, IDT32 + 14 * 8 + 4
	shr $16, %eax
	mov %ax, IDT32 + 14 * 8 + 6
	/* #UD handler: a check that raised it failed; end at once. */
	mov $LIN(ud_handler), %eax
	mov %ax, IDT32 + 6 * 8
	movw $0x08, IDT32 + 6 * 8 + 2
	movw $0x8e00, IDT32 + 6 * 8 + 4
	shr $16, %eax
	mov %ax, IDT32 + 6 * 8 + 6
	lidt idt_ptr + ROM_LOW

	/* ---- 32-bit paging ---- */
	zero PD32, 2048
	movl $0x00000087, PD32			/* 0-4 MiB: 4 MiB page, user, writable */
	movl $(PT32 | 7), PD32 + 4		/* 4-8 MiB: page table */
	movl $(0x200000 | 7), PT32		/* 0x400000 -> 0x200000 */
	movl $(0x201000 | 5), PT32 + 4		/* 0x401000: read-only */
						/* 0x402000: not present */
	mov %cr4, %eax
	or $0x10, %eax				/* PSE */
	mov %eax, %cr4
	mov $PD32, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80010000, %eax			/* PG, WP */
	mov %eax, %cr0
	movl $0x12345678, 0x400010
	check_eq $0x12345678, 0x200010, remap32
	mov PT32, %eax
	and $0x60, %eax
	check_eq $0x60, %eax, dirty32
	movl $LIN(1f), RECOVER
	movl $1, 0x401000
1:	check_pf 3, 0x401000, wp32
	movl $LIN(1f), RECOVER
	mov 0x402abc, %eax
1:	check_pf 0, 0x402abc, np32

	/* ---- PAE paging with NX ---- */
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0
	zero PDPT, 4096
	movl $(PDPAE | 1), PDPT
	movl $0x83, PDPAE			/* 0-2 MiB: 2 MiB page */
	movl $0x200083, PDPAE + 8		/* 2-4 MiB */
	movl $(PTPAE | 3), PDPAE + 16		/* 4-6 MiB: page table */
	movl $(0x202000 | 3), PTPAE		/* 0x400000 -> 0x202000 */
	movl $(0x203000 | 3), PTPAE + 8		/* 0x401000: NX */
	movl $0x80000000, PTPAE + 12
	mov $0xc0000080, %ecx			/* EFER.NXE */
	rdmsr
	or $0x800, %eax
	wrmsr
	mov %cr4, %eax
	or $0x20, %eax				/* PAE */
	mov %eax, %cr4
	mov $PDPT, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	movl $0x9abcdef0, 0x400020
	check_eq $0x9abcdef0, 0x202020, remap_pae
	mov PTPAE, %eax
	and $0x60, %eax
	check_eq $0x60, %eax, dirty_pae
	movb $0xc3, 0x203000			/* RET at the NX page's frame */
	movl $LIN(1f), RECOVER
	mov $0x401000, %eax
	call *%eax
1:	check_pf 0x11, 0x401000, nx_pae
	/* INVLPG: remap 0x400000 to 0x204000 and see the change. */
	movl $0x11111111, 0x204000
	movl $(0x204000 | 3), PTPAE
	invlpg 0x400000
	check_eq $0x11111111, 0x400000, invlpg
	/* MOV 0x520, %ebx (8b 1d 20 05 00 00) and RET at 0x405ffc: the
	 * displacement's last two bytes are on 0x406000, not present.  The
	 * fetch faults there (#PF, I/D), not #UD; mapped, it runs. */
	movl $0x5a5aa5a5, 0x520
	movl $0x05201d8b, 0x205ffc
	movl $0x00c30000, 0x206000
	movl $(0x205000 | 3), PTPAE + 5 * 8
	xor %ebx, %ebx
	movl $LIN(1f), RECOVER
	mov $0x405ffc, %eax
	call *%eax
1:	check_pf 0x10, 0x406000, split_pf
	movl $(0x206000 | 3), PTPAE + 6 * 8
	mov $0x405ffc, %eax
	call *%eax
	check_eq $0x5a5aa5a5, %ebx, split_insn

	cmpl $0, FAILS
	jne 9f
	puts32 msg_all
	debug_exit 0x1d
9:	debug_exit 0x1e

ud_handler:
	puts32 msg_ud
	debug_exit 0x1e

pf_handler:
	push %eax
	mov 4(%esp), %eax
	mov %eax, ERRC
	mov %cr2, %eax
	mov %eax, FCR2
	mov RECOVER, %eax
	mov %eax, 8(%esp)
	pop %eax
	add $4, %esp
	iret

	serial_routines
	flat_gdt
idt_ptr:
	.word 256 * 8 - 1
	.long IDT32
	.irp n, remap32, dirty32, wp32, np32, remap_pae, dirty_pae, nx_pae, invlpg, \
	     split_pf, split_insn
	messages \n
	.endr
msg_all: .asciz "all paging ok\n"
msg_ud: .asciz "FAIL #UD\n"
