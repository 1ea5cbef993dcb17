/*
 * Legacy PC addresses that kernels probe and where this machine has
 * nothing: the expansion-ROM window 0xC0000-0xDFFFF (a video BIOS and
 * adapter ROMs are looked for by their 55 AA signature) and the usual
 * ports of COM2-COM4.  On a PC without those devices the bus reads all
 * ones and ignores writes.  The same for the 8237 DMA controllers and
 * their page registers (0x00-0x0f, 0x81-0x8f, 0xc0-0xdf), which firmware
 * resets at start-up (no ISA DMA device exists here), and the parallel
 * ports it looks for, and the coprocessor-error port 0xF0 that Linux
 * writes at start-up.  (The VGA window stays unassigned: a guest may put
 * a BAR there, as the virtio_msix tiny guest does.)  Registering them
 * answers the probes the same
 * way, only without reporting each boot's probes as accesses to
 * unassigned addresses (which stays the warning for anything else).
 */
#include "hw/devices.h"
#include "vm/vm.h"

#define ROM_WINDOW_BASE 0xc0000
#define ROM_WINDOW_SIZE 0x20000

static const uint16_t absent_uarts[] = { 0x2f8, 0x3e8, 0x2e8 };  /* COM2-4 */
static const struct { uint16_t base, len; } absent_ports[] = {
	{ 0x00, 0x10 }, { 0x81, 0x0f }, { 0xc0, 0x20 },
	{ 0x378, 8 }, { 0x278, 8 }, { 0x3bc, 4 },	/* LPT1-3 */
	{ 0xf0, 2 },					/* FPU error */
};

static uint64_t absent_read(void *opaque, uint64_t offset, unsigned size)
{
	return ~0ULL;
}

static void absent_write(void *opaque, uint64_t offset, uint64_t value,
			 unsigned size)
{
}

static const struct io_ops absent_ops = {
	.read = absent_read,
	.write = absent_write,
};

int isa_absent_create(struct vm *vm)
{
	int ret = bus_register(&vm->mmio, ROM_WINDOW_BASE, ROM_WINDOW_SIZE, &absent_ops,
			       NULL, "rom-window");

	for (unsigned i = 0; !ret && i < sizeof(absent_uarts) / sizeof(absent_uarts[0]); i++)
		ret = bus_register(&vm->pio, absent_uarts[i], 8, &absent_ops, NULL,
				   "absent-uart");
	for (unsigned i = 0; !ret && i < sizeof(absent_ports) / sizeof(absent_ports[0]); i++)
		ret = bus_register(&vm->pio, absent_ports[i].base, absent_ports[i].len,
				   &absent_ops, NULL, "absent-isa-dma");
	return ret;
}
