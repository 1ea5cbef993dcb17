/*
 * ACPI tables for the guest (RSDP, XSDT, FADT with a PM1 block and reset
 * register, FACS, DSDT with \_S5, MADT, HPET, MCFG): how an operating system finds
 * its CPUs, its interrupt controllers and how to power off and reset.
 * Shared by both accelerators; placed in the reserved BIOS area below
 * 1 MiB, where Linux also scans for the RSDP.
 */
#ifndef WIRT_VM_ACPI_H
#define WIRT_VM_ACPI_H

#include <stdint.h>

struct vm;

/* I/O ports of the ACPI PM block (hw/acpi_pm.c). */
#define ACPI_PM1_EVT_PORT 0x600
#define ACPI_PM1_CNT_PORT 0x604
#define ACPI_PM_TMR_PORT  0x608
#define ACPI_RESET_PORT   0x60c
#define ACPI_RESET_VALUE  0x01
#define ACPI_SCI_IRQ      9
#define ACPI_S5_SLP_TYP   5

/* Build the tables in guest memory; returns the RSDP's address or 0. */
uint64_t acpi_build(struct vm *vm);

#endif
