/* ACPI table construction (see acpi.h); layouts from the ACPI 6 spec. */
#include "vm/acpi.h"

#include <string.h>

#include "hw/fw_cfg.h"
#include "hw/hpet.h"
#include "hw/pci.h"
#include "util/log.h"
#include "vm/aml.h"
#include "vm/table_bytes.h"
#include "vm/vm.h"

#define ACPI_BASE   0xe0000ULL
#define RSDP_OFF    0x000
#define XSDT_OFF    0x040
#define FACS_OFF    0x0c0
#define FADT_OFF    0x100
#define MADT_OFF    0x240
#define MCFG_OFF    0x500
#define HPET_OFF    0x580
#define DSDT_OFF    0x600
#define ACPI_SIZE   0x2000

#define LAPIC_ADDR  0xfee00000u
#define IOAPIC_ADDR 0xfec00000u

/* The 36-byte header every system description table starts with. */
static void table_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "WIRT  ", 6);
	memcpy(t + 16, "WIRTVM  ", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "WIRT", 4);
	put32(t + 32, 1);
	t[9] = 0;
	t[9] = table_checksum(t, len);
}

/* Generic address structure: an I/O port block. */
static void gas_io(uint8_t *p, uint16_t port, uint8_t bits, uint8_t access)
{
	p[0] = 1; /* system I/O space */
	p[1] = bits;
	p[2] = 0;
	p[3] = access;
	put64(p + 4, port);
}

static uint32_t build_fadt(uint8_t *t, uint64_t addr, uint16_t pm)
{
	const uint32_t len = 276;

	memset(t, 0, len);
	/* FIRMWARE_CTRL names the FACS (below 4 GiB), X_FIRMWARE_CTRL stays 0:
	 * ACPI 1.0 readers find it too, and Linux, which installs the FACS
	 * once per non-zero pointer, lists it once. */
	put32(t + 36, addr + FACS_OFF);
	put32(t + 40, addr + DSDT_OFF);
	put16(t + 46, ACPI_SCI_IRQ);
	put32(t + 48, 0);                      /* no SMI command: ACPI is always on */
	put32(t + 56, pm + ACPI_PM1_EVT_OFF);
	put32(t + 64, pm + ACPI_PM1_CNT_OFF);
	put32(t + 76, pm + ACPI_PM_TMR_OFF);
	t[88] = 4;                             /* PM1 event block length */
	t[89] = 2;                             /* PM1 control block length */
	t[91] = 4;                             /* PM timer length */
	put16(t + 96, 101);                    /* no C2 */
	put16(t + 98, 1001);                   /* no C3 */
	t[108] = 0x32;                         /* RTC century register */
	put16(t + 109, (1 << 1) | (1 << 2));   /* 8042 present, no VGA */
	/* WBINVD, PROC_C1, SLP_BUTTON (none), RESET_REG_SUP; PWR_BUTTON
	 * clear: the power button is the fixed one of the PM1 block. */
	put32(t + 112, (1 << 0) | (1 << 2) | (1 << 5) | (1 << 10));
	gas_io(t + 116, pm + ACPI_RESET_OFF, 8, 1);
	t[128] = ACPI_RESET_VALUE;
	t[131] = 1;                            /* FADT minor version */
	put64(t + 140, addr + DSDT_OFF);
	gas_io(t + 148, pm + ACPI_PM1_EVT_OFF, 32, 2);
	gas_io(t + 172, pm + ACPI_PM1_CNT_OFF, 16, 2);
	gas_io(t + 208, pm + ACPI_PM_TMR_OFF, 32, 3);
	memcpy(t + 268, "WIRTWIRT", 8);
	table_header(t, "FACP", len, 6);
	return len;
}

/*
 * FACS (ACPI 6, 5.2.10): 64-byte aligned, no checksum.  The hardware
 * signature changes when the machine's configuration does (vCPUs, memory,
 * PCI), which tells an OS resuming from hibernation that the hardware
 * changed; the global lock starts free, no waking vector, no S4BIOS.
 */
static void build_facs(uint8_t *t, const struct vm *vm)
{
	uint32_t sig = 0x57495254; /* "WIRT" */

	sig = sig * 31 + vm->ncpus;
	sig = sig * 31 + (uint32_t)(vm->mem.ram_size >> 20);
	sig = sig * 31 + (vm->pci != NULL);
	memset(t, 0, 64);
	memcpy(t, "FACS", 4);
	put32(t + 4, 64);
	put32(t + 8, sig);     /* hardware signature */
	put32(t + 12, 0);      /* firmware waking vector: none */
	put32(t + 16, 0);      /* global lock: free */
	put32(t + 20, 0);      /* flags: no S4BIOS, no 64-bit wake */
	put64(t + 24, 0);      /* X firmware waking vector */
	t[32] = 2;             /* version */
	put32(t + 36, 0);      /* OSPM flags */
}

/* The PCI root bridge's resources: bus 0, its config ports, the I/O and
 * memory windows where BARs live (ACPI 6, 6.4 resource descriptors); the
 * BAR window ends at mmio_end. */
static size_t pci_crs(uint8_t *r, uint32_t mmio_end)
{
	static const uint8_t fixed[] = {
		/* WordBusNumber: producer, min/max fixed, bus 0 only */
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 0,
		/* IO: 16-bit decode, 0xcf8-0xcff */
		0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
		/* WordIO: 0x0000-0x0cf7 */
		0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x00,
		0xf7, 0x0c, 0, 0, 0xf8, 0x0c,
		/* WordIO: 0x0d00-0xffff */
		0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d,
		0xff, 0xff, 0, 0, 0x00, 0xf3,
	};
	const uint32_t mem[][2] = {
		{ 0xa0000, 0xbffff },                        /* VGA window */
		{ PCI_MMIO_BASE, mmio_end - 1 },             /* BARs */
	};
	size_t n = sizeof(fixed);
	unsigned i;

	memcpy(r, fixed, n);
	for (i = 0; i < 2; i++) {
		/* DWordMemory: producer, min/max fixed, read-write */
		uint8_t *d = r + n;

		memset(d, 0, 26);
		d[0] = 0x87; d[1] = 0x17; d[3] = 0x00; d[4] = 0x0c; d[5] = 0x01;
		put32(d + 10, mem[i][0]);
		put32(d + 14, mem[i][1]);
		put32(d + 22, mem[i][1] - mem[i][0] + 1);
		n += 26;
	}
	r[n++] = 0x79; /* end tag */
	r[n++] = 0x00;
	return n;
}

/* Name (_CRS, Buffer () { crs }): a device's current resources. */
static void resource_template(struct aml *a, const uint8_t *crs, size_t len)
{
	size_t buf;

	aml_name_decl(a, "_CRS");
	buf = aml_open(a, AML_BUFFER_OP);
	aml_integer(a, len);
	aml_bytes(a, crs, len);
	aml_close(a, buf);
}

/* Device (NAME) { _HID: the EISA id hid, _CRS: crs } */
static void isa_device(struct aml *a, const char *name, const char *hid,
		       const uint8_t *crs, size_t crs_len)
{
	size_t dev = aml_open(a, 0x5b82); /* DeviceOp */

	aml_name(a, name);
	aml_name_decl(a, "_HID");
	aml_eisaid(a, hid);
	resource_template(a, crs, crs_len);
	aml_close(a, dev);
}

/* _PRT: slot S pin P (0 = INTA#) goes to GSI pci_intx_gsi(S, P + 1). */
static void pci_prt(struct aml *a)
{
	size_t pkg = aml_open(a, AML_PACKAGE_OP);
	unsigned slot, pin;

	aml_byte(a, PCI_MAX_SLOTS * 4);
	for (slot = 0; slot < PCI_MAX_SLOTS; slot++) {
		for (pin = 0; pin < 4; pin++) {
			size_t e = aml_open(a, AML_PACKAGE_OP);

			aml_byte(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);  /* no link device: a GSI */
			aml_integer(a, pci_intx_gsi(slot, pin + 1));
			aml_close(a, e);
		}
	}
	aml_close(a, pkg);
}

static void pci_root_bridge(struct aml *a, uint32_t mmio_end)
{
	uint8_t crs[128];
	size_t crs_len = pci_crs(crs, mmio_end), dev;

	dev = aml_open(a, 0x5b82); /* Device (PCI0) */
	aml_name(a, "PCI0");
	aml_name_decl(a, "_HID");
	aml_eisaid(a, "PNP0A08");  /* PCI Express root bridge */
	aml_name_decl(a, "_CID");
	aml_eisaid(a, "PNP0A03");  /* PCI root bridge */
	aml_name_decl(a, "_ADR");
	aml_integer(a, 0);
	aml_name_decl(a, "_UID");
	aml_integer(a, 0);
	aml_name_decl(a, "_SEG");
	aml_integer(a, 0);
	aml_name_decl(a, "_BBN");
	aml_integer(a, 0);
	resource_template(a, crs, crs_len);
	aml_name_decl(a, "_PRT");
	pci_prt(a);
	aml_close(a, dev);
}

/*
 * The i8042 at ports 0x60/0x64 with IRQ 1, and no PS/2 mouse device unless
 * the VM has a display (ps2_mouse_device): Linux then takes the keyboard
 * port only instead of probing the AUX port (which wirt's controller then
 * lacks) and waiting for it to time out.
 */
static void keyboard_controller(struct aml *a)
{
	static const uint8_t crs[] = {
		0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, /* IO (Decode16, 0x60) */
		0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01, /* IO (Decode16, 0x64) */
		0x22, 0x02, 0x00,                               /* IRQNoFlags () {1} */
		0x79, 0x00,                                     /* end tag */
	};

	/* IBM Enhanced keyboard (101/102-key, PS/2) */
	isa_device(a, "KBD_", "PNP0303", crs, sizeof(crs));
}

/* The PS/2 mouse on the i8042's AUX port (with a display): IRQ 12. */
static void ps2_mouse_device(struct aml *a)
{
	static const uint8_t crs[] = {
		0x22, 0x00, 0x10,                               /* IRQNoFlags () {12} */
		0x79, 0x00,                                     /* end tag */
	};

	/* PS/2 port for PS/2-style mice */
	isa_device(a, "PS2M", "PNP0F13", crs, sizeof(crs));
}

static uint32_t build_dsdt(uint8_t *t, uint32_t room, bool pci,
			   uint32_t mmio_end, bool mouse)
{
	static struct aml a;
	size_t pkg, scope;

	memset(&a, 0, sizeof(a));
	/* Name (_S5, Package (4) { S5, S5, Zero, Zero }) */
	aml_name_decl(&a, "_S5_");
	pkg = aml_open(&a, AML_PACKAGE_OP);
	aml_byte(&a, 4);
	aml_integer(&a, ACPI_S5_SLP_TYP);
	aml_integer(&a, ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_close(&a, pkg);
	scope = aml_open(&a, AML_SCOPE_OP);
	aml_name(&a, "\\_SB_");
	keyboard_controller(&a);
	if (mouse)
		ps2_mouse_device(&a);
	if (pci)
		pci_root_bridge(&a, mmio_end);
	aml_close(&a, scope);
	if (a.overflow || 36 + a.len > room) {
		log_warn("ACPI: the DSDT does not fit; the guest will not find PCI");
		a.len = 0;
	}
	memcpy(t + 36, a.data, a.len);
	table_header(t, "DSDT", 36 + a.len, 2);
	return 36 + a.len;
}

/* MCFG: where ECAM is (PCI Firmware spec 3.0, 4.1.2). */
static uint32_t build_mcfg(uint8_t *t, uint64_t ecam)
{
	const uint32_t len = 36 + 8 + 16;

	memset(t, 0, len);
	put64(t + 44, ecam);
	put16(t + 52, 0);      /* segment */
	t[54] = 0;             /* first bus */
	t[55] = 0;             /* last bus */
	table_header(t, "MCFG", len, 1);
	return len;
}

/* HPET description table (IA-PC HPET spec 1.0a, 3.2.4). */
static uint32_t build_hpet(uint8_t *t)
{
	const uint32_t len = 56;

	memset(t, 0, len);
	put32(t + 36, HPET_CAP_LOW);  /* event timer block ID */
	t[40] = 0;                     /* base address: system memory, */
	t[41] = 64;                    /* 64 bits wide */
	put64(t + 44, HPET_BASE);
	t[52] = 0;                     /* HPET number */
	put16(t + 53, HPET_MIN_TICK);
	t[55] = 0;                     /* no page protection */
	table_header(t, "HPET", len, 1);
	return len;
}

static uint32_t build_madt(uint8_t *t, unsigned ncpus)
{
	uint8_t *p = t + 44;
	unsigned i;

	put32(t + 36, LAPIC_ADDR);
	put32(t + 40, 1); /* PC-AT compatible 8259s present */
	for (i = 0; i < ncpus; i++, p += 8) {
		p[0] = 0; p[1] = 8;          /* processor local APIC */
		p[2] = i; p[3] = i;          /* ACPI processor id, APIC id */
		put32(p + 4, 1);             /* enabled */
	}
	p[0] = 1; p[1] = 12;                 /* I/O APIC */
	p[2] = 0; p[3] = 0;
	put32(p + 4, IOAPIC_ADDR);
	put32(p + 8, 0);                     /* GSI base */
	p += 12;
	/* ISA IRQ 0 (PIT) is wired to IOAPIC pin 2. */
	p[0] = 2; p[1] = 10; p[2] = 0; p[3] = 0;
	put32(p + 4, 2);
	put16(p + 8, 0);
	p += 10;
	/* SCI: level-triggered, active high. */
	p[0] = 2; p[1] = 10; p[2] = 0; p[3] = ACPI_SCI_IRQ;
	put32(p + 4, ACPI_SCI_IRQ);
	put16(p + 8, 0x000d);
	p += 10;
	table_header(t, "APIC", p - t, 4);
	return p - t;
}

/*
 * Where the BAR window ends: at ECAM while ECAM is where wirt put it
 * (0xE0000000); once firmware moved ECAM below the window (SeaBIOS: to
 * 0xB0000000) and places BARs itself up to the IOAPIC, the window
 * reaches 0xFEC00000, so the OS keeps the firmware's assignment.
 */
#define BAR_WINDOW_TOP 0xfec00000u

static uint32_t bar_window_end(uint64_t ecam)
{
	if (ecam >= PCI_MMIO_BASE && ecam < BAR_WINDOW_TOP)
		return ecam;
	return BAR_WINDOW_TOP;
}

/*
 * All tables in the blob at base, which the guest sees at addr: pointers
 * between tables are addr + offset.  Returns the number of XSDT entries.
 */
static unsigned build_all(struct vm *vm, uint8_t *base, uint64_t addr,
			  uint16_t pm, uint64_t ecam)
{
	uint8_t *rsdp, *xsdt;
	unsigned nent = 0;

	memset(base, 0, ACPI_SIZE);
	build_fadt(base + FADT_OFF, addr, pm);
	build_dsdt(base + DSDT_OFF, ACPI_SIZE - DSDT_OFF, vm->pci != NULL,
		   bar_window_end(ecam), vm->config && vm->config->vga);

	build_facs(base + FACS_OFF, vm);

	xsdt = base + XSDT_OFF;
	put64(xsdt + 36 + 8 * nent++, addr + FADT_OFF);
	if (vm->has_apic) {
		build_madt(base + MADT_OFF, vm->ncpus);
		put64(xsdt + 36 + 8 * nent++, addr + MADT_OFF);
	}
	/* The HPET is part of every wirt board (vm/board.c). */
	build_hpet(base + HPET_OFF);
	put64(xsdt + 36 + 8 * nent++, addr + HPET_OFF);
	if (vm->pci && ecam) {
		build_mcfg(base + MCFG_OFF, ecam);
		put64(xsdt + 36 + 8 * nent++, addr + MCFG_OFF);
	}
	table_header(xsdt, "XSDT", 36 + 8 * nent, 1);

	rsdp = base + RSDP_OFF;
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, "WIRT  ", 6);
	rsdp[15] = 2;                             /* ACPI 2.0+ */
	put32(rsdp + 16, 0);                      /* no RSDT: XSDT only */
	put32(rsdp + 20, 36);
	put64(rsdp + 24, addr + XSDT_OFF);
	rsdp[8] = table_checksum(rsdp, 20);
	rsdp[32] = table_checksum(rsdp, 36);
	return nent;
}

uint64_t acpi_build(struct vm *vm)
{
	uint8_t *base = gmem_ptr_rw(&vm->mem, ACPI_BASE, ACPI_SIZE);

	if (!base) {
		log_warn("no room for ACPI tables below 1 MiB; the guest will not find them");
		return 0;
	}
	build_all(vm, base, ACPI_BASE, ACPI_PM_BASE, PCI_ECAM_BASE);
	gmem_notify_write(&vm->mem, ACPI_BASE, ACPI_SIZE);
	return ACPI_BASE + RSDP_OFF;
}

/* ---- the same tables for firmware, through fw_cfg's table-loader ---- */

/*
 * Table-loader commands (QEMU's BIOS linker/loader interface): 128-byte
 * little-endian entries.  ALLOCATE copies a file into memory of a zone;
 * ADD_POINTER adds the address of one file to a field in another;
 * ADD_CHECKSUM sets a byte so that a range sums to zero.
 */
#define LOADER_ALLOCATE     1
#define LOADER_ADD_POINTER  2
#define LOADER_ADD_CHECKSUM 3
#define LOADER_ZONE_HIGH    1
#define LOADER_ZONE_FSEG    2
#define LOADER_ENTRY        128
#define LOADER_NAME         56
#define LOADER_MAX          24

#define TABLES_FILE "etc/acpi/tables"
#define RSDP_FILE   "etc/acpi/rsdp"

struct loader {
	uint8_t cmd[LOADER_MAX][LOADER_ENTRY];
	unsigned n;
};

static uint8_t *loader_entry(struct loader *l, uint32_t command)
{
	uint8_t *e = l->cmd[l->n++];

	memset(e, 0, LOADER_ENTRY);
	put32(e, command);
	return e;
}

static void loader_alloc(struct loader *l, const char *file, uint32_t align,
			 uint8_t zone)
{
	uint8_t *e = loader_entry(l, LOADER_ALLOCATE);

	strncpy((char *)e + 4, file, LOADER_NAME - 1);
	put32(e + 4 + LOADER_NAME, align);
	e[8 + LOADER_NAME] = zone;
}

static void loader_pointer(struct loader *l, const char *dst, uint32_t off,
			   uint8_t size, const char *src)
{
	uint8_t *e = loader_entry(l, LOADER_ADD_POINTER);

	strncpy((char *)e + 4, dst, LOADER_NAME - 1);
	strncpy((char *)e + 4 + LOADER_NAME, src, LOADER_NAME - 1);
	put32(e + 4 + 2 * LOADER_NAME, off);
	e[8 + 2 * LOADER_NAME] = size;
}

static void loader_checksum(struct loader *l, const char *file, uint32_t at,
			    uint32_t start, uint32_t len)
{
	uint8_t *e = loader_entry(l, LOADER_ADD_CHECKSUM);

	strncpy((char *)e + 4, file, LOADER_NAME - 1);
	put32(e + 4 + LOADER_NAME, at);
	put32(e + 8 + LOADER_NAME, start);
	put32(e + 12 + LOADER_NAME, len);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/*
 * The tables file: the blob built at address 0 (its pointers are offsets
 * in it, which the loader turns into addresses), without the RSDP, the
 * checksums of the tables with pointers left to the loader.
 */
static void tables_blob(struct vm *vm, uint8_t *blob)
{
	build_all(vm, blob, 0, acpi_pm_base(vm), pci_ecam_base(vm));
	memset(blob + RSDP_OFF, 0, XSDT_OFF - RSDP_OFF);
	blob[FADT_OFF + 9] = 0;
	blob[XSDT_OFF + 9] = 0;
}

/* Firmware reads the tables after it programmed the chipset (the PM
 * block's and ECAM's addresses): build them again then, same size. */
static void tables_refresh(void *opaque, uint8_t *data, size_t len)
{
	if (len == ACPI_SIZE)
		tables_blob(opaque, data);
}

int acpi_add_to_fw_cfg(struct vm *vm, struct fw_cfg *cfg)
{
	static uint8_t blob[ACPI_SIZE];
	static struct loader l;
	uint8_t rsdp[36];
	uint32_t xsdt_len;
	unsigned i, nent;
	int ret;

	nent = build_all(vm, blob, 0, acpi_pm_base(vm), pci_ecam_base(vm));
	memcpy(rsdp, blob + RSDP_OFF, 36);
	rsdp[8] = rsdp[32] = 0;
	tables_blob(vm, blob);
	xsdt_len = get32(blob + XSDT_OFF + 4);

	l.n = 0;
	loader_alloc(&l, RSDP_FILE, 16, LOADER_ZONE_FSEG);
	loader_alloc(&l, TABLES_FILE, 64, LOADER_ZONE_HIGH);
	loader_pointer(&l, TABLES_FILE, FADT_OFF + 36, 4, TABLES_FILE);
	loader_pointer(&l, TABLES_FILE, FADT_OFF + 40, 4, TABLES_FILE);
	loader_pointer(&l, TABLES_FILE, FADT_OFF + 140, 8, TABLES_FILE);
	loader_checksum(&l, TABLES_FILE, FADT_OFF + 9, FADT_OFF,
			get32(blob + FADT_OFF + 4));
	for (i = 0; i < nent; i++)
		loader_pointer(&l, TABLES_FILE, XSDT_OFF + 36 + 8 * i, 8,
			       TABLES_FILE);
	loader_checksum(&l, TABLES_FILE, XSDT_OFF + 9, XSDT_OFF, xsdt_len);
	loader_pointer(&l, RSDP_FILE, 24, 8, TABLES_FILE);
	loader_checksum(&l, RSDP_FILE, 8, 0, 20);
	loader_checksum(&l, RSDP_FILE, 32, 0, 36);

	ret = fw_cfg_add_file_refresh(cfg, TABLES_FILE, blob, ACPI_SIZE,
				      tables_refresh, vm);
	if (!ret)
		ret = fw_cfg_add_file(cfg, RSDP_FILE, rsdp, sizeof(rsdp));
	if (!ret)
		ret = fw_cfg_add_file(cfg, "etc/table-loader", l.cmd,
				      (size_t)l.n * LOADER_ENTRY);
	return ret;
}
