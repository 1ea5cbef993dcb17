/*
 * Shared pieces of the tiny test guests (tests/guests/*.S).
 *
 * Each guest is a 64 KiB flat firmware image (see guest.ld): it starts at
 * the reset vector in real mode with CS=0xF000, and its code is visible at
 * 0xF0000 + label in every mode.  Guests talk through COM1 (0x3f8) and end
 * through the debug-exit port (0xf4): writing V there ends the VMM with
 * exit status (V << 1) | 1, under wirt and under QEMU's isa-debug-exit alike.
 */
#define COM1 0x3f8
#define COM1_LSR (COM1 + 5)
#define DEBUG_EXIT 0xf4
#define ROM_LOW 0xf0000 /* linear address of the image's first byte */
#define LIN(label) (ROM_LOW + (label))
/* The same byte in the image's mapping just below 4 GiB (64 KiB images). */
#define ROM_HIGH 0xffff0000
#define HIGH(label) (ROM_HIGH + (label))

/* The reset vector: far jump to _start in segment F000. */
.macro reset_vector
	.section .reset, "ax"
	.code16
	ljmp $0xf000, $_start
	.text
.endm

/* Real mode, first thing after the reset vector: interrupts off, a stack
 * at 0000:7000. */
.macro real_mode_stack
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov $0x7000, %sp
.endm

/* Real mode: print the NUL-terminated string at CS:label. */
.macro puts16 label
	mov $\label, %si
	call puts16_impl
.endm

/* 32- and 64-bit flat code: print the NUL-terminated string at LIN(label). */
.macro puts32 label
	mov $LIN(\label), %esi
	call puts32_impl
.endm

/* End the VM with exit status (code << 1) | 1; works in every mode. */
.macro debug_exit code
	mov $\code, %al
	mov $DEBUG_EXIT, %dx
	outb %al, %dx
	hlt
.endm

/*
 * The routines behind the macros: wait for the transmitter (bounded, so a
 * broken UART cannot hang the guest forever), then write the byte.
 */
.macro serial_routines
	.code16
puts16_impl:
	cs lodsb
	test %al, %al
	jz 2f
	call putc16
	jmp puts16_impl
2:	ret
putc16:
	mov %al, %ah
	mov $COM1_LSR, %dx
	mov $0xffff, %cx
1:	inb %dx, %al
	test $0x20, %al
	loopz 1b
	mov %ah, %al
	mov $COM1, %dx
	outb %al, %dx
	ret

	.code32
puts32_impl:
	lodsb
	test %al, %al
	jz 2f
	call putc32
	jmp puts32_impl
2:	ret
putc32:
	mov %al, %ah
	mov $COM1_LSR, %dx
	mov $0xffff, %ecx
1:	inb %dx, %al
	test $0x20, %al
	loopz 1b
	mov %ah, %al
	mov $COM1, %dx
	outb %al, %dx
	ret
.endm

/* Real mode -> flat 32-bit protected mode at label (needs flat_gdt),
 * the stack below stack. */
.macro enter_pm32 label, stack=0x7000
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov $\stack, %sp
	lgdtl %cs:flat_gdt_ptr
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $LIN(\label)
	.code32
\label:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $\stack, %esp
.endm

/*
 * 32-bit flat code, paging off: the first GiB identity-mapped with 2 MiB
 * pages in the tables at 0x1000 (PML4), 0x2000 (PDPT) and 0x3000 (PD);
 * flags are the entries' low bits (3: present and writable, 7: and user).
 */
.macro identity_map_1g flags
	mov $0x1000, %edi
	xor %eax, %eax
	mov $(3 * 4096 / 4), %ecx
	rep stosl
	movl $(0x2000 | \flags), 0x1000
	movl $(0x3000 | \flags), 0x2000
	mov $0x3000, %edi
	mov $(0x80 | \flags), %eax
	mov $512, %ecx
1:	mov %eax, (%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 1b
.endm

/*
 * 64-bit exception stubs for vectors 0-31 at label handlers, 16 bytes
 * each: push a dummy error code where the CPU pushes none, push the
 * vector, jump to the guest's own common part.
 */
.macro exception_stubs
	.p2align 4
handlers:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.p2align 4
	.if \v == 8 || (\v >= 10 && \v <= 14) || \v == 17
	nop
	nop
	.else
	pushq $0
	.endif
	pushq $\v
	jmp common
	.endr
.endm

/*
 * 64-bit code: point the first count gates of the IDT at idt to the
 * 16-byte stubs at handlers (exception_stubs), code segment cs, DPL 0.
 */
.macro fill_idt64 idt, cs, count
	mov $\idt, %rdi
	xor %ecx, %ecx
2:	mov $LIN(handlers), %rax
	mov %rcx, %rdx
	shl $4, %rdx			/* each handler stub is 16 bytes */
	add %rdx, %rax
	mov %ax, (%rdi)
	movw $\cs, 2(%rdi)
	movw $0x8e00, 4(%rdi)
	shr $16, %rax
	mov %ax, 6(%rdi)
	movl $0, 8(%rdi)
	movl $0, 12(%rdi)
	add $16, %rdi
	inc %ecx
	cmp $\count, %ecx
	jne 2b
.endm

/*
 * Flat 32-bit protected mode -> 64-bit long mode at label: the first GiB
 * identity-mapped with 2 MiB pages (tables at 0x1000-0x3fff), stack at
 * 0x7000.  Use right after enter_pm32 (needs flat_gdt).
 */
.macro enter_lm64 label
	identity_map_1g 3
	mov $0x1000, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax		/* PG */
	mov %eax, %cr0
	ljmp $0x18, $LIN(\label)
	.code64
\label:
	mov $0x7000, %rsp
.endm

/* A GDT with flat 32-bit code (0x08) and data (0x10) segments and a
 * 64-bit code segment (0x18), then the descriptors given (0x20, ...). */
.macro flat_gdt extra:vararg
	.p2align 3
flat_gdt_start:
	.quad 0
	.quad 0x00cf9a000000ffff
	.quad 0x00cf92000000ffff
	.quad 0x00af9a000000ffff
	.ifnb \extra
	.quad \extra
	.endif
flat_gdt_ptr:
	.word flat_gdt_ptr - flat_gdt_start - 1
	.long LIN(flat_gdt_start)
.endm

/*
 * Real mode: PCI configuration mechanism 1.  conf_read returns in eax the
 * dword of slot bx at register cx, shifted so the byte cx addresses is
 * lowest; conf_write writes eax to the dword holding register cx.
 */
#define CONF_ADDR 0xcf8
#define CONF_DATA 0xcfc
.macro pci_conf_routines
	.code16
conf_read:
	push %dx
	call conf_select
	mov $CONF_DATA, %dx
	inl %dx, %eax
	/* Shift the addressed byte down, as a byte-wise read would see it. */
	push %cx
	and $3, %cx
	shl $3, %cx
	shr %cl, %eax
	pop %cx
	pop %dx
	ret
conf_write:
	push %dx
	push %eax
	call conf_select
	pop %eax
	mov $CONF_DATA, %dx
	outl %eax, %dx
	pop %dx
	ret
conf_select:
	push %eax
	movzwl %bx, %eax
	shl $11, %eax
	or $0x80000000, %eax
	push %ecx
	and $0xfc, %ecx
	or %ecx, %eax
	pop %ecx
	mov $CONF_ADDR, %dx
	outl %eax, %dx
	pop %eax
	ret
.endm

/* Real mode: print eax, ax or al as hex (puthex32/16/8); needs putc16. */
.macro hex16_routines
	.code16
puthex32:
	push %eax
	shr $16, %eax
	call puthex16
	pop %eax
puthex16:
	push %eax
	mov %ah, %al
	call puthex8
	pop %eax
puthex8:
	push %ax
	shr $4, %al
	call puthex4
	pop %ax
puthex4:
	push %ax
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 1f
	add $('a' - '0' - 10), %al
1:	call putc16
	pop %ax
	ret
.endm
