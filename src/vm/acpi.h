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

/* I/O ports of the ACPI PM block (hw/acpi_pm.c), where wirt puts it;
 * firmware may move it (the LPC bridge's PMBASE). */
#define ACPI_PM_BASE      0x600
#define ACPI_PM1_EVT_OFF  0x0
#define ACPI_PM1_CNT_OFF  0x4
#define ACPI_PM_TMR_OFF   0x8
#define ACPI_RESET_OFF    0xc
#define ACPI_PM_LEN       13
#define ACPI_PM1_EVT_PORT (ACPI_PM_BASE + ACPI_PM1_EVT_OFF)
#define ACPI_PM1_CNT_PORT (ACPI_PM_BASE + ACPI_PM1_CNT_OFF)
#define ACPI_PM_TMR_PORT  (ACPI_PM_BASE + ACPI_PM_TMR_OFF)
#define ACPI_RESET_PORT   (ACPI_PM_BASE + ACPI_RESET_OFF)
#define ACPI_RESET_VALUE  0x01
#define ACPI_SCI_IRQ      9
#define ACPI_S5_SLP_TYP   5

struct fw_cfg;

/* Build the tables in guest memory; returns the RSDP's address or 0. */
uint64_t acpi_build(struct vm *vm);

/* The same tables as fw_cfg files etc/acpi/tables and etc/acpi/rsdp with
 * the etc/table-loader commands that make firmware install them. */
int acpi_add_to_fw_cfg(struct vm *vm, struct fw_cfg *cfg);

/* The ACPI PM block (hw/acpi_pm.c): where it is now, and moving it
 * (0 switches it off), as the LPC bridge's PMBASE register does. */
uint16_t acpi_pm_base(struct vm *vm);
int acpi_pm_move(struct vm *vm, uint16_t base);

#endif
