/*
 * Debug facilities in long mode (Intel SDM vol. 3, chapter 18, and the
 * RF/TF rules of chapter 6): DR6/DR7 fixed bits, DR4/DR5 aliases and #UD
 * with CR4.DE, #GP for reserved upper bits; single-step traps (after the
 * instruction following a POPF or IRET that sets TF, not after a faulting
 * instruction, not into an INT n handler, held over MOV SS, right after a
 * SYSRET that sets it); RF pushed by faults; instruction breakpoints
 * (fault, resumed with RF); data breakpoints (write, read/write, length
 * and alignment, straddling accesses, linear addresses with a segment
 * base, per iteration of REP STOS with RF pushed); I/O breakpoints;
 * general detect; MOV DR at CPL 3; ICEBP (INT1) without the gate's
 * privilege check, INT 1 and INT3 with it.
 * Prints one line per check; ends with 0x1d (status 59) if all passed,
 * else 0x1e (status 61).
 */
#include "guest.h"
#define PML4 0x1000
#define PDPT 0x2000
#define PD   0x3000
#define TSS  0x5000
#define IDT  0x6000
#define DATA 0x7c00		/* data breakpoints point here */
#define VEC     0x7f00		/* what the handler saw last */
#define ERR     0x7f08
#define FRIP    0x7f10
#define FCS     0x7f18
#define FRFL    0x7f20
#define FDR6    0x7f28
#define FRCX    0x7f30
#define DBCOUNT 0x7f38		/* #DB taken */
#define INTCOUNT 0x7f40		/* INT 0x40 taken */
#define MODE    0x7f48		/* what the handler does with the frame */
#define RECOVER 0x7f50
#define KSP     0x7f58
#define FAILS   0x7f60
#define BAD     0x7f68
#define TMP     0x7f70

#define M_RESUME  0		/* return as is */
#define M_CLEARTF 1		/* return with TF clear */
#define M_SETRF   2		/* return with RF set */
#define M_RECOVER 3		/* return to RECOVER in ring 0, KSP, TF clear */
#define TF 0x100
#define RF 0x10000

/* Start a check: handler mode, counters and records cleared. */
.macro prep mode
	movq $\mode, MODE
	movq $0, DBCOUNT
	movq $0, INTCOUNT
	movq $-1, VEC
	movq $-1, ERR
	movq $0, FRIP
	movq $0, FDR6
	movq $0, BAD
.endm
/* The quadword at mem must equal val (clobbers rax). */
.macro expect mem, val
	movabs $\val, %rax
	cmp %rax, \mem
	je 1f
	incq BAD
1:
.endm
/* (quadword at mem) & mask must equal val (clobbers rax). */
.macro expect_bits mem, mask, val
	mov \mem, %rax
	and $\mask, %rax
	cmp $\val, %rax
	je 1f
	incq BAD
1:
.endm
.macro done name
	cmpq $0, BAD
	jne 2f
	puts32 ok_\name
	jmp 3f
2:	puts32 fail_\name
	incq FAILS
3:
.endm
.macro set_tf
	pushfq
	orq $TF, (%rsp)
	popfq
.endm
.macro set_dr7 val
	mov $\val, %eax
	mov %rax, %dr7
.endm
/* To ring 3 at label through IRETQ; the handler comes back to after. */
.macro to_user label, after
	movq $LIN(\after), RECOVER
	mov %rsp, KSP
	pushq $0x1b
	pushq $0x7800
	pushq $0x2
	pushq $0x23
	pushq $LIN(\label)
	iretq
\after:
.endm

	reset_vector
	.code16
	.globl _start
_start:
	real_mode_stack
	lgdtl %cs:gdt_ptr
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x38, $LIN(pm32)

	.code32
pm32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7000, %esp
	/* Page tables: the first GiB identity-mapped, user-accessible. */
	identity_map_1g 7
	mov $PML4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $0xc0000080, %ecx
	rdmsr
	or $0x101, %eax			/* LME, SCE */
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	ljmp $0x08, $LIN(lm64)

	.code64
lm64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7000, %rsp
	movq $0, FAILS
	/* TSS: RSP0 for the way back from ring 3. */
	mov $TSS, %rdi
	xor %eax, %eax
	mov $(0x68 / 4), %ecx
	rep stosl
	movq $0x8000, TSS + 4
	movw $0x68, TSS + 0x66
	mov $0x28, %ax
	ltr %ax
	/* IDT: vectors 0-0x40 to stubs that record them (all DPL 0). */
	fill_idt64 IDT, 0x08, 0x41
	lidt idt_ptr + ROM_LOW
	mov $0xc0000081, %ecx		/* STAR: SYSRET base 0x10 */
	xor %eax, %eax
	mov $0x00100008, %edx
	wrmsr

	/* ---- debug registers ---- */
	prep M_RECOVER
	xor %eax, %eax
	mov %rax, %dr6
	mov %rax, %dr7
	mov %dr6, %rax
	mov %rax, TMP
	expect TMP, 0xffff0ff0
	mov %dr7, %rax
	mov %rax, TMP
	expect TMP, 0x400
	done dr6_dr7_fixed_bits

	prep M_RECOVER
	mov $0x10000, %eax		/* R/W0 = 01, not enabled */
	mov %rax, %dr5
	mov %dr7, %rax
	mov %rax, TMP
	expect TMP, 0x10400
	mov %dr4, %rax
	mov %rax, TMP
	expect TMP, 0xffff0ff0
	set_dr7 0
	done dr4_dr5_alias_dr6_dr7

	prep M_RECOVER
	movq $LIN(after_dr4_ud), RECOVER
	mov %rsp, KSP
	mov %cr4, %rax
	or $8, %rax			/* CR4.DE */
	mov %rax, %cr4
	mov %dr4, %rax
after_dr4_ud:
	mov %cr4, %rax
	and $~8, %rax
	mov %rax, %cr4
	expect VEC, 6
	done dr4_ud_with_cr4_de

	prep M_RECOVER
	movq $LIN(after_dr7_gp), RECOVER
	mov %rsp, KSP
	movabs $0x100000000, %rax
	mov %rax, %dr7
after_dr7_gp:
	expect VEC, 13
	expect ERR, 0
	mov %dr7, %rax
	mov %rax, TMP
	expect TMP, 0x400
	done dr7_upper_bits_gp

	/* ---- single-step ---- */
	prep M_CLEARTF
	set_tf				/* no trap after the POPF itself */
	nop
tf_popf_after:
	expect DBCOUNT, 1
	expect FRIP, LIN(tf_popf_after)
	expect_bits FDR6, 0x4000, 0x4000
	expect_bits FRFL, TF, TF
	done single_step_after_insn_following_popf

	prep M_RESUME
	set_tf
	nop				/* 1 */
	nop				/* 2 */
	pushfq				/* 3 */
	andq $~TF, (%rsp)		/* 4 */
	popfq				/* 5: TF was set when it began */
tf_count_after:
	expect DBCOUNT, 5
	expect FRIP, LIN(tf_count_after)
	done single_step_each_insn_until_popf_clears_tf

	prep M_RECOVER
	movq $LIN(after_tf_ud), RECOVER
	mov %rsp, KSP
	set_tf
	ud2
after_tf_ud:
	expect DBCOUNT, 0
	expect VEC, 6
	done no_single_step_after_faulting_insn

	prep M_RESUME
	pushfq
	orq $RF, (%rsp)
	popfq				/* POPF does not load RF */
	pushfq
	pop %rax
	mov %rax, TMP
	expect_bits TMP, RF, 0
	done popf_pushf_rf_zero

	prep M_RECOVER
	movq $LIN(after_rf_ud), RECOVER
	mov %rsp, KSP
	ud2
after_rf_ud:
	expect VEC, 6
	expect_bits FRFL, RF, RF
	done ud_pushes_rf

	prep M_RECOVER
	movq $LIN(after_rf_gp), RECOVER
	mov %rsp, KSP
	movabs $0x8000000000000000, %rax
	mov (%rax), %rax
after_rf_gp:
	expect VEC, 13
	expect_bits FRFL, RF, RF
	done gp_pushes_rf

	prep M_RECOVER
	movq $LIN(after_rf_pf), RECOVER
	mov %rsp, KSP
	mov 0x40000123, %eax
after_rf_pf:
	expect VEC, 14
	expect_bits FRFL, RF, RF
	done pf_pushes_rf

	prep M_CLEARTF
	set_tf
	int $0x40			/* delivery clears TF: its handler runs unstepped */
	nop				/* the IRETQ restored TF: trap after this */
tf_int_after:
	expect INTCOUNT, 1
	expect DBCOUNT, 1
	expect FRIP, LIN(tf_int_after)
	done int_n_clears_tf

	prep M_CLEARTF
	mov %rsp, %rax
	pushq $0x10
	push %rax
	pushq $(TF | 2)
	pushq $0x08
	pushq $LIN(tf_iret_target)
	iretq
tf_iret_target:
	nop
tf_iret_after:
	expect DBCOUNT, 1
	expect FRIP, LIN(tf_iret_after)
	done iretq_setting_tf_traps_after_next_insn

	prep M_CLEARTF
	mov %ss, %ax
	set_tf
	mov %ax, %ss			/* the trap waits for the next instruction */
	nop
tf_ss_after:
	expect DBCOUNT, 1
	expect FRIP, LIN(tf_ss_after)
	done mov_ss_delays_single_step

	/* ---- instruction breakpoints ---- */
	prep M_SETRF
	mov $LIN(bp_target), %eax
	mov %rax, %dr0
	set_dr7 0x1			/* L0, execute */
	xor %ebx, %ebx
	mov $2, %ecx
bp_loop:
bp_target:
	inc %ebx
	loop bp_loop
	set_dr7 0
	expect DBCOUNT, 2		/* once per pass, RF lets it run */
	mov %rbx, TMP
	expect TMP, 2
	expect FRIP, LIN(bp_target)
	expect_bits FDR6, 0xf, 1
	expect_bits FRFL, RF, 0		/* the breakpoint fault pushes RF clear */
	done instruction_breakpoint_fault_resumed_with_rf

	/* ---- data breakpoints ---- */
	prep M_RESUME
	movq $0, DATA
	movq $0, DATA + 8
	mov $DATA, %eax
	mov %rax, %dr1
	set_dr7 0x00d00004		/* L1, write, 4 bytes */
	movl $1, DATA + 2		/* bytes 2-5 overlap 0-3 */
bp_w_after:
	expect DBCOUNT, 1
	expect FRIP, LIN(bp_w_after)
	expect_bits FDR6, 0x400f, 2
	done data_write_breakpoint_traps_after_access

	prep M_RESUME
	mov DATA, %eax
	movb $1, DATA + 4
	expect DBCOUNT, 0
	done write_breakpoint_ignores_reads_and_other_bytes

	prep M_RESUME
	mov $(DATA + 5), %eax		/* 4 bytes: the address's low bits are ignored */
	mov %rax, %dr1
	movb $1, DATA + 4
bp_align_after:
	movb $1, DATA + 8
	expect DBCOUNT, 1
	expect FRIP, LIN(bp_align_after)
	done breakpoint_address_aligned_to_length

	prep M_RESUME
	mov $(DATA + 6), %eax
	mov %rax, %dr1
	set_dr7 0x00500004		/* L1, write, 2 bytes */
	movq $0, DATA + 1		/* bytes 1-8 */
	expect DBCOUNT, 1
	done access_straddling_breakpoint_range

	prep M_RESUME
	mov $DATA, %eax
	mov %rax, %dr1
	set_dr7 0x00f00004		/* L1, read/write, 4 bytes */
	mov DATA + 3, %al
	expect DBCOUNT, 1
	expect_bits FDR6, 0xf, 2
	set_dr7 0
	done read_write_breakpoint_on_read

	prep M_RESUME
	mov $(DATA + 0x10), %eax
	mov %rax, %dr2
	set_dr7 0x09000010		/* L2, write, 8 bytes */
	mov $0xc0000100, %ecx		/* FS base */
	mov $DATA, %eax
	xor %edx, %edx
	wrmsr
	movq $0, %fs:0x8		/* linear DATA + 8: no */
	movq $5, %fs:0x10		/* linear DATA + 0x10: yes */
	expect DBCOUNT, 1
	expect_bits FDR6, 0xf, 4
	done breakpoints_use_linear_addresses

	prep M_RESUME
	mov $(DATA + 0x28), %eax
	mov %rax, %dr2
	mov $(DATA + 0x18), %edi
	mov $4, %ecx
	xor %eax, %eax
	cld
bp_rep:
	rep stosq			/* the third of four stores hits */
	mov %rcx, TMP
	set_dr7 0
	expect DBCOUNT, 1
	expect FRIP, LIN(bp_rep)
	expect FRCX, 1
	expect TMP, 0
	expect_bits FRFL, RF, RF	/* a trap from an iteration before the last */
	done rep_stos_traps_after_iteration

	prep M_CLEARTF
	mov $DATA, %eax
	mov %rax, %dr1
	set_dr7 0x00d00004		/* L1, write, 4 bytes */
	set_tf
	movl $7, DATA			/* single-step and breakpoint: one #DB */
sb_after:
	set_dr7 0
	expect DBCOUNT, 1
	expect FRIP, LIN(sb_after)
	expect_bits FDR6, 0x400f, 0x4002
	done single_step_and_breakpoint_in_one_db

	prep M_CLEARTF
	mov $(DATA + 0x40), %edi
	mov $3, %ecx
	xor %eax, %eax
	set_tf
ss_rep:
	rep stosb			/* TF: a trap after each iteration */
	mov %rcx, TMP
	expect DBCOUNT, 1
	expect FRIP, LIN(ss_rep)
	expect FRCX, 2
	expect TMP, 0
	done single_step_rep_stos_per_iteration

	/* ---- I/O breakpoints (CR4.DE) ---- */
	prep M_RESUME
	mov %cr4, %rax
	or $8, %rax
	mov %rax, %cr4
	mov $0x80, %eax
	mov %rax, %dr3
	set_dr7 0x20000040		/* L3, I/O, 1 byte */
	outb %al, $0x81
	outb %al, $0x80
bp_io_after:
	set_dr7 0
	mov %cr4, %rax
	and $~8, %rax
	mov %rax, %cr4
	expect DBCOUNT, 1
	expect FRIP, LIN(bp_io_after)
	expect_bits FDR6, 0xf, 8
	done io_breakpoint

	/* ---- general detect ---- */
	prep M_RECOVER
	movq $LIN(after_gd), RECOVER
	mov %rsp, KSP
	set_dr7 0x2000			/* GD */
gd_insn:
	mov %dr0, %rax
after_gd:
	expect VEC, 1
	expect FRIP, LIN(gd_insn)
	expect_bits FDR6, 0x2000, 0x2000
	mov %dr7, %rax			/* GD was cleared for the handler */
	mov %rax, TMP
	expect TMP, 0x400
	done general_detect

	/* ---- ring 3 ---- */
	prep M_RECOVER
	to_user u_movdr, after_u_movdr
	expect VEC, 13
	expect ERR, 0
	expect FRIP, LIN(u_movdr)
	done mov_dr_at_cpl3_gp

	prep M_RECOVER
	to_user u_icebp, after_u_icebp
	expect VEC, 1
	expect FRIP, LIN(u_icebp_next)
	expect FCS, 0x23
	done icebp_from_ring3_ignores_gate_dpl

	prep M_RECOVER
	to_user u_int1, after_u_int1
	expect VEC, 13
	expect ERR, 0x0a
	done int_1_from_ring3_checks_gate_dpl

	prep M_RECOVER
	to_user u_int3, after_u_int3
	expect VEC, 13
	expect ERR, 0x1a
	done int3_from_ring3_checks_gate_dpl

	prep M_RECOVER
	movq $LIN(after_sysret), RECOVER
	mov %rsp, KSP
	mov $LIN(u_sysret), %ecx
	mov $(TF | 2), %r11d
	sysretq
after_sysret:
	expect VEC, 1
	expect FRIP, LIN(u_sysret)	/* before the first user instruction */
	expect FCS, 0x23
	expect_bits FDR6, 0x4000, 0x4000
	done sysret_setting_tf_traps_at_once

	cmpq $0, FAILS
	jne 9f
	puts32 msg_all
	debug_exit 0x1d
9:	debug_exit 0x1e

	/* ---- ring 3 code ---- */
u_movdr:
	mov %dr7, %rax
	ud2
u_icebp:
	.byte 0xf1
u_icebp_next:
	ud2
u_int1:
	int $1
	ud2
u_int3:
	int3
	ud2
u_sysret:
	ud2

	exception_stubs
	.rept 0x40 - 32
	.p2align 4
	pushq $0
	pushq $0xff
	jmp common
	.endr
	.p2align 4
	pushq $0
	pushq $0x40
	jmp common

	/* Frame: vector, error, RIP, CS, RFLAGS, RSP, SS. */
common:
	push %rax
	mov 8(%rsp), %rax
	mov %rax, VEC
	mov 16(%rsp), %rax
	mov %rax, ERR
	mov 24(%rsp), %rax
	mov %rax, FRIP
	mov 32(%rsp), %rax
	mov %rax, FCS
	mov 40(%rsp), %rax
	mov %rax, FRFL
	mov %rcx, FRCX
	cmpq $0x40, VEC
	jne 1f
	incq INTCOUNT
	jmp 5f
1:	cmpq $1, VEC
	jne 2f
	incq DBCOUNT
	mov %dr6, %rax
	mov %rax, FDR6
	xor %eax, %eax
	mov %rax, %dr6
2:	mov MODE, %rax
	cmp $M_CLEARTF, %rax
	jne 3f
	andq $~TF, 40(%rsp)
	jmp 5f
3:	cmp $M_SETRF, %rax
	jne 4f
	orq $RF, 40(%rsp)
	jmp 5f
4:	cmp $M_RECOVER, %rax
	jne 5f
	mov RECOVER, %rax
	mov %rax, 24(%rsp)
	movq $0x08, 32(%rsp)
	movq $0x2, 40(%rsp)
	mov KSP, %rax
	mov %rax, 48(%rsp)
	movq $0x10, 56(%rsp)
5:	pop %rax
	add $16, %rsp
	iretq

	serial_routines
	.p2align 3
gdt:	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit kernel code */
	.quad 0x00cf92000000ffff	/* 0x10: kernel data */
	.quad 0x00cff2000000ffff	/* 0x18: user data (SYSRET SS) */
	.quad 0x00affa000000ffff	/* 0x20: 64-bit user code (SYSRET CS) */
	.quad 0x0000890050000067	/* 0x28: TSS at 0x5000, limit 0x67 */
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x38: 32-bit code for the switch */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long LIN(gdt)
idt_ptr:
	.word 0x41 * 16 - 1
	.quad IDT
	.irp name, dr6_dr7_fixed_bits, dr4_dr5_alias_dr6_dr7, dr4_ud_with_cr4_de, \
		dr7_upper_bits_gp, single_step_after_insn_following_popf, \
		single_step_each_insn_until_popf_clears_tf, no_single_step_after_faulting_insn, \
		popf_pushf_rf_zero, ud_pushes_rf, gp_pushes_rf, pf_pushes_rf, int_n_clears_tf, \
		iretq_setting_tf_traps_after_next_insn, mov_ss_delays_single_step, \
		instruction_breakpoint_fault_resumed_with_rf, \
		data_write_breakpoint_traps_after_access, \
		write_breakpoint_ignores_reads_and_other_bytes, \
		breakpoint_address_aligned_to_length, access_straddling_breakpoint_range, \
		read_write_breakpoint_on_read, breakpoints_use_linear_addresses, \
		rep_stos_traps_after_iteration, single_step_and_breakpoint_in_one_db, \
		single_step_rep_stos_per_iteration, io_breakpoint, general_detect, \
		mov_dr_at_cpl3_gp, icebp_from_ring3_ignores_gate_dpl, \
		int_1_from_ring3_checks_gate_dpl, int3_from_ring3_checks_gate_dpl, \
		sysret_setting_tf_traps_at_once
ok_\name:   .asciz "ok \name\n"
fail_\name: .asciz "FAIL \name\n"
	.endr
msg_all: .asciz "all debug checks ok\n"
