/*
 * A multiboot (v1) kernel as CPU test suites build them: ELF32 at 1 MiB.
 * Checks the boot magic and the info structure, prints the command line
 * and the first line of module 0 over COM1, then exits through the
 * debug-exit port with 0x1b (status 55), or 0x1c (57) on failure.
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0x3		/* page-aligned modules, memory info */
	.section .text
	.code32
	.p2align 2
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.globl _start
_start:
	mov $0x80000, %esp
	cmp $0x2badb002, %eax
	jne fail
	mov %ebx, %ebp			/* multiboot info */
	testl $(1 << 6), (%ebp)		/* memory map present */
	jz fail
	cmpl $600, 4(%ebp)		/* KiB below 640 K (QEMU says 639) */
	jb fail
	mov $msg_ok, %esi
	call puts
	testl $(1 << 2), (%ebp)		/* command line */
	jz fail
	mov $msg_cmd, %esi
	call puts
	mov 16(%ebp), %esi
	call puts
	mov $nl, %esi
	call puts
	testl $(1 << 3), (%ebp)		/* modules */
	jz fail
	cmpl $1, 20(%ebp)
	jne fail
	mov 24(%ebp), %eax
	mov (%eax), %esi		/* module start: a NUL-terminated text */
	testl $0xfff, %esi
	jnz fail
	call puts
	mov $0x1b, %al
	out %al, $0xf4
	hlt
fail:
	mov $msg_fail, %esi
	call puts
	mov $0x1c, %al
	out %al, $0xf4
	hlt

puts:
	lodsb
	test %al, %al
	jz 1f
	mov $0x3f8, %dx
	out %al, %dx
	jmp puts
1:	ret

	.section .rodata
msg_ok:   .asciz "multiboot ok\n"
msg_cmd:  .asciz "cmdline: "
nl:       .asciz "\n"
msg_fail: .asciz "multiboot FAIL\n"
