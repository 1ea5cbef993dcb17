/*
 * Real-mode instruction forms that firmware and boot loaders use, each
 * checked against the value the SDM gives (and QEMU computes): the BCD
 * instructions over every AL and CF/AF input as one hash of results and
 * defined flags, AAM's #DE, INT/IRET through the IVT, far CALL/JMP through
 * m16:16, far CALL/RETF imm, LDS/LES/LFS/LGS/LSS, PUSHA/POPA, ENTER/LEAVE,
 * XLAT, LOOP/JCXZ/JECXZ with CX, REP INS/OUTS with 16-bit addresses (DI
 * wrapping at 64 KiB), effective addresses and SP wrapping at 64 KiB,
 * 32-bit operand/address prefixes, BOUND and #BR, LOCK, segment
 * overrides, and unreal mode (a 4 GiB DS limit kept after leaving
 * protected mode).  Prints "ok <name>" or "FAIL <name>" per check and the
 * BCD hash (the SDM's results, QEMU agrees; realmode_limits.S has the
 * checks QEMU does not make); ends with 0x1d (status 59), or 0x1e (61) if a check failed.
 */
#include "guest.h"
#include "realmode_checks.h"
#define COM1_SCR (COM1 + 7)
/* Data in segment 0 (SS is 0 throughout but for the SP wrap check). */
#define SCRATCH 0x610
#define BUF     0x700

.macro bcd_case insn, mask
	mov %cx, %ax
	mov %cl, %ah
	xor $0x5a, %ah
	mov %ch, %bl			/* CF from bit 8, AF from bit 9 */
	and $1, %bx
	test $2, %ch
	jz 3f
	or $0x10, %bx
3:	push %bx
	popf
	\insn
	pushf
	pop %dx
	and $\mask, %dx
	call mix
.endm

	reset_vector
	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov %ax, %ds
	mov %ax, %es
	mov $0x7000, %sp
	movw $0, FAILS
	ivt 0, exc0
	ivt 5, exc5
	ivt 6, exc6
	ivt 13, exc13
	ivt 0x40, int40

	/* ---- BCD: one hash over all inputs ---- */
	xor %edi, %edi
	xor %cx, %cx
bcd_loop:
	bcd_case daa, 0xd5
	bcd_case das, 0xd5
	bcd_case aaa, 0x11
	bcd_case aas, 0x11
	bcd_case "aam $10", 0xc4
	bcd_case "aam $16", 0xc4
	bcd_case "aam $7", 0xc4
	bcd_case "aam $255", 0xc4
	bcd_case "aad $10", 0xc4
	bcd_case "aad $16", 0xc4
	bcd_case "aad $7", 0xc4
	inc %cx
	cmp $0x400, %cx
	jb bcd_loop
	puts16 msg_bcd
	mov %edi, %eax
	call puthex32
	mov $'\n', %al
	call putc16

	/* AAM 0: #DE, nothing changed. */
	mov $0x1234, %ax
	may_fault
1:	aam $0
2:	cmp $0x1234, %ax
	jne 3f
	cmpb $0, LASTVEC
3:	report "aam 0 raises #de"

	/* ---- INT n / IRET through the IVT: IF cleared inside, restored ---- */
	mov $0x1111, %ax
	sti
	int $0x40
	pushf
	cli
	pop %dx
	cmp $0x2222, %ax
	jne 3f
	test $0x200, %dx		/* IF back after IRET */
	jz 3f
	cmp $0, %bx			/* the handler saw IF clear */
3:	report "int/iret through the ivt"

	/* ---- far CALL/JMP through m16:16, to CS 0xEFFF ---- */
	movw $(far_target + 0x10), SCRATCH
	movw $0xefff, SCRATCH + 2
	mov $SCRATCH, %bx
	xor %ax, %ax
	lcall *(%bx)
	cmp $0xefff, %ax
	report "call far m16:16"
	movw $(far_jmp_back + 0x10), SCRATCH
	ljmp *(%bx)
far_jmp_done:
	cmp $0xefff, %ax
	report "jmp far m16:16"
	/* far CALL immediate, RETF imm16 */
	mov %sp, %dx
	push $0x55
	lcall $0xf000, $retf_imm
	sub %sp, %dx
	cmp $0, %dx
	report "call far imm, retf imm16"

	/* ---- LDS/LES/LFS/LGS/LSS ---- */
	movw $0xbeef, SCRATCH
	movw $0x1234, SCRATCH + 2
	mov $SCRATCH, %bx
	lds (%bx), %ax
	mov %ds, %cx
	xor %dx, %dx
	mov %dx, %ds
	cmp $0x1234, %cx
	jne 3f
	cmp $0xbeef, %ax
3:	report "lds"
	les (%bx), %ax
	mov %es, %cx
	mov %dx, %es
	cmp $0x1234, %cx
	report "les"
	lfs (%bx), %ax
	lgs (%bx), %si
	mov %fs, %cx
	mov %gs, %dx
	cmp %cx, %dx
	jne 3f
	cmp %ax, %si
	jne 3f
	cmp $0x1234, %cx
3:	report "lfs, lgs"
	movw $0x6000, SCRATCH
	movw $0, SCRATCH + 2
	lss (%bx), %sp
	cmp $0x6000, %sp
	mov $0x7000, %sp
	report "lss"
	/* 32-bit operand: m16:32 */
	movl $0x00012345, SCRATCH
	movw $0x0042, SCRATCH + 4
	lfs (%bx), %eax
	mov %fs, %cx
	cmp $0x42, %cx
	jne 3f
	cmp $0x00012345, %eax
3:	report "lfs m16:32"

	/* ---- PUSHA/POPA ---- */
	mov $0x1001, %ax
	mov $0x1002, %cx
	mov $0x1003, %dx
	mov $0x1004, %bx
	mov $0x1006, %bp
	mov $0x1007, %si
	mov $0x1008, %di
	pusha
	mov %sp, %bp
	cmpw $0x7000, 6(%bp)		/* the SP pushed is the one before */
	jne 3f
	cmpw $0x1001, 14(%bp)
	jne 3f
	cmpw $0x1008, 0(%bp)
	jne 3f
	movw $0xdead, 6(%bp)		/* POPA skips SP */
	xor %ax, %ax
	xor %bx, %bx
	xor %di, %di
	popa
	cmp $0x7000, %sp
	jne 3f
	cmp $0x1001, %ax
	jne 3f
	cmp $0x1004, %bx
	jne 3f
	cmp $0x1008, %di
3:	report "pusha/popa"

	/* ---- ENTER/LEAVE, 16-bit ---- */
	mov $0x7000, %sp
	mov $0x1234, %bp
	enter $8, $0
	cmp $(0x7000 - 2), %bp
	jne 3f
	cmp $(0x7000 - 2 - 8), %sp
	jne 3f
	cmpw $0x1234, (%bp)
	jne 3f
	/* nesting level 2: the word below the old frame pointer copied,
	 * then the new frame pointer */
	movw $0xabcd, -2(%bp)
	enter $4, $2
	cmp $(0x7000 - 2 - 8 - 2), %bp
	jne 3f
	cmpw $(0x7000 - 2), (%bp)	/* saved BP */
	jne 3f
	cmpw $0xabcd, -2(%bp)		/* [old BP - 2] copied */
	jne 3f
	cmpw $(0x7000 - 12), -4(%bp)	/* the new frame pointer */
	jne 3f
	cmp $(0x7000 - 12 - 4 - 4), %sp
	jne 3f
	leave
	cmp $(0x7000 - 2), %bp
	jne 3f
	leave
	cmp $0x1234, %bp
	jne 3f
	cmp $0x7000, %sp
3:	mov $0x7000, %sp
	report "enter/leave"

	/* ---- XLAT ---- */
	movb $0x99, BUF + 0x33
	mov $BUF, %bx
	mov $0x33, %al
	xlat
	cmp $0x99, %al
	jne 3f
	/* with a segment override */
	mov $(BUF >> 4), %cx
	mov %cx, %es
	xor %bx, %bx
	mov $0x33, %al
	xlat %es:(%bx)
	xor %cx, %cx
	mov %cx, %es
	cmp $0x99, %al
3:	report "xlat"

	/* ---- LOOP/JCXZ with CX, JECXZ with ECX ---- */
	mov $0x00010003, %ecx
	xor %ax, %ax
1:	inc %ax
	loop 1b
	cmp $3, %ax
	jne 3f
	cmp $0x00010000, %ecx		/* only CX counted */
	jne 3f
	jcxz 1f
	jmp 3f
1:	jecxz 3f
	cmp %ax, %ax
3:	report "loop/jcxz/jecxz"

	/* ---- REP OUTS/INS (16-bit addresses) through the UART scratch ---- */
	movl $0x44332211, BUF
	mov $BUF, %si
	mov $4, %cx
	mov $COM1_SCR, %dx
	cld
	rep outsb
	cmp $(BUF + 4), %si
	jne 3f
	inb %dx, %al
	cmp $0x44, %al
	jne 3f
	/* INS with DI wrapping from 0xFFFE to 0x0002 in segment 0x1000 */
	mov $0x1000, %ax
	mov %ax, %es
	movl $0, %es:0
	movw $0, %es:0xfffe
	mov $0xfffe, %di
	mov $4, %cx
	rep insb
	cmp $2, %di
	jne 3f
	cmpw $0x4444, %es:0xfffe
	jne 3f
	cmpw $0x4444, %es:0
	jne 3f
	cmpb $0, %es:2
3:	mov $0, %ax
	mov %ax, %es
	report "rep outs/ins with 16-bit addresses"

	/* ---- 64 KiB wrap: effective addresses, SP ---- */
	movw $0x5a5a, SCRATCH
	mov $0xfff0, %bx
	mov $(SCRATCH + 0x10), %si
	cmpw $0x5a5a, (%bx,%si)		/* BX + SI wraps to SCRATCH */
	report "effective address wraps at 64 KiB"
	mov $0x2000, %ax
	mov %ax, %ss
	xor %sp, %sp
	push $0x7777
	mov %sp, %cx
	mov %ss:0xfffe, %dx
	pop %ax
	mov %sp, %bx
	xor %ax, %ax
	mov %ax, %ss
	mov $0x7000, %sp
	cmp $0xfffe, %cx
	jne 3f
	cmp $0x7777, %dx
	jne 3f
	cmp $0, %bx
3:	report "push with sp=0 wraps to 0xfffe"

	/* ---- 32-bit operand and address size ---- */
	mov $0x89abcdef, %eax
	mov $0x01234567, %edx
	add %edx, %eax
	jc 3f
	cmp $0x8acf1356, %eax
	jne 3f
	mov $SCRATCH, %ebx
	movl $0xfeedface, (%ebx)
	mov $2, %ecx
	cmpw $0xfeed, (%ebx,%ecx,1)
	jne 3f
	mov $0x10000, %eax		/* 32-bit divide of a 64-bit dividend */
	xor %edx, %edx
	inc %edx
	mov $0x10000, %ecx
	div %ecx			/* 0x1_0001_0000 / 0x10000 */
	cmp $0x10001, %eax
	jne 3f
	test %edx, %edx
3:	report "32-bit operand and address prefixes"
	/* 16-bit MUL/DIV */
	mov $0x1234, %ax
	mov $0x100, %bx
	mul %bx
	cmp $0x0012, %dx
	jne 3f
	cmp $0x3400, %ax
	jne 3f
	mov $0x100, %bx
	div %bx
	cmp $0x1234, %ax
3:	report "16-bit mul/div"

	/* ---- BOUND: in range passes, out of range is #BR ---- */
	movw $10, SCRATCH
	movw $20, SCRATCH + 2
	mov $SCRATCH, %bx
	mov $15, %ax
	may_fault
1:	bound %ax, (%bx)
2:	cmpb $0xff, LASTVEC
	jne 3f
	mov $21, %ax
	may_fault
1:	bound %ax, (%bx)
2:	cmpb $5, LASTVEC
3:	report "bound and #br"

	/* ---- LOCK on memory RMW; on a move it is #UD ---- */
	movw $41, SCRATCH
	lock incw SCRATCH
	lock addw $1, SCRATCH
	cmpw $43, SCRATCH
	report "lock prefix on read-modify-write"

	/* ---- segment overrides ---- */
	mov $0x50, %ax
	mov %ax, %fs
	mov $0x60, %ax
	mov %ax, %gs
	movw $0x1111, 0x500 + 0x10
	movw $0x2222, 0x600 + 0x10
	mov $0x10, %bx
	mov %fs:(%bx), %ax
	mov %gs:(%bx), %cx
	cmp $0x1111, %ax
	jne 3f
	cmp $0x2222, %cx
	jne 3f
	mov %cs:cs_word, %ax
	cmp $0xc0de, %ax
	jne 3f
	mov $0x7000 - 0x20, %bp		/* BP-based: SS */
	movw $0x3333, (%bp)
	mov %ss:(%bp), %ax
	cmp $0x3333, %ax
3:	report "segment overrides"

	/* ---- unreal mode: DS keeps a 4 GiB limit after protected mode ---- */
	lgdtl %cs:flat_gdt_ptr
	mov %cr0, %eax
	or $1, %al
	mov %eax, %cr0
	mov $0x10, %bx
	mov %bx, %ds
	and $0xfe, %al
	mov %eax, %cr0
	xor %ax, %ax
	mov %ax, %ds			/* a real-mode load: base 0, limit kept */
	mov $0x100000, %ebx
	may_fault
1:	movl $0xcafebabe, (%ebx)
2:	cmpb $0xff, LASTVEC
	jne 3f
	mov $0xffff, %ax		/* the same byte as FFFF:0010 */
	mov %ax, %fs
	cmpl $0xcafebabe, %fs:0x10
3:	report "unreal mode"

	cmpw $0, FAILS
	jne 1f
	debug_exit 0x1d
1:	debug_exit 0x1e

/* ---- helpers ---- */
mix:
	movzwl %ax, %eax
	imul $33, %edi, %edi
	xor %eax, %edi
	movzwl %dx, %edx
	imul $33, %edi, %edi
	xor %edx, %edi
	ret

	exc_handler 0
	exc_handler 5
	exc_handler 6
	exc_handler 13
	realmode_check_routines

int40:
	pushf
	pop %bx
	and $0x200, %bx			/* IF as the handler sees it */
	add $0x1111, %ax
	iret

far_target:				/* reached as EFFF:far_target+0x10 */
	mov %cs, %ax
	lret
far_jmp_back:
	mov %cs, %ax
	ljmp $0xf000, $far_jmp_done

retf_imm:
	lret $2

cs_word: .word 0xc0de

	serial_routines
	hex16_routines
	flat_gdt
msg_bcd:  .asciz "bcd hash "
