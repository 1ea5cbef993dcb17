/*
 * SMBIOS tables (DMTF DSP0134): what dmidecode, /sys/class/dmi/id and
 * cloud-init read about the machine — BIOS, system (with its UUID and
 * serial number), chassis, processors, memory.  With --kernel wirt is the
 * firmware and puts them in the BIOS area itself; with --firmware they go
 * to the firmware through fw_cfg (the etc/smbios files), which installs them.
 */
#ifndef WIRT_VM_SMBIOS_H
#define WIRT_VM_SMBIOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMBIOS_MAX_OEM_STRINGS 16

/* The strings a user may set with --smbios (NULL: wirt's default). */
struct smbios_config {
	struct {
		const char *vendor, *version, *date;
		int major, minor;       /* system BIOS release; -1: default */
	} bios;                         /* type 0 */
	struct {
		const char *manufacturer, *product, *version, *serial, *sku,
			*family;
		uint8_t uuid[16];       /* as written: RFC 4122 byte order */
		bool uuid_set;
	} system;                       /* type 1 */
	struct {
		const char *manufacturer, *product, *version, *serial, *asset,
			*location;
		bool set;               /* type 2 is there only if asked for */
	} baseboard;                    /* type 2 */
	struct {
		const char *manufacturer, *version, *serial, *asset, *sku;
	} chassis;                      /* type 3 */
	struct {
		const char *sock_pfx, *manufacturer, *version, *serial, *asset,
			*part;
		int max_speed, current_speed; /* MHz; -1: default */
	} processor;                    /* type 4 */
	const char *oem_strings[SMBIOS_MAX_OEM_STRINGS]; /* type 11 */
	unsigned noem_strings;
	char storage[4096];             /* the options' text the fields point into */
	size_t storage_used;
	struct {
		const char *loc_pfx, *bank, *manufacturer, *serial, *asset, *part;
		int speed;              /* MT/s; -1: unknown */
	} memory;                       /* type 17 */
};

/* Start a configuration with every field at its default. */
void smbios_config_init(struct smbios_config *sc);

/*
 * Apply one --smbios option, "type=N,key=value,...", as QEMU's -smbios
 * (types 0, 1, 2, 3, 4, 11 and 17); sc keeps a copy of the text.  0, or
 * -EINVAL with a message in err.
 */
int smbios_parse_option(struct smbios_config *sc, const char *arg, char *err,
			size_t err_len);

struct vm;
struct fw_cfg;

/* The machine's structure table and its SMBIOS 2.8 (32-bit) entry point. */
struct smbios_tables {
	uint8_t *table;
	size_t table_len;
	unsigned count;         /* structures, the end-of-table one included */
	unsigned max_size;      /* the largest structure, strings included */
};

/*
 * Build the structure table for vm.  with_bios_info: include the BIOS
 * (type 0) structure even if the user set none of its fields — true when
 * wirt itself is the firmware, false when the firmware adds its own.
 * 0 or -ENOMEM; free t->table when done.
 */
int smbios_build(const struct vm *vm, bool with_bios_info,
		 struct smbios_tables *t);

/* Fill a 31-byte entry point for a table at table_addr (checksummed). */
void smbios_entry_point(uint8_t ep[31], const struct smbios_tables *t,
			uint32_t table_addr);

/* --kernel boot: the tables in the BIOS area where Linux scans for them. */
int smbios_install(struct vm *vm);

/* --firmware: etc/smbios/smbios-tables and etc/smbios/smbios-anchor. */
int smbios_add_to_fw_cfg(struct vm *vm, struct fw_cfg *cfg);

#endif
