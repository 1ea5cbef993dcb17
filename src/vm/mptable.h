/*
 * The Intel MultiProcessor Specification 1.4 tables: a floating pointer
 * in the BIOS area and a configuration table listing the CPUs, the ISA
 * bus, the IOAPIC and how ISA interrupts reach it.  For guests that do not
 * use ACPI (Linux with acpi=off); written only when APICs exist.
 */
#ifndef WIRT_VM_MPTABLE_H
#define WIRT_VM_MPTABLE_H

struct vm;

void mptable_build(struct vm *vm);

#endif
