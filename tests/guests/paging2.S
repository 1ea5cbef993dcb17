/*
 * Paging at the edges: reserved bits in paging-structure entries (#PF
 * with RSVD and P set, the faulting entry's accessed bit left clear) in
 * 32-bit PSE paging and at every level of 4-level paging (address bits
 * at and above MAXPHYADDR 40, PS in a PML4E, bits 13-20/13-29 of 2 MiB /
 * 1 GiB pages, XD without EFER.NXE; bits 52-62 are ignored there, but
 * reserved in PAE paging; the error code has RSVD and P set); a PAE
 * PDPTE with a reserved bit makes MOV CR3 #GP;
 * INVLPG of one address in a 4 MiB, 2 MiB or 1 GiB page drops all of the
 * page; the PAT bit of 2 MiB pages and PTEs is neither address nor PS;
 * MOV CR3 drops non-global translations, a CR4.PGE toggle global
 * ones, and global ones survive MOV CR3.
 * Prints one line per check; ends with 0x1d (status 59) if all passed,
 * else 0x1e (status 61).
 */
#include "guest.h"
#define PML4  0x1000
#define PDPT  0x2000
#define PD    0x3000
#define IDT   0x9000
#define MARK1 0xa000		/* two frames with known contents */
#define MARK2 0xb000
#define PD32  0x10000
#define PDPTPAE 0x12000
#define PDPAE 0x13000
#define PDPT2 0x20000		/* PML4[3]: linear 0x18000000000 */
#define PD2   0x21000		/* PDPT2[2]: linear 0x18080000000 */
#define PT2   0x22000		/* PD2[2]:  linear 0x18080400000 */
#define VEC     0x7f00
#define ERR     0x7f08
#define FCR2    0x7f10
#define RECOVER 0x7f18
#define FAILS   0x7f20
#define V1G   0x18000000000
#define V2M   0x18080000000
#define V4K   0x18080400000

.macro messages name
ok_\name: .ascii "ok \name\n\0"
fail_\name: .ascii "FAIL \name\n\0"
.endm
/* Print ok/FAIL name as the flags of the last comparison say. */
.macro report name
	jne 8f
	puts32 ok_\name
	jmp 7f
8:	puts32 fail_\name
	incl FAILS
7:
.endm
/* Before an access that may fault: no vector seen yet, resume at 1f. */
.macro try
	movl $0xff, VEC
	movl $LIN(1f), RECOVER
.endm
/* 64-bit: read (or write) lin, expecting #PF with error err. */
.macro read_pf lin, err, name
	try
	movabs $\lin, %rbx
	mov (%rbx), %eax
1:	cmpl $14, VEC
	jne 8f
	mov ERR, %eax
	and $~1, %eax			/* P: a check of its own */
	cmp $(\err & ~1), %eax
	jne 8f
	cmp FCR2, %rbx
	report \name
.endm
.macro write_pf lin, err, name
	try
	movabs $\lin, %rbx
	movl $0, (%rbx)
1:	cmpl $14, VEC
	jne 8f
	mov ERR, %eax
	and $~1, %eax			/* P: a check of its own */
	cmp $(\err & ~1), %eax
	jne 8f
	cmp FCR2, %rbx
	report \name
.endm
/* 64-bit: store a 64-bit paging entry. */
.macro entry addr, val
	movabs $\val, %rax
	mov %rax, \addr
.endm

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm
	movl $0, FAILS
	/* #PF handler: record error code and CR2, resume at RECOVER. */
	mov $LIN(pf32), %eax
	mov %ax, IDT + 14 * 8
	movw $0x08, IDT + 14 * 8 + 2
	movw $0x8e00, IDT + 14 * 8 + 4
	shr $16, %eax
	mov %ax, IDT + 14 * 8 + 6
	mov $LIN(gp32), %eax
	mov %ax, IDT + 13 * 8
	movw $0x08, IDT + 13 * 8 + 2
	movw $0x8e00, IDT + 13 * 8 + 4
	shr $16, %eax
	mov %ax, IDT + 13 * 8 + 6
	lidt idt32_ptr + ROM_LOW

	/* ---- 32-bit paging with 4 MiB pages ---- */
	mov $PD32, %edi
	mov $1024, %ecx
	xor %eax, %eax
	rep stosl
	movl $0x00000083, PD32			/* 0-4 MiB identity */
	movl $0x00400083, PD32 + 4		/* 4-8 MiB identity */
	movl $0x00c00083, PD32 + 12		/* 12-16 MiB identity */
	movl $0x00600083, PD32 + 16		/* 16-20 MiB: bit 21 set (reserved) */
	mov %cr4, %eax
	or $0x10, %eax				/* PSE */
	mov %eax, %cr4
	mov $PD32, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	movl $0x11111111, 0x401000
	movl $0x22222222, 0x405000
	movl $0x33333333, 0xc01000
	movl $0x44444444, 0xc05000

	try
	mov 0x1000123, %eax
1:	cmpl $14, VEC
	jne 8f
	mov ERR, %eax
	and $~1, %eax
	cmp $8, %eax
	jne 8f
	cmpl $0x1000123, FCR2
	report rsvd_4m_pde_bit21
	testl $0x20, PD32 + 16
	report rsvd_4m_pde_accessed_clear

	/* 8-12 MiB maps 4-8 MiB; both halves of the page get TLB entries,
	 * then it moves to 12-16 MiB and one address is invalidated. */
	movl $0x00400083, PD32 + 8
	mov 0x801000, %eax
	mov 0x805000, %eax
	movl $0x00c00083, PD32 + 8
	invlpg 0x801000
	cmpl $0x44444444, 0x805000
	report invlpg_4m_page

	/* PAE paging: bits 52-62 are reserved (not ignored as in 4-level). */
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0
	mov $PDPTPAE, %edi
	mov $(2 * 4096 / 4), %ecx
	xor %eax, %eax
	rep stosl
	movl $(PDPAE | 1), PDPTPAE
	movl $0x00000083, PDPAE			/* 0-2 MiB identity */
	movl $0x00400083, PDPAE + 16		/* 4-6 MiB: bit 52 set */
	movl $0x00100000, PDPAE + 20
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $PDPTPAE, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	try
	mov 0x400123, %eax
1:	cmpl $14, VEC
	jne 8f
	mov ERR, %eax
	and $~1, %eax
	cmp $8, %eax
	jne 8f
	cmpl $0x400123, FCR2
	report rsvd_pae_pde_bit52
	/* A present PDPTE with a reserved bit (R/W): MOV CR3 is #GP. */
	movl $(PDPAE | 3), PDPTPAE + 8
	mov $PDPTPAE, %eax
	try
	mov %eax, %cr3
1:	cmpl $13, VEC
	jne 8f
	cmpl $0, ERR
	report pae_pdpte_reserved_bit_gp
	movl $0, PDPTPAE + 8

	/* Paging off; to long mode with PML4[0] the first GiB identity-
	 * mapped with 2 MiB pages, EFER.NXE clear. */
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0
	mov $PML4, %edi
	xor %eax, %eax
	mov $(3 * 4096 / 4), %ecx
	rep stosl
	mov $PDPT2, %edi
	mov $(3 * 4096 / 4), %ecx
	rep stosl
	movl $(PDPT | 3), PML4
	movl $(PD | 3), PDPT
	mov $PD, %edi
	mov $0x83, %eax
	mov $512, %ecx
1:	mov %eax, (%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 1b
	movl $(PDPT2 | 3), PML4 + 3 * 8
	mov $PML4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax				/* PAE (PSE stays on: no effect) */
	mov %eax, %cr4
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax				/* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	ljmp $0x18, $LIN(lm64)

	.code64
lm64:
	mov $0x7000, %rsp
	fill_idt64 IDT, 0x18, 32
	lidt idt64_ptr + ROM_LOW

	/* ---- reserved bits, level by level ---- */
	entry PML4+1*8, (PDPT2|3|(1<<40))
	read_pf 0x8000000123, 9, rsvd_pml4e_maxphyaddr
	entry PML4+2*8, (PDPT2|0x83)
	read_pf 0x10000000000, 9, rsvd_pml4e_ps
	entry PDPT2+0*8, (PD2|3|(1<<45))
	read_pf V1G, 9, rsvd_pdpte_maxphyaddr
	entry PDPT2+1*8, (0x40000000|0x83|(1<<13))
	read_pf (V1G+0x40000000), 9, rsvd_1g_page_bit13
	entry PDPT2+2*8, (PD2|3)
	entry PD2+0*8, (PT2|3|(1<<51))
	read_pf V2M, 9, rsvd_pde_bit51
	entry PD2+1*8, (0x200000|0x83|(1<<20))
	read_pf (V2M+0x200000), 9, rsvd_2m_page_bit20
	entry PD2+2*8, (PT2|3)
	entry PT2+0*8, (MARK1|3|(1<<40))
	read_pf V4K, 9, rsvd_pte_maxphyaddr
	/* A reserved-bit fault has P set too (SDM: RSVD implies P). */
	cmpl $9, ERR
	report rsvd_error_code_has_p
	write_pf V4K, 0xb, rsvd_pte_write
	entry PT2+1*8, (MARK1|3|(1<<63))
	read_pf (V4K+0x1000), 9, rsvd_xd_without_nxe
	/* The faulting entries' accessed bits stay clear. */
	mov PML4 + 1 * 8, %rax
	or PML4 + 2 * 8, %rax
	or PDPT2 + 0 * 8, %rax
	or PD2 + 0 * 8, %rax
	or PD2 + 1 * 8, %rax
	or PT2 + 0 * 8, %rax
	or PT2 + 1 * 8, %rax
	test $0x20, %eax
	report rsvd_faults_leave_accessed_clear
	testl $0x20, PDPT2 + 1 * 8
	report rsvd_1g_page_leaves_accessed_clear
	/* Bits 52-62 are ignored in 4-level paging; a good walk sets the
	 * accessed bits at every level. */
	movl $0x12345678, MARK1
	entry PT2+2*8, (MARK1|3|(0x7ff<<52))
	movabs $(V4K + 0x2000), %rbx
	try
	mov (%rbx), %eax
1:	cmpl $0xff, VEC
	jne 8f
	cmp $0x12345678, %eax
	report ignored_bits_52_62
	mov PML4 + 3 * 8, %rax
	and PDPT2 + 2 * 8, %rax
	and PD2 + 2 * 8, %rax
	and PT2 + 2 * 8, %rax
	test $0x20, %eax
	sete %al
	test %al, %al
	report walk_sets_accessed

	/* The PAT bit: bit 12 of a 2 MiB page entry and bit 7 of a PTE
	 * select a memory type; neither is an address bit nor PS. */
	movl $0x77777777, 0x400000
	entry PD2+4*8, (0x400000|0x83|(1<<12))
	movabs $(V2M+0x800000), %rbx
	try
	mov (%rbx), %eax
1:	cmpl $0xff, VEC
	jne 8f
	cmp $0x77777777, %eax
	report pat_bit_of_2m_page
	movl $0x12345678, MARK1
	entry PT2+5*8, (MARK1|0x83)
	movabs $(V4K+0x5000), %rbx
	try
	mov (%rbx), %eax
1:	cmpl $0xff, VEC
	jne 8f
	cmp $0x12345678, %eax
	report pat_bit_of_pte

	/* ---- INVLPG in large pages ---- */
	movl $0x11111111, 0x401000
	movl $0x22222222, 0x405000
	movl $0x33333333, 0x601000
	movl $0x44444444, 0x605000
	entry PD2+3*8, (0x400000|0x83)
	movabs $(V2M + 0x600000), %rbx
	mov 0x1000(%rbx), %eax
	mov 0x5000(%rbx), %eax
	entry PD2+3*8, (0x600000|0x83)
	invlpg 0x1000(%rbx)
	cmpl $0x44444444, 0x5000(%rbx)
	report invlpg_2m_page
	/* A 1 GiB page made not present: INVLPG of one address in it. */
	entry PDPT2+3*8, 0x83
	movabs $(V1G + 0xc0000000), %rbx
	mov 0x1000(%rbx), %eax
	mov 0x5000(%rbx), %eax
	movq $0, PDPT2 + 3 * 8
	invlpg 0x1000(%rbx)
	add $0x5000, %rbx
	try
	mov (%rbx), %eax
1:	cmpl $14, VEC
	jne 8f
	cmp FCR2, %rbx
	report invlpg_1g_page

	/* The same with more large pages in the TLB than it lists one by
	 * one: 16 more 2 MiB pages first, then a fresh moving one. */
	mov $0x800000, %ebx
	mov $16, %ecx
2:	mov (%rbx), %eax
	add $0x200000, %rbx
	loop 2b
	entry PD2+5*8, (0x400000|0x83)
	movabs $(V2M+0xa00000), %rbx
	mov 0x1000(%rbx), %eax
	mov 0x5000(%rbx), %eax
	entry PD2+5*8, (0x600000|0x83)
	invlpg 0x1000(%rbx)
	cmpl $0x44444444, 0x5000(%rbx)
	report invlpg_2m_page_beyond_the_list

	/* ---- MOV CR3 and CR4.PGE ---- */
	movl $0x55555555, MARK1
	movl $0x66666666, MARK2
	movabs $(V4K + 0x3000), %rbx
	entry PT2+3*8, (MARK1|3)
	mov (%rbx), %eax
	entry PT2+3*8, (MARK2|3)
	mov %cr3, %rax
	mov %rax, %cr3
	cmpl $0x66666666, (%rbx)
	report cr3_flushes_non_global
	mov %cr4, %rax
	or $0x80, %rax				/* PGE */
	mov %rax, %cr4
	entry PT2+3*8, (MARK1|0x103)	/*global*/
	invlpg (%rbx)
	mov (%rbx), %eax
	entry PT2+3*8, (MARK2|0x103)
	mov %cr3, %rax
	mov %rax, %cr3
	cmpl $0x55555555, (%rbx)
	report global_survives_cr3
	mov %cr4, %rax
	and $~0x80, %rax
	mov %rax, %cr4
	or $0x80, %rax
	mov %rax, %cr4
	cmpl $0x66666666, (%rbx)
	report pge_toggle_flushes_global

	cmpl $0, FAILS
	jne 9f
	puts32 msg_all
	debug_exit 0x1d
9:	debug_exit 0x1e

	.code32
gp32:
	push %eax
	movl $13, VEC
	jmp 1f
pf32:
	push %eax
	movl $14, VEC
1:
	mov 4(%esp), %eax
	mov %eax, ERR
	mov %cr2, %eax
	mov %eax, FCR2
	mov RECOVER, %eax
	mov %eax, 8(%esp)
	pop %eax
	add $4, %esp
	iret

	.code64
	exception_stubs

common:
	push %rax
	mov 8(%rsp), %rax
	mov %rax, VEC
	mov 16(%rsp), %rax
	mov %rax, ERR
	mov %cr2, %rax
	mov %rax, FCR2
	mov RECOVER, %eax
	mov %rax, 24(%rsp)
	pop %rax
	add $16, %rsp
	iretq

	serial_routines
	flat_gdt
idt32_ptr:
	.word 256 * 8 - 1
	.long IDT
idt64_ptr:
	.word 32 * 16 - 1
	.quad IDT
	.irp n, rsvd_4m_pde_bit21, rsvd_4m_pde_accessed_clear, invlpg_4m_page, rsvd_pae_pde_bit52, pae_pdpte_reserved_bit_gp, rsvd_pml4e_maxphyaddr, rsvd_pml4e_ps, rsvd_pdpte_maxphyaddr, rsvd_1g_page_bit13, rsvd_pde_bit51, rsvd_2m_page_bit20, rsvd_pte_maxphyaddr, rsvd_error_code_has_p, rsvd_pte_write, rsvd_xd_without_nxe, rsvd_faults_leave_accessed_clear, rsvd_1g_page_leaves_accessed_clear, ignored_bits_52_62, walk_sets_accessed, pat_bit_of_2m_page, pat_bit_of_pte, invlpg_2m_page, invlpg_1g_page, invlpg_2m_page_beyond_the_list, cr3_flushes_non_global, global_survives_cr3, pge_toggle_flushes_global
	messages \n
	.endr
msg_all: .asciz "all paging2 ok\n"
