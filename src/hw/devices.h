/* The constructors of the PC's built-in devices (vm/board.c places them). */
#ifndef WIRT_HW_DEVICES_H
#define WIRT_HW_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct serial;

/* 16550A UART at base (e.g. 0x3f8) raising ISA IRQ irq. */
struct serial *serial_create(struct vm *vm, uint16_t base, unsigned irq);
/* Bytes from the console: returns how many the receive FIFO accepted. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

int i8042_create(struct vm *vm);
/* Attach a PS/2 keyboard fed by vm->display's viewers. */
void i8042_connect_display(struct vm *vm);
int debug_exit_create(struct vm *vm, uint16_t port);
int post_port_create(struct vm *vm);
int isa_absent_create(struct vm *vm);  /* ROM window, COM2-4: all ones */
int rtc_create(struct vm *vm);
int acpi_pm_create(struct vm *vm);
int port92_create(struct vm *vm);      /* system control port A */
/* ICH9 LPC bridge at 00:1f.0 (with --firmware; after the PCI host). */
int ich9_lpc_create(struct vm *vm);
/* A PCI IDE controller (PIIX3 function, legacy ports, IRQ 14/15) with
 * up to 4 drives: primary master, primary slave, secondary master, ... */
struct disk_spec;
int ide_create(struct vm *vm, const struct disk_spec *const *drives,
	       unsigned ndrives);
/* Firmware debug log (port 0x402) appended to the file at path; with
 * path NULL the port is absent (reads all ones). */
int debugcon_create(struct vm *vm, const char *path);

/* The standard VGA adapter (hw/vga.c) on the PCI bus, with its BIOS
 * for firmware to run when with_rom; sets vm->display. */
int vga_create(struct vm *vm, bool with_rom);

/* The A20 gate, driven by port 0x92 and the i8042's output port. */
void a20_set(struct vm *vm, bool on);
bool a20_enabled(struct vm *vm);

#endif
