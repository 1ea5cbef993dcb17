/*
 * Firmware moves Q35 chipset ranges; each must work where it was put and
 * be gone from where it was: the ACPI PM block with the LPC bridge's
 * PMBASE (00:1f.0, offset 0x40), ECAM with the host bridge's PCIEXBAR
 * (00:00.0, offset 0x60), the way SeaBIOS moves them.  A PCIEXBAR naming
 * RAM must not turn RAM into config space.
 */
#include "guest.h"

#define CONF_A 0xcf8
#define CONF_D 0xcfc

/* Config dword write: bus 0, dev, reg. */
.macro cfg_write dev, reg, val
	mov $CONF_A, %dx
	mov $(0x80000000 | (\dev << 11) | \reg), %eax
	outl %eax, %dx
	mov $CONF_D, %dx
	mov $\val, %eax
	outl %eax, %dx
.endm

/* Two reads of the PM timer at port p differ (it runs at 3.58 MHz);
 * ZF clear if they do. */
.macro pm_timer_runs p
	mov $\p, %dx
	inl %dx, %eax
	mov %eax, %ebx
	mov $2000, %ecx
1:	inl %dx, %eax
	cmp %eax, %ebx
	jne 2f
	loop 1b
2:	cmp %eax, %ebx
.endm

	reset_vector
	.code16
	.globl _start
_start:
	enter_pm32 pm32

	/* PM block: at 0x600 as wirt puts it, then at 0x700. */
	pm_timer_runs 0x608
	je fail
	cfg_write 0x1f, 0x40, 0x701
	pm_timer_runs 0x708
	je fail
	mov $0x608, %dx
	inl %dx, %eax
	cmp $0xffffffff, %eax
	jne fail
	puts32 m_pm

	/* ECAM: at 0xe0000000 first, then at 0xb0000000 (256 MiB). */
	cmpl $0x29c08086, 0xe0000000
	jne fail
	cfg_write 0, 0x64, 0
	cfg_write 0, 0x60, 0xb0000001
	cmpl $0x29c08086, 0xb0000000
	jne fail
	cmpl $0x29188086, 0xb0000000 + (0x1f << 15)
	jne fail
	cmpl $0xffffffff, 0xe0000000
	jne fail
	puts32 m_ecam

	/* ECAM named over RAM (1 MiB): RAM stays RAM. */
	movl $0x12345678, 0x100000
	cfg_write 0, 0x60, 0x00100001
	cmpl $0x12345678, 0x100000
	jne fail
	movl $0x9abcdef0, 0x100000
	cmpl $0x9abcdef0, 0x100000
	jne fail
	/* Back where it was: config space answers again. */
	cfg_write 0, 0x60, 0xe0000001
	cmpl $0x29c08086, 0xe0000000
	jne fail
	puts32 m_ram
	debug_exit 0x10
fail:
	puts32 m_fail
	debug_exit 0x11

	serial_routines
	flat_gdt
m_pm:   .asciz "pm block moved with pmbase: timer runs there, old ports empty\n"
m_ecam: .asciz "ecam moved with pciexbar: both bridges answer there, old window empty\n"
m_ram:  .asciz "pciexbar over ram: ram stays ram\n"
m_fail: .asciz "FAIL\n"
