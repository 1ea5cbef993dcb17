/*
 * Benchmark: 100000 writes to the POST port 0x80 in real mode, each one an
 * exit to the VMM under KVM.  bench/kvm_vs_qemu.py times it against the
 * hello guest to get the cost of one port-I/O round trip.
 */
#include "guest.h"
	reset_vector
	.code16
	.globl _start
_start:
	cli
	mov $100000, %ecx
1:	outb %al, $0x80
	dec %ecx
	jnz 1b
	debug_exit 0
