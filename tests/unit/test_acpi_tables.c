/*
 * The ACPI tables wirt writes: every table an OS can reach from the RSDP
 * has a valid checksum, the FADT's FACS is where the spec wants it, and the
 * HPET table describes the HPET.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw/fw_cfg.h"
#include "vm/acpi.h"
#include "vm/memory.h"
#include "vm/vm.h"

static struct vm vm;

static const uint8_t *at(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gmem_ptr(&vm.mem, gpa, len);

	assert_non_null(p);
	return p;
}

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static int setup(void **state)
{
	memset(&vm, 0, sizeof(vm));
	assert_int_equal(gmem_init(&vm.mem, 64 << 20), 0);
	vm.ncpus = 2;
	vm.has_apic = true;
	return 0;
}

static int teardown(void **state)
{
	gmem_destroy(&vm.mem);
	return 0;
}

/* The table at gpa: its signature, a length that fits, checksum 0. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(gpa, 36);
	uint32_t len = get32(t + 4);

	assert_memory_equal(t, sig, 4);
	assert_true(len >= 36 && len < 0x2000);
	assert_int_equal(sum(at(gpa, len), len), 0);
	return t;
}

/* XSDT entry with this signature, or 0. */
static uint64_t find(const uint8_t *xsdt, const char *sig)
{
	uint32_t n = (get32(xsdt + 4) - 36) / 8, i;

	for (i = 0; i < n; i++) {
		uint64_t a = get64(xsdt + 36 + 8 * i);

		if (!memcmp(at(a, 4), sig, 4))
			return a;
	}
	return 0;
}

static void test_checksums(void **state)
{
	uint64_t rsdp_gpa = acpi_build(&vm), fadt;
	const uint8_t *rsdp, *xsdt, *f;

	assert_int_not_equal(rsdp_gpa, 0);
	rsdp = at(rsdp_gpa, 36);
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(rsdp, 20), 0);
	assert_int_equal(sum(rsdp, 36), 0);
	xsdt = table(get64(rsdp + 24), "XSDT");
	fadt = find(xsdt, "FACP");
	assert_int_not_equal(fadt, 0);
	f = table(fadt, "FACP");
	table(get64(f + 140), "DSDT");
	table(find(xsdt, "APIC"), "APIC");
}

static void test_hpet_table(void **state)
{
	const uint8_t *t;

	acpi_build(&vm);
	t = table(find(at(get64(at(0xe0000, 36) + 24), 36), "HPET"), "HPET");
	assert_int_equal(get32(t + 4), 56);
	assert_int_equal(get32(t + 36), 0x8086a201);   /* as the capabilities say */
	assert_int_equal(t[40], 0);                     /* system memory */
	assert_int_equal(get64(t + 44), 0xfed00000);
}

static void test_facs(void **state)
{
	const uint8_t *f, *facs;
	uint64_t facs_gpa;
	uint32_t sig;

	acpi_build(&vm);
	f = at(find(at(get64(at(0xe0000, 36) + 24), 36), "FACP"), 276);
	facs_gpa = get32(f + 36);                    /* FIRMWARE_CTRL */
	assert_int_not_equal(facs_gpa, 0);
	assert_true(get64(f + 132) == 0 || get64(f + 132) == facs_gpa);
	assert_int_equal(facs_gpa % 64, 0);
	facs = at(facs_gpa, 64);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(get32(facs + 4), 64);
	assert_int_equal(get32(facs + 16), 0);       /* global lock free */
	assert_int_equal(facs[32], 2);               /* version */
	sig = get32(facs + 8);
	assert_int_not_equal(sig, 0);

	/* Another machine, another hardware signature. */
	vm.ncpus = 4;
	acpi_build(&vm);
	assert_int_not_equal(get32(at(facs_gpa + 8, 4)), sig);
}

/*
 * The tables as firmware gets them: run etc/table-loader as a firmware
 * would (files at addresses of its choice, pointers patched, checksums
 * set) and find a consistent set from the RSDP.
 */
static void test_table_loader(void **state)
{
	struct fw_cfg *cfg = fw_cfg_new();
	const uint64_t rsdp_at = 0xf5000, tables_at = 0x123440;
	const uint8_t *cmds, *data;
	uint8_t *mem;
	size_t n, len, i;
	uint64_t fadt;
	const uint8_t *rsdp, *xsdt, *f;

	assert_int_equal(acpi_add_to_fw_cfg(&vm, cfg), 0);
	cmds = fw_cfg_file_data(cfg, "etc/table-loader", &n);
	assert_non_null(cmds);
	assert_int_equal(n % 128, 0);
	for (i = 0; i < n; i += 128) {
		const uint8_t *c = cmds + i;
		const char *file = (const char *)c + 4;
		uint64_t dst = !strcmp(file, "etc/acpi/rsdp") ? rsdp_at : tables_at;

		assert_true(!strcmp(file, "etc/acpi/rsdp") ||
			    !strcmp(file, "etc/acpi/tables"));
		switch (get32(c)) {
		case 1:		/* ALLOCATE: align, zone (FSEG for the RSDP) */
			data = fw_cfg_file_data(cfg, file, &len);
			assert_non_null(data);
			assert_int_equal(dst % get32(c + 60), 0);
			assert_int_equal(c[64], dst == rsdp_at ? 2 : 1);
			assert_int_equal(gmem_write(&vm.mem, dst, data, len), 0);
			break;
		case 2: {	/* ADD_POINTER: dst file, src file, offset, size */
			const char *src = (const char *)c + 60;
			uint64_t v = 0, add = !strcmp(src, "etc/acpi/rsdp") ? rsdp_at : tables_at;
			uint8_t sz = c[120];

			assert_true(sz == 4 || sz == 8);
			mem = gmem_ptr_rw(&vm.mem, dst + get32(c + 116), sz);
			assert_non_null(mem);
			memcpy(&v, mem, sz);
			v += add;
			memcpy(mem, &v, sz);
			break;
		}
		case 3:		/* ADD_CHECKSUM: file, offset, start, length */
			mem = gmem_ptr_rw(&vm.mem, dst, 0x2000);
			mem[get32(c + 60)] -= sum(mem + get32(c + 64), get32(c + 68));
			break;
		default:
			fail_msg("unknown loader command %u", get32(c));
		}
	}
	rsdp = at(rsdp_at, 36);
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(rsdp, 20), 0);
	assert_int_equal(sum(rsdp, 36), 0);
	xsdt = table(get64(rsdp + 24), "XSDT");
	assert_true(get64(rsdp + 24) >= tables_at);
	fadt = find(xsdt, "FACP");
	f = table(fadt, "FACP");
	table(get64(f + 140), "DSDT");
	assert_int_equal(get32(f + 40), get64(f + 140));
	assert_memory_equal(at(get32(f + 36), 4), "FACS", 4);
	assert_int_equal(get32(f + 56), ACPI_PM_BASE);	/* PM1a event block */
	table(find(xsdt, "APIC"), "APIC");
	table(find(xsdt, "HPET"), "HPET");
	fw_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checksums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_facs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hpet_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_loader, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
