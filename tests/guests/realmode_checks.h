/*
 * Checks for real-mode tiny guests (realmode.S, realmode_limits.S): each
 * check prints "ok <name>" or "FAIL <name>" and counts failures; an
 * instruction that may fault is bracketed by labels 1: and 2: after
 * may_fault, and the IVT handlers made by realmode_check_routines note
 * the vector in LASTVEC and resume at 2:.  Data lives in segment 0.
 */
#define LASTVEC 0x600
#define SKIP    0x602
#define FAILS   0x604

/* ZF set: print "ok name", else "FAIL name". */
.macro report name
	.pushsection .text, 1
9:	.asciz "\name"
	.popsection
	mov $9b, %si
	call report_impl
.endm

/* Point IVT entry vec at label (in segment F000). */
.macro ivt vec, label
	movw $\label, 4 * \vec
	movw $0xf000, 4 * \vec + 2
.endm

/* The next instruction (between labels 1 and 2) may fault: arm the skip. */
.macro may_fault
	movw $(2f - 1f), %ss:SKIP
	movb $0xff, %ss:LASTVEC
.endm

/* An IVT handler exc<vec> for a fault without error code. */
.macro exc_handler vec
exc\vec: push $\vec
	jmp exc_skip
.endm

/*
 * report_impl, the shared handler tail and the messages.  #SS and #GP
 * push no error code in real mode.  SS may be another segment when a
 * check runs: the data is reached through segment 0 explicitly.
 */
.macro realmode_check_routines
report_impl:
	jnz 1f
	push %si
	puts16 msg_ok
	jmp 2f
1:	push %si
	puts16 msg_fail
	incw %ss:FAILS
2:	pop %si
	call puts16_impl
	mov $'\n', %al
	call putc16
	ret

exc_skip:
	push %bp
	mov %sp, %bp
	push %ax
	push %ds
	xor %ax, %ax
	mov %ax, %ds
	mov 2(%bp), %ax
	mov %al, LASTVEC
	mov SKIP, %ax
	add %ax, 4(%bp)
	pop %ds
	pop %ax
	pop %bp
	add $2, %sp
	iret

msg_ok:   .asciz "ok "
msg_fail: .asciz "FAIL "
.endm
