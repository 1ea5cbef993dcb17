/*
 * SMBIOS structure table of a wirt PC (layouts from DMTF DSP0134 3.x; the
 * table is announced by a 2.8 entry point, the form every OS and
 * dmidecode reads): BIOS (0), system (1), baseboard (2, if asked for),
 * chassis (3), one processor (4) per vCPU, OEM strings (11, if given),
 * the memory array (16) with a device (17) per 16 GiB, its mapped ranges
 * (19), boot status (32) and the end (127).
 */
#include "vm/smbios.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hw/fw_cfg.h"
#include "util/log.h"
#include "vm/table_bytes.h"
#include "vm/vm.h"

#ifndef WIRT_RELEASE
#define WIRT_RELEASE "0"
#endif

#define SMBIOS_EP_LEN   31
/* --kernel boot: the entry point and the table after the MP table
 * (vm/mptable.c, 0xF0000-0xF0FFF), inside the BIOS area Linux scans. */
#define SMBIOS_EP_ADDR     0xf1000ULL
#define SMBIOS_TABLE_ADDR  0xf1020ULL
#define SMBIOS_AREA_END    0x100000ULL

#define DIMM_MAX_BYTES  (16ULL << 30)   /* one memory device per 16 GiB */
/* Sizes and addresses in KiB and MiB then fit the 2.x fields: the
 * extended (64-bit) ones of types 16, 17 and 19 are never needed. */
_Static_assert(GMEM_MAX_RAM < (2ULL << 40) && DIMM_MAX_BYTES >> 20 < 0x7fff,
	       "SMBIOS memory fields overflow");
#define DEFAULT_MHZ     2000
#define HANDLE_NONE     0xfffe          /* "not provided" */
#define HANDLE_NO_CACHE 0xffff          /* "no cache of this level" */
#define MAX_STRINGS     SMBIOS_MAX_OEM_STRINGS

/* One structure's text strings, numbered from 1 in the order added. */
struct strings {
	const char *s[MAX_STRINGS];
	unsigned n;
};

/* The string's number for the formatted area, 0 for none (NULL or ""). */
static uint8_t str(struct strings *st, const char *s)
{
	if (!s || !*s || st->n == MAX_STRINGS)
		return 0;
	st->s[st->n++] = s;
	return (uint8_t)st->n;
}

struct builder {
	uint8_t *buf;
	size_t len, cap;
	unsigned count, max_size;
	int error;
};

/*
 * Append a structure: its formatted area f (type and length in f[0] and
 * f[1]; the handle is filled in here: the structure's number) and its
 * strings, each NUL-terminated, the set ended by one more NUL (two when
 * there are none).  Returns the handle.
 */
static uint16_t add(struct builder *b, uint8_t *f, const struct strings *st)
{
	size_t need = f[1] + 2, at, i;
	uint16_t handle = (uint16_t)b->count;

	for (i = 0; i < st->n; i++)
		need += strlen(st->s[i]) + 1;
	if (b->len + need > b->cap) {
		size_t cap = (b->len + need) * 2;
		uint8_t *p = realloc(b->buf, cap);

		if (!p) {
			b->error = -ENOMEM;
			return handle;
		}
		b->buf = p;
		b->cap = cap;
	}
	put16(f + 2, handle);
	at = b->len;
	memcpy(b->buf + at, f, f[1]);
	b->len += f[1];
	for (i = 0; i < st->n; i++) {
		size_t l = strlen(st->s[i]) + 1;

		memcpy(b->buf + b->len, st->s[i], l);
		b->len += l;
	}
	if (!st->n)
		b->buf[b->len++] = 0;
	b->buf[b->len++] = 0;
	if (b->len - at > b->max_size)
		b->max_size = (unsigned)(b->len - at);
	b->count++;
	return handle;
}

static const char *or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

/* Type 0: what wirt is when it is the firmware (--kernel boot). */
static void add_bios(struct builder *b, const struct smbios_config *sc)
{
	uint8_t f[0x18] = { 0, sizeof(f) };
	struct strings st = { 0 };

	f[4] = str(&st, or(sc->bios.vendor, "wirt"));
	f[5] = str(&st, or(sc->bios.version, WIRT_RELEASE));
	put16(f + 6, 0xe800);           /* starting segment */
	f[8] = str(&st, or(sc->bios.date, "01/01/2026"));
	f[9] = 0;                       /* ROM size: 64 KiB */
	put64(f + 0x0a, 1u << 3);       /* characteristics not supported */
	f[0x12] = 0x01;                 /* ACPI */
	f[0x13] = 0x08 | 0x10;          /* targeted content, virtual machine */
	f[0x14] = (uint8_t)(sc->bios.major < 0 ? 0 : sc->bios.major);
	f[0x15] = (uint8_t)(sc->bios.minor < 0 ? 1 : sc->bios.minor);
	f[0x16] = f[0x17] = 0xff;       /* no embedded controller */
	add(b, f, &st);
}

/* SMBIOS 2.6+ keeps the UUID's first three fields little-endian. */
static void put_uuid(uint8_t *p, const uint8_t u[16])
{
	static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6,
					   8, 9, 10, 11, 12, 13, 14, 15 };
	unsigned i;

	for (i = 0; i < 16; i++)
		p[i] = u[order[i]];
}

static void add_system(struct builder *b, const struct smbios_config *sc,
		       const uint8_t uuid[16])
{
	uint8_t f[0x1b] = { 1, sizeof(f) };
	struct strings st = { 0 };

	f[4] = str(&st, or(sc->system.manufacturer, "wirt"));
	f[5] = str(&st, or(sc->system.product, "Standard PC (Q35 + ICH9)"));
	f[6] = str(&st, or(sc->system.version, WIRT_RELEASE));
	f[7] = str(&st, sc->system.serial);
	put_uuid(f + 8, uuid);
	f[0x18] = 0x06;                 /* woken by the power switch */
	f[0x19] = str(&st, sc->system.sku);
	f[0x1a] = str(&st, sc->system.family);
	add(b, f, &st);
}

static void add_baseboard(struct builder *b, const struct smbios_config *sc,
			  uint16_t chassis)
{
	uint8_t f[0x0f] = { 2, sizeof(f) };
	struct strings st = { 0 };

	f[4] = str(&st, or(sc->baseboard.manufacturer, "wirt"));
	f[5] = str(&st, or(sc->baseboard.product, "Standard PC (Q35 + ICH9)"));
	f[6] = str(&st, sc->baseboard.version);
	f[7] = str(&st, sc->baseboard.serial);
	f[8] = str(&st, sc->baseboard.asset);
	f[9] = 0x01;                    /* a hosting board */
	f[0x0a] = str(&st, sc->baseboard.location);
	put16(f + 0x0b, chassis);
	f[0x0d] = 0x0a;                 /* motherboard */
	add(b, f, &st);
}

static uint16_t add_chassis(struct builder *b, const struct smbios_config *sc)
{
	uint8_t f[0x16] = { 3, sizeof(f) };
	struct strings st = { 0 };

	f[4] = str(&st, or(sc->chassis.manufacturer, "wirt"));
	f[5] = 0x01;                    /* other */
	f[6] = str(&st, sc->chassis.version);
	f[7] = str(&st, sc->chassis.serial);
	f[8] = str(&st, sc->chassis.asset);
	f[9] = f[0x0a] = f[0x0b] = 0x03; /* boot-up, power, thermal: safe */
	f[0x0c] = 0x02;                 /* security status unknown */
	f[0x15] = str(&st, sc->chassis.sku);
	return add(b, f, &st);
}

static void add_processor(struct builder *b, const struct smbios_config *sc,
			  unsigned index)
{
	uint8_t f[0x2a] = { 4, sizeof(f) };
	struct strings st = { 0 };
	char socket[300];

	snprintf(socket, sizeof(socket), "%s %u", or(sc->processor.sock_pfx, "CPU"),
		 index);
	f[4] = str(&st, socket);
	f[5] = 0x03;                    /* central processor */
	f[6] = 0x01;                    /* family: other */
	f[7] = str(&st, or(sc->processor.manufacturer, "wirt"));
	f[0x10] = str(&st, or(sc->processor.version, "x86-64 vCPU"));
	put16(f + 0x14, (uint16_t)(sc->processor.max_speed < 0 ?
				   DEFAULT_MHZ : sc->processor.max_speed));
	put16(f + 0x16, (uint16_t)(sc->processor.current_speed < 0 ?
				   DEFAULT_MHZ : sc->processor.current_speed));
	f[0x18] = 0x41;                 /* socket populated, CPU enabled */
	f[0x19] = 0x01;                 /* upgrade: other */
	put16(f + 0x1a, HANDLE_NO_CACHE);
	put16(f + 0x1c, HANDLE_NO_CACHE);
	put16(f + 0x1e, HANDLE_NO_CACHE);
	f[0x20] = str(&st, sc->processor.serial);
	f[0x21] = str(&st, sc->processor.asset);
	f[0x22] = str(&st, sc->processor.part);
	f[0x23] = f[0x24] = f[0x25] = 1; /* one core, enabled, one thread */
	put16(f + 0x26, 0x0004);        /* 64-bit capable */
	put16(f + 0x28, 0x0001);        /* family 2: other */
	add(b, f, &st);
}

static void add_oem_strings(struct builder *b, const struct smbios_config *sc)
{
	uint8_t f[5] = { 11, sizeof(f) };
	struct strings st = { 0 };
	unsigned i;

	for (i = 0; i < sc->noem_strings && i < MAX_STRINGS; i++)
		str(&st, sc->oem_strings[i]);
	f[4] = (uint8_t)st.n;
	add(b, f, &st);
}

static uint16_t add_memory_array(struct builder *b, uint64_t ram,
				 unsigned ndimms)
{
	uint8_t f[0x17] = { 16, sizeof(f) };
	struct strings st = { 0 };
	uint64_t kib = ram >> 10;

	f[4] = 0x01;                    /* location: other */
	f[5] = 0x03;                    /* system memory */
	f[6] = 0x06;                    /* multi-bit ECC */
	put32(f + 7, (uint32_t)kib);
	put16(f + 0x0b, HANDLE_NONE);
	put16(f + 0x0d, (uint16_t)ndimms);
	return add(b, f, &st);
}

static void add_memory_device(struct builder *b, const struct smbios_config *sc,
			      uint16_t array, unsigned index, uint64_t bytes)
{
	uint8_t f[0x28] = { 17, sizeof(f) };
	struct strings st = { 0 };
	char locator[300];

	put16(f + 4, array);
	put16(f + 6, HANDLE_NONE);
	put16(f + 8, 64);               /* total and data width: 64 bits */
	put16(f + 0x0a, 64);
	put16(f + 0x0c, (uint16_t)(bytes >> 20));
	f[0x0e] = 0x09;                 /* DIMM */
	snprintf(locator, sizeof(locator), "%s %u", or(sc->memory.loc_pfx, "DIMM"),
		 index);
	f[0x10] = str(&st, locator);
	f[0x11] = str(&st, sc->memory.bank);
	f[0x12] = 0x07;                 /* RAM */
	put16(f + 0x13, 0x0002);        /* type detail: other */
	if (sc->memory.speed > 0) {
		put16(f + 0x15, (uint16_t)sc->memory.speed);
		put16(f + 0x20, (uint16_t)sc->memory.speed);
	}
	f[0x17] = str(&st, or(sc->memory.manufacturer, "wirt"));
	f[0x18] = str(&st, sc->memory.serial);
	f[0x19] = str(&st, sc->memory.asset);
	f[0x1a] = str(&st, sc->memory.part);
	add(b, f, &st);
}

/* Type 19: guest-physical range [start, start+len) of the array. */
static void add_mapped_range(struct builder *b, uint16_t array, uint64_t start,
			     uint64_t len)
{
	uint8_t f[0x1f] = { 19, sizeof(f) };
	struct strings st = { 0 };
	uint64_t end = start + len - 1;

	put32(f + 4, (uint32_t)(start >> 10));
	put32(f + 8, (uint32_t)(end >> 10));
	put16(f + 0x0c, array);
	f[0x0e] = 1;                    /* partition width */
	add(b, f, &st);
}

static void add_simple(struct builder *b, uint8_t type, uint8_t len)
{
	uint8_t f[0x0b] = { type, len };
	struct strings st = { 0 };

	add(b, f, &st);                 /* 32: status 0, no errors */
}

/* The system UUID: the user's, else a random (version 4) one. */
static void system_uuid(const struct smbios_config *sc, uint8_t uuid[16])
{
	if (sc->system.uuid_set) {
		memcpy(uuid, sc->system.uuid, 16);
		return;
	}
	if (getrandom(uuid, 16, 0) != 16)
		memset(uuid, 0, 16);
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

int smbios_build(const struct vm *vm, bool with_bios_info,
		 struct smbios_tables *t)
{
	const struct smbios_config *sc = &vm->config->smbios;
	const struct guest_memory *gm = &vm->mem;
	uint64_t ram = gm->ram_size, left;
	unsigned ndimms = (unsigned)((ram + DIMM_MAX_BYTES - 1) / DIMM_MAX_BYTES);
	struct builder b = { 0 };
	uint16_t chassis, array;
	uint8_t uuid[16];
	unsigned i;

	if (with_bios_info || sc->bios.vendor || sc->bios.version ||
	    sc->bios.date || sc->bios.major >= 0)
		add_bios(&b, sc);
	system_uuid(sc, uuid);
	add_system(&b, sc, uuid);
	/* The chassis comes before the board so the board can name it. */
	chassis = add_chassis(&b, sc);
	if (sc->baseboard.set)
		add_baseboard(&b, sc, chassis);
	for (i = 0; i < vm->ncpus; i++)
		add_processor(&b, sc, i);
	if (sc->noem_strings)
		add_oem_strings(&b, sc);
	array = add_memory_array(&b, ram, ndimms);
	for (i = 0, left = ram; i < ndimms; i++, left -= DIMM_MAX_BYTES)
		add_memory_device(&b, sc, array, i,
				  left < DIMM_MAX_BYTES ? left : DIMM_MAX_BYTES);
	add_mapped_range(&b, array, 0, gm->low_end);
	if (gm->high_size)
		add_mapped_range(&b, array, GMEM_4G, gm->high_size);
	add_simple(&b, 32, 0x0b);
	add_simple(&b, 127, 4);
	if (b.error) {
		free(b.buf);
		return b.error;
	}
	t->table = b.buf;
	t->table_len = b.len;
	t->count = b.count;
	t->max_size = b.max_size;
	return 0;
}

void smbios_entry_point(uint8_t ep[SMBIOS_EP_LEN], const struct smbios_tables *t,
			uint32_t table_addr)
{
	memset(ep, 0, SMBIOS_EP_LEN);
	memcpy(ep, "_SM_", 4);
	ep[5] = SMBIOS_EP_LEN;
	ep[6] = 2;                      /* version 2.8 */
	ep[7] = 8;
	put16(ep + 8, (uint16_t)t->max_size);
	memcpy(ep + 0x10, "_DMI_", 5);
	put16(ep + 0x16, (uint16_t)t->table_len);
	put32(ep + 0x18, table_addr);
	put16(ep + 0x1c, (uint16_t)t->count);
	ep[0x1e] = 0x28;                /* BCD revision 2.8 */
	ep[0x15] = table_checksum(ep + 0x10, 0x0f);
	ep[4] = table_checksum(ep, SMBIOS_EP_LEN);
}

/* The 2.x entry point counts the table's length in 16 bits. */
static int check_size(const struct smbios_tables *t, uint64_t room)
{
	if (t->table_len <= 0xffff && t->table_len <= room)
		return 0;
	log_error("the SMBIOS tables (%zu bytes) do not fit: fewer --cpus or shorter --smbios strings",
		  t->table_len);
	return -E2BIG;
}

int smbios_install(struct vm *vm)
{
	struct smbios_tables t;
	uint8_t ep[SMBIOS_EP_LEN];
	int ret = smbios_build(vm, true, &t);

	if (ret)
		return ret;
	ret = check_size(&t, SMBIOS_AREA_END - SMBIOS_TABLE_ADDR);
	if (!ret) {
		smbios_entry_point(ep, &t, SMBIOS_TABLE_ADDR);
		ret = gmem_write(&vm->mem, SMBIOS_TABLE_ADDR, t.table, t.table_len);
		if (!ret)
			ret = gmem_write(&vm->mem, SMBIOS_EP_ADDR, ep, sizeof(ep));
	}
	free(t.table);
	return ret;
}

/* The firmware copies the table where it likes and fixes the entry
 * point's address and checksums (SeaBIOS adds its own type 0). */
int smbios_add_to_fw_cfg(struct vm *vm, struct fw_cfg *cfg)
{
	struct smbios_tables t;
	uint8_t ep[SMBIOS_EP_LEN];
	int ret = smbios_build(vm, false, &t);

	if (ret)
		return ret;
	ret = check_size(&t, 0xffff);
	if (!ret) {
		smbios_entry_point(ep, &t, 0);
		ret = fw_cfg_add_file(cfg, "etc/smbios/smbios-tables", t.table,
				      t.table_len);
	}
	if (!ret)
		ret = fw_cfg_add_file(cfg, "etc/smbios/smbios-anchor", ep, sizeof(ep));
	free(t.table);
	return ret;
}
