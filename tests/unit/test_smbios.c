/*
 * The SMBIOS tables wirt writes: the entry point's checksums and counts
 * describe the table, every structure is well formed (strings ended,
 * handles unique, the end-of-table structure last), the user's --smbios
 * strings and UUID land where dmidecode reads them, large memory uses the
 * extended fields, and bad --smbios options are refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hw/fw_cfg.h"
#include "vm/config.h"
#include "vm/memory.h"
#include "vm/smbios.h"
#include "vm/vm.h"

static struct vm vm;
static struct vm_config cfg;

static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static int setup_with(uint64_t ram, unsigned ncpus)
{
	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	smbios_config_init(&cfg.smbios);
	vm.config = &cfg;
	vm.ncpus = ncpus;
	return gmem_init(&vm.mem, ram);
}

static int setup(void **state)
{
	return setup_with(64 << 20, 2);
}

static int teardown(void **state)
{
	gmem_destroy(&vm.mem);
	return 0;
}

/* One parsed structure. */
struct structure {
	const uint8_t *f;       /* formatted area */
	const char *strings[17]; /* [1..n] */
	unsigned nstrings;
};

/* Walk the table: every structure inside it, strings ended by a double
 * NUL, handles unique, type 127 last; returns how many there are. */
static unsigned walk(const uint8_t *t, size_t len, struct structure *out,
		     unsigned max)
{
	size_t off = 0;
	unsigned n = 0, i;
	uint8_t last = 0;
	uint16_t handles[256];

	while (off < len) {
		const uint8_t *f = t + off;
		struct structure s = { .f = f };
		size_t p;

		assert_true(off + 4 <= len);
		assert_true(f[1] >= 4 && off + f[1] + 2 <= len);
		for (i = 0; i < n; i++)
			assert_int_not_equal(handles[i], get16(f + 2));
		assert_true(n < 256);
		handles[n] = get16(f + 2);
		p = off + f[1];
		if (t[p] == 0) {
			p++;            /* no strings: a second NUL */
		} else {
			while (t[p]) {
				assert_true(s.nstrings < 16);
				s.strings[++s.nstrings] = (const char *)t + p;
				p += strlen((const char *)t + p) + 1;
				assert_true(p < len);
			}
		}
		p++;
		assert_true(p <= len);
		if (n < max)
			out[n] = s;
		n++;
		off = p;
		last = f[0];
		if (last == 127)
			assert_int_equal(off, len);
	}
	assert_int_equal(last, 127);
	return n;
}

static const struct structure *find(const struct structure *s, unsigned n,
				    uint8_t type, unsigned nth)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (s[i].f[0] == type && !nth--)
			return &s[i];
	return NULL;
}

static const char *string(const struct structure *s, unsigned at)
{
	unsigned idx = s->f[at];

	assert_true(idx <= s->nstrings);
	return idx ? s->strings[idx] : "";
}

static void test_installed_tables_are_well_formed(void **state)
{
	const uint8_t *ep, *t;
	struct structure s[64];
	unsigned n;

	assert_int_equal(smbios_install(&vm), 0);
	ep = gmem_ptr(&vm.mem, 0xf1000, 31);
	assert_non_null(ep);
	assert_memory_equal(ep, "_SM_", 4);
	assert_int_equal(ep[5], 31);
	assert_int_equal(sum(ep, 31), 0);
	assert_memory_equal(ep + 0x10, "_DMI_", 5);
	assert_int_equal(sum(ep + 0x10, 15), 0);
	t = gmem_ptr(&vm.mem, get32(ep + 0x18), get16(ep + 0x16));
	assert_non_null(t);
	n = walk(t, get16(ep + 0x16), s, 64);
	assert_int_equal(n, get16(ep + 0x1c));
	/* 0, 1, 3, two 4s, 16, 17, 19, 32, 127 */
	assert_int_equal(n, 10);
	assert_string_equal(string(find(s, n, 0, 0), 4), "wirt");
	assert_string_equal(string(find(s, n, 4, 1), 4), "CPU 1");
	assert_null(find(s, n, 2, 0));          /* only when asked for */
	assert_null(find(s, n, 11, 0));
	/* 64 MiB in one DIMM, mapped from 0 to the end of low RAM. */
	assert_int_equal(get16(find(s, n, 17, 0)->f + 0x0c), 64);
	assert_int_equal(get32(find(s, n, 19, 0)->f + 4), 0);
	assert_int_equal(get32(find(s, n, 19, 0)->f + 8), (64 << 10) - 1);
	assert_int_equal(get16(find(s, n, 17, 0)->f + 4),
			 get16(find(s, n, 16, 0)->f + 2));
}

static void test_user_strings_and_uuid(void **state)
{
	static const uint8_t uuid_le[16] = { 0x33, 0x22, 0x11, 0x00, 0x55, 0x44,
		0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	struct smbios_tables t;
	struct structure s[64];
	const struct structure *sys;
	char err[200];
	unsigned n;

	assert_int_equal(smbios_parse_option(&cfg.smbios,
		"type=1,serial=ds=nocloud;s=http://10.0.2.2:8000/,"
		"uuid=00112233-4455-6677-8899-aabbccddeeff,product=Box", err, sizeof(err)), 0);
	assert_int_equal(smbios_parse_option(&cfg.smbios,
		"type=11,value=first,value=second", err, sizeof(err)), 0);
	assert_int_equal(smbios_parse_option(&cfg.smbios,
		"type=2,serial=B1", err, sizeof(err)), 0);
	assert_int_equal(smbios_parse_option(&cfg.smbios,
		"type=4,sock_pfx=Socket,max-speed=3000", err, sizeof(err)), 0);
	/* The firmware adds its own BIOS structure. */
	assert_int_equal(smbios_build(&vm, false, &t), 0);
	n = walk(t.table, t.table_len, s, 64);
	assert_int_equal(n, t.count);
	assert_null(find(s, n, 0, 0));
	sys = find(s, n, 1, 0);
	assert_string_equal(string(sys, 7), "ds=nocloud;s=http://10.0.2.2:8000/");
	assert_string_equal(string(sys, 5), "Box");
	assert_memory_equal(sys->f + 8, uuid_le, 16);
	assert_int_equal(find(s, n, 11, 0)->f[4], 2);
	assert_string_equal(find(s, n, 11, 0)->strings[2], "second");
	assert_string_equal(string(find(s, n, 2, 0), 7), "B1");
	assert_string_equal(string(find(s, n, 4, 0), 4), "Socket 0");
	assert_int_equal(get16(find(s, n, 4, 0)->f + 0x14), 3000);
	/* The board names the chassis. */
	assert_int_equal(get16(find(s, n, 2, 0)->f + 0x0b),
			 get16(find(s, n, 3, 0)->f + 2));
	free(t.table);
}

static void test_random_uuid_is_version_4(void **state)
{
	struct smbios_tables t;
	struct structure s[64];
	const struct structure *sys;
	unsigned n;

	assert_int_equal(smbios_build(&vm, true, &t), 0);
	n = walk(t.table, t.table_len, s, 64);
	sys = find(s, n, 1, 0);
	assert_int_equal(sys->f[8 + 7] >> 4, 4);        /* byte 6, swapped */
	assert_int_equal(sys->f[8 + 8] >> 6, 2);
	free(t.table);
}

static void test_large_memory_uses_extended_fields(void **state)
{
	struct smbios_tables t;
	struct structure s[64];
	unsigned n;

	teardown(state);
	/* 40 GiB: three DIMMs (16+16+8), a range above 4 GiB (the 2.x fields
	 * hold up to wirt's largest guest: see smbios.c). */
	assert_int_equal(setup_with(40ULL << 30, 1), 0);
	assert_int_equal(smbios_build(&vm, true, &t), 0);
	n = walk(t.table, t.table_len, s, 64);
	assert_int_equal(get16(find(s, n, 16, 0)->f + 0x0d), 3);
	assert_int_equal(get32(find(s, n, 16, 0)->f + 7), 40 << 20);
	assert_int_equal(get16(find(s, n, 17, 0)->f + 0x0c), 16 << 10);
	assert_int_equal(get16(find(s, n, 17, 2)->f + 0x0c), 8 << 10);
	assert_int_equal(get32(find(s, n, 19, 1)->f + 4), 4 << 20);
	assert_int_equal(get32(find(s, n, 19, 1)->f + 8),
			 ((4ULL << 30) + vm.mem.high_size - 1) >> 10);
	free(t.table);
}

static void test_bad_options_refused(void **state)
{
	static const char *const bad[] = {
		"serial=x", "type=5,x=y", "type=1", "type=1,colour=red",
		"type=1,uuid=0011", "type=1,uuid=0011223z-4455-6677-8899-aabbccddeeff",
		"type=0,release=1", "type=0,release=300.1", "type=4,max-speed=0",
		"type=1,serial", "type=abc,x=y",
	};
	char err[200], big[400];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(smbios_parse_option(&cfg.smbios, bad[i], err,
						     sizeof(err)), -EINVAL);
		assert_true(strstr(err, "--smbios") != NULL);
	}
	memset(big, 'a', sizeof(big));
	memcpy(big, "type=1,serial=", 14);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(smbios_parse_option(&cfg.smbios, big, err, sizeof(err)),
			 -EINVAL);
	for (i = 0; i < 16; i++)
		assert_int_equal(smbios_parse_option(&cfg.smbios, "type=11,value=x",
						     err, sizeof(err)), 0);
	assert_int_equal(smbios_parse_option(&cfg.smbios, "type=11,value=x", err,
					     sizeof(err)), -EINVAL);
}

static void test_fw_cfg_files(void **state)
{
	struct fw_cfg *fc = fw_cfg_new();
	const uint8_t *anchor, *tables;
	size_t alen, tlen;

	assert_non_null(fc);
	assert_int_equal(smbios_add_to_fw_cfg(&vm, fc), 0);
	anchor = fw_cfg_file_data(fc, "etc/smbios/smbios-anchor", &alen);
	tables = fw_cfg_file_data(fc, "etc/smbios/smbios-tables", &tlen);
	assert_non_null(anchor);
	assert_non_null(tables);
	assert_int_equal(alen, 31);
	assert_int_equal(get16(anchor + 0x16), tlen);
	assert_int_equal(sum(anchor, 31), 0);
	fw_cfg_free(fc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_installed_tables_are_well_formed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_strings_and_uuid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_uuid_is_version_4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_memory_uses_extended_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fw_cfg_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
