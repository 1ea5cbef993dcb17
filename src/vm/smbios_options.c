/*
 * --smbios type=N,key=value,...: the SMBIOS strings a user sets, with the
 * keys QEMU's -smbios takes for the same types, so a QEMU command line's
 * SMBIOS options carry over unchanged.
 */
#include "vm/smbios.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"

#define SMBIOS_VALUE_MAX 255  /* longest string a user may set */

enum key_kind {
	KEY_STRING,   /* const char * field */
	KEY_MHZ,      /* int field, 1 to 65534 */
	KEY_RELEASE,  /* "MAJOR.MINOR" into bios.major/minor */
	KEY_UUID,     /* system.uuid */
	KEY_OEM,      /* appended to oem_strings */
};

struct smbios_key {
	const char *name;
	enum key_kind kind;
	size_t offset;
};

#define STR(key, field) { key, KEY_STRING, offsetof(struct smbios_config, field) }
#define MHZ(key, field) { key, KEY_MHZ, offsetof(struct smbios_config, field) }

static const struct smbios_key type0_keys[] = {
	STR("vendor", bios.vendor), STR("version", bios.version),
	STR("date", bios.date), { "release", KEY_RELEASE, 0 }, { NULL },
};
static const struct smbios_key type1_keys[] = {
	STR("manufacturer", system.manufacturer), STR("product", system.product),
	STR("version", system.version), STR("serial", system.serial),
	STR("sku", system.sku), STR("family", system.family),
	{ "uuid", KEY_UUID, 0 }, { NULL },
};
static const struct smbios_key type2_keys[] = {
	STR("manufacturer", baseboard.manufacturer),
	STR("product", baseboard.product), STR("version", baseboard.version),
	STR("serial", baseboard.serial), STR("asset", baseboard.asset),
	STR("location", baseboard.location), { NULL },
};
static const struct smbios_key type3_keys[] = {
	STR("manufacturer", chassis.manufacturer), STR("version", chassis.version),
	STR("serial", chassis.serial), STR("asset", chassis.asset),
	STR("sku", chassis.sku), { NULL },
};
static const struct smbios_key type4_keys[] = {
	STR("sock_pfx", processor.sock_pfx),
	STR("manufacturer", processor.manufacturer),
	STR("version", processor.version), STR("serial", processor.serial),
	STR("asset", processor.asset), STR("part", processor.part),
	MHZ("max-speed", processor.max_speed),
	MHZ("current-speed", processor.current_speed), { NULL },
};
static const struct smbios_key type11_keys[] = {
	{ "value", KEY_OEM, 0 }, { NULL },
};
static const struct smbios_key type17_keys[] = {
	STR("loc_pfx", memory.loc_pfx), STR("bank", memory.bank),
	STR("manufacturer", memory.manufacturer), STR("serial", memory.serial),
	STR("asset", memory.asset), STR("part", memory.part),
	MHZ("speed", memory.speed), { NULL },
};

static const struct {
	unsigned type;
	const struct smbios_key *keys;
} smbios_types[] = {
	{ 0, type0_keys }, { 1, type1_keys }, { 2, type2_keys },
	{ 3, type3_keys }, { 4, type4_keys }, { 11, type11_keys },
	{ 17, type17_keys },
};

void smbios_config_init(struct smbios_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->bios.major = sc->bios.minor = -1;
	sc->processor.max_speed = sc->processor.current_speed = -1;
	sc->memory.speed = -1;
}

/* "00112233-4455-6677-8899-aabbccddeeff" into 16 bytes in that order. */
static int parse_uuid(const char *s, uint8_t out[16])
{
	static const unsigned dash_at[] = { 8, 13, 18, 23 };
	unsigned i, d = 0, n = 0;

	if (strlen(s) != 36)
		return -EINVAL;
	for (i = 0; i < 36; i++) {
		if (d < 4 && i == dash_at[d]) {
			if (s[i] != '-')
				return -EINVAL;
			d++;
			continue;
		}
		if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]))
			return -EINVAL;
		out[n++] = (uint8_t)strtoul((char[]){ s[i], s[i + 1], 0 }, NULL, 16);
		i++;
	}
	return 0;
}

static int parse_release(const char *s, int *major, int *minor)
{
	unsigned a, b;
	int used = -1;

	if (sscanf(s, "%3u.%3u%n", &a, &b, &used) != 2 || used < 0 ||
	    s[used] || a > 254 || b > 254)
		return -EINVAL;
	*major = (int)a;
	*minor = (int)b;
	return 0;
}

static int apply_key(struct smbios_config *sc, unsigned type,
		     const struct smbios_key *k, const char *value,
		     char *err, size_t err_len)
{
	uint64_t v;

	if (strlen(value) > SMBIOS_VALUE_MAX)
		return errorf(err, err_len, -EINVAL, "--smbios type=%u: %s= is longer than %d characters",
			    type, k->name, SMBIOS_VALUE_MAX);
	switch (k->kind) {
	case KEY_STRING:
		*(const char **)((char *)sc + k->offset) = value;
		return 0;
	case KEY_MHZ:
		if (parse_uint(value, 1, 65534, &v))
			return errorf(err, err_len, -EINVAL, "--smbios type=%u: %s='%s': give MHz from 1 to 65534",
				    type, k->name, value);
		*(int *)((char *)sc + k->offset) = (int)v;
		return 0;
	case KEY_RELEASE:
		if (parse_release(value, &sc->bios.major, &sc->bios.minor))
			return errorf(err, err_len, -EINVAL, "--smbios type=0: release='%s': give MAJOR.MINOR, each 0 to 254",
				    value);
		return 0;
	case KEY_UUID:
		if (parse_uuid(value, sc->system.uuid))
			return errorf(err, err_len, -EINVAL,
				    "--smbios type=1: uuid='%s': give 32 hex digits as "
				    "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", value);
		sc->system.uuid_set = true;
		return 0;
	case KEY_OEM:
		if (sc->noem_strings == SMBIOS_MAX_OEM_STRINGS)
			return errorf(err, err_len, -EINVAL, "--smbios type=11: at most %d OEM strings",
				    SMBIOS_MAX_OEM_STRINGS);
		sc->oem_strings[sc->noem_strings++] = value;
		return 0;
	}
	return -EINVAL;
}

static const struct smbios_key *find_keys(unsigned type)
{
	size_t i;

	for (i = 0; i < sizeof(smbios_types) / sizeof(smbios_types[0]); i++)
		if (smbios_types[i].type == type)
			return smbios_types[i].keys;
	return NULL;
}

int smbios_parse_option(struct smbios_config *sc, const char *option,
			char *err, size_t err_len)
{
	char *tokens[16], *arg, *opts, *value;
	size_t len = strlen(option) + 1;
	const struct smbios_key *keys;
	uint64_t type;
	unsigned n;
	int i, ret;

	/* getsubopt cuts the text up: the fields point into sc's copy. */
	if (len > sizeof(sc->storage) - sc->storage_used)
		return errorf(err, err_len, -EINVAL, "--smbios: the options are longer than %zu bytes in all",
			    sizeof(sc->storage));
	arg = memcpy(sc->storage + sc->storage_used, option, len);
	sc->storage_used += len;
	if (strncmp(arg, "type=", 5))
		return errorf(err, err_len, -EINVAL,
			    "--smbios '%s': start with type=N (0, 1, 2, 3, 4, 11 or 17)", arg);
	opts = strchr(arg, ',');
	if (opts)
		*opts++ = '\0';
	if (parse_uint(arg + 5, 0, 255, &type) || !(keys = find_keys((unsigned)type)))
		return errorf(err, err_len, -EINVAL,
			    "--smbios type=%s: wirt sets types 0, 1, 2, 3, 4, 11 and 17", arg + 5);
	if (!opts || !*opts)
		return errorf(err, err_len, -EINVAL, "--smbios type=%u: give at least one key=value",
			    (unsigned)type);
	for (n = 0; keys[n].name; n++)
		tokens[n] = (char *)keys[n].name;
	tokens[n] = NULL;
	while (*opts) {
		char *start = opts;

		i = getsubopt(&opts, tokens, &value);
		if (i < 0)
			return errorf(err, err_len, -EINVAL, "--smbios type=%u: unknown key '%s'",
				    (unsigned)type, start);
		if (!value)
			return errorf(err, err_len, -EINVAL, "--smbios type=%u: %s needs a value",
				    (unsigned)type, keys[i].name);
		ret = apply_key(sc, (unsigned)type, &keys[i], value, err, err_len);
		if (ret)
			return ret;
	}
	if (type == 2)
		sc->baseboard.set = true;
	return 0;
}
