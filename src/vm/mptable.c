/* MP table construction (see mptable.h); layouts from the MP spec 1.4. */
#include "vm/mptable.h"

#include <string.h>

#include "hw/pci.h"
#include "util/log.h"
#include "vm/table_bytes.h"
#include "vm/vm.h"

#define MPF_ADDR   0xf0000ULL  /* scanned by Linux: 0xf0000-0xfffff */
#define MPC_ADDR   0xf0010ULL
#define MP_SIZE    0x1000
#define BUS_PCI    0           /* MP bus ids of PCI buses are their numbers */
#define BUS_ISA    1
#define IOAPIC_ID  0           /* as in the MADT */
#define IOAPIC_ADDR 0xfec00000u

static uint8_t *io_interrupt(uint8_t *e, uint8_t type, uint16_t flags, uint8_t bus,
			     uint8_t bus_irq, uint8_t dst_apic, uint8_t dst_pin)
{
	e[0] = 3;           /* I/O interrupt assignment */
	e[1] = type;        /* 0 INT, 3 ExtINT */
	memcpy(e + 2, &flags, 2);
	e[4] = bus;
	e[5] = bus_irq;
	e[6] = dst_apic;
	e[7] = dst_pin;
	return e + 8;
}

void mptable_build(struct vm *vm)
{
	uint8_t *mpf, *mpc, *e;
	uint16_t len, count = 0;
	unsigned i;

	if (!vm->has_apic)
		return;
	mpf = gmem_ptr_rw(&vm->mem, MPF_ADDR, MP_SIZE);
	if (!mpf) {
		log_warn("no room for the MP table; only ACPI describes the CPUs");
		return;
	}
	memset(mpf, 0, MP_SIZE);
	mpc = mpf + (MPC_ADDR - MPF_ADDR);
	e = mpc + 44;
	for (i = 0; i < vm->ncpus; i++, e += 20, count++) {
		uint32_t signature = 0x000606a0, features = (1u << 0) | (1u << 9);
		e[0] = 0;                               /* processor */
		e[1] = i;                               /* local APIC id */
		e[2] = 0x14;                            /* APIC version */
		e[3] = 1 | (i == 0 ? 2 : 0);            /* enabled, BSP */
		memcpy(e + 4, &signature, 4);
		memcpy(e + 8, &features, 4);
	}
	if (vm->pci) {
		e[0] = 1;                               /* bus: PCI 0 */
		e[1] = BUS_PCI;
		memcpy(e + 2, "PCI   ", 6);
		e += 8, count++;
	}
	e[0] = 1;                                       /* bus: ISA */
	e[1] = BUS_ISA;
	memcpy(e + 2, "ISA   ", 6);
	e += 8, count++;
	e[0] = 2;                                       /* the IOAPIC */
	e[1] = IOAPIC_ID;
	e[2] = 0x11;
	e[3] = 1;
	memcpy(e + 4, &(uint32_t){ IOAPIC_ADDR }, 4);
	e += 8, count++;
	/* ISA IRQs to IOAPIC pins: IRQ 0 to pin 2 (as the MADT says), the
	 * 8259 as ExtINT on pin 0, the rest one to one. */
	e = io_interrupt(e, 3, 0, BUS_ISA, 0, IOAPIC_ID, 0), count++;
	for (i = 0; i < 16; i++) {
		if (i == 2)
			continue;
		e = io_interrupt(e, 0, 0, BUS_ISA, i, IOAPIC_ID, i == 0 ? 2 : i),
		count++;
	}
	/* PCI INTx of each slot in use, as the ACPI _PRT routes them (level,
	 * active low: "conforms to the bus"). */
	for (i = 0; i < pci_slots_used(vm); i++) {
		unsigned pin;

		for (pin = 0; pin < 4; pin++)
			e = io_interrupt(e, 0, 0, BUS_PCI, i << 2 | pin, IOAPIC_ID,
					 pci_intx_gsi(i, pin + 1)), count++;
	}
	/* Local interrupts: ExtINT on LINT0, NMI on LINT1 of every CPU. */
	e[0] = 4; e[1] = 3; e[2] = 0; e[3] = 0; e[4] = 0; e[5] = 0; e[6] = 0xff; e[7] = 0;
	e += 8, count++;
	e[0] = 4; e[1] = 1; e[2] = 0; e[3] = 0; e[4] = 0; e[5] = 0; e[6] = 0xff; e[7] = 1;
	e += 8, count++;

	len = e - mpc;
	memcpy(mpc, "PCMP", 4);
	memcpy(mpc + 4, &len, 2);
	mpc[6] = 4;                                     /* spec revision 1.4 */
	memcpy(mpc + 8, "WIRT    ", 8);
	memcpy(mpc + 16, "WIRT VM     ", 12);
	memcpy(mpc + 34, &count, 2);
	memcpy(mpc + 36, &(uint32_t){ 0xfee00000u }, 4);
	mpc[7] = table_checksum(mpc, len);

	memcpy(mpf, "_MP_", 4);
	memcpy(mpf + 4, &(uint32_t){ (uint32_t)MPC_ADDR }, 4);
	mpf[8] = 1;                                     /* length in 16-byte units */
	mpf[9] = 4;                                     /* revision 1.4 */
	mpf[10] = table_checksum(mpf, 16);
	gmem_notify_write(&vm->mem, MPF_ADDR, MP_SIZE);
}
