/* Linux boot protocol and PVH loading, including malformed and truncated images. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "vm/linux_boot.h"

#define IMG_SIZE (64 << 10)

static void put16(uint8_t *p, size_t off, uint16_t v) { memcpy(p + off, &v, 2); }
static void put32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, size_t off, uint64_t v) { memcpy(p + off, &v, 8); }
static uint32_t get32(const uint8_t *p, size_t off) { uint32_t v; memcpy(&v, p + off, 4); return v; }

/* A minimal well-formed bzImage: 4 setup sectors, then the "kernel". */
static uint8_t *make_bzimage(size_t *size)
{
	uint8_t *p = calloc(1, IMG_SIZE);

	p[0x1f1] = 4;                    /* setup_sects */
	put16(p, 0x1fe, 0xaa55);
	p[0x200] = 0xeb;                 /* jmp */
	p[0x201] = 0x66;                 /* header ends at 0x268 */
	put32(p, 0x202, 0x53726448);     /* HdrS */
	put16(p, 0x206, 0x020f);
	p[0x211] = 0x01;                 /* LOADED_HIGH */
	put32(p, 0x22c, 0x7fffffff);     /* initrd_addr_max */
	put32(p, 0x230, 0x200000);
	p[0x234] = 1;
	put16(p, 0x236, 0x3);            /* XLF_KERNEL_64 | above 4G */
	put32(p, 0x238, 2047);
	put64(p, 0x258, 0x1000000);
	put32(p, 0x260, 4 << 20);        /* init_size */
	p[5 * 512] = 0xf4;               /* first byte of the kernel */
	*size = IMG_SIZE;
	return p;
}

static void expect_reject(const uint8_t *img, size_t size, const char *needle)
{
	struct bzimage_info info;
	char err[256] = "";

	assert_true(bzimage_parse(img, size, &info, err, sizeof(err)) < 0);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_parse_valid(void **state)
{
	struct bzimage_info info;
	char err[256];
	size_t size;
	uint8_t *img = make_bzimage(&size);

	assert_int_equal(bzimage_parse(img, size, &info, err, sizeof(err)), 0);
	assert_int_equal(info.version, 0x020f);
	assert_int_equal(info.setup_size, 5 * 512);
	assert_int_equal(info.kernel_size, size - 5 * 512);
	assert_int_equal(info.cmdline_size, 2047);
	assert_int_equal(info.init_size, 4 << 20);
	free(img);
}

static void test_parse_malformed(void **state)
{
	size_t size;
	uint8_t *img = make_bzimage(&size);
	uint8_t *bad = malloc(size);
	size_t cut;

	memcpy(bad, img, size);
	put32(bad, 0x202, 0x12345678);
	expect_reject(bad, size, "not a Linux kernel");

	memcpy(bad, img, size);
	put16(bad, 0x1fe, 0);
	expect_reject(bad, size, "not a Linux kernel");

	memcpy(bad, img, size);
	put16(bad, 0x206, 0x0204);
	expect_reject(bad, size, "too old");

	memcpy(bad, img, size);
	put16(bad, 0x236, 0);
	expect_reject(bad, size, "64-bit");

	memcpy(bad, img, size);
	bad[0x211] = 0;
	expect_reject(bad, size, "zImage");

	memcpy(bad, img, size);
	bad[0x1f1] = 200; /* setup larger than the file */
	expect_reject(bad, size, "truncated");

	/* Cut anywhere up to the end of the setup code: rejected, no read past. */
	for (cut = 0; cut <= 5 * 512; cut += 7) {
		struct bzimage_info info;
		char err[256];
		uint8_t *t = malloc(cut ? cut : 1);

		memcpy(t, img, cut);
		assert_true(bzimage_parse(t, cut, &info, err, sizeof(err)) < 0);
		free(t);
	}
	memset(bad, 0, size);
	expect_reject(bad, size, "not a Linux kernel");
	free(bad);
	free(img);
}

static void test_load_bzimage(void **state)
{
	struct guest_memory gm;
	struct cpu_state s;
	static uint8_t initrd[3 << 20];
	struct linux_boot_args a = { .initrd = initrd, .initrd_size = sizeof(initrd),
				     .cmdline = "console=ttyS0 root=/dev/vda" };
	char err[256];
	uint8_t *zp, k;
	uint64_t pte;

	a.kernel = make_bzimage(&a.kernel_size);
	initrd[0] = 0x42;
	assert_int_equal(gmem_init(&gm, 64 << 20), 0);
	assert_int_equal(linux_boot_load(&gm, &a, &s, err, sizeof(err)), 0);
	zp = gmem_ptr(&gm, BOOT_ZERO_PAGE_ADDR, 4096);
	assert_int_equal(get32(zp, 0x202), 0x53726448);
	assert_int_equal(zp[0x210], 0xff);
	assert_int_equal(get32(zp, 0x228), BOOT_CMDLINE_ADDR);
	assert_string_equal((char *)gmem_ptr(&gm, BOOT_CMDLINE_ADDR, 1), a.cmdline);
	/* The initrd sits page-aligned, high, and holds the data. */
	assert_int_equal(get32(zp, 0x218) & 0xfff, 0);
	assert_true(get32(zp, 0x218) >= 0x100000 + (4 << 20));
	assert_int_equal(get32(zp, 0x21c), sizeof(initrd));
	assert_int_equal(*(uint8_t *)gmem_ptr(&gm, get32(zp, 0x218), 1), 0x42);
	assert_true(zp[0x1e8] >= 4); /* e820 entries */
	gmem_read(&gm, 0x100000, &k, 1);
	assert_int_equal(k, 0xf4);
	/* 64-bit entry with paging on and an identity map. */
	assert_int_equal(s.rip, 0x100200);
	assert_int_equal(s.gpr[GPR_RSI], BOOT_ZERO_PAGE_ADDR);
	assert_true(s.cr0 & CR0_PG);
	assert_true(s.efer & EFER_LMA);
	assert_true(s.seg[SEG_CS].l);
	gmem_read(&gm, BOOT_PD_ADDR + 8 * 5, &pte, 8);
	assert_int_equal(pte, (5ULL << 21) | 0x83);
	gmem_destroy(&gm);
	free((void *)a.kernel);
}

static void test_load_does_not_fit(void **state)
{
	struct guest_memory gm;
	struct cpu_state s;
	struct linux_boot_args a = { .cmdline = "" };
	char err[256];
	uint8_t *img = make_bzimage(&a.kernel_size);
	static uint8_t initrd[15 << 20];
	char *longline;

	a.kernel = img;
	assert_int_equal(gmem_init(&gm, 16 << 20), 0);
	put32(img, 0x260, 64 << 20);
	assert_true(linux_boot_load(&gm, &a, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "--memory"));

	put32(img, 0x260, 4 << 20);
	a.initrd = initrd;
	a.initrd_size = sizeof(initrd);
	assert_true(linux_boot_load(&gm, &a, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "initrd"));

	a.initrd = NULL;
	a.initrd_size = 0;
	longline = malloc(3000);
	memset(longline, 'x', 2999);
	longline[2999] = 0;
	a.cmdline = longline;
	assert_true(linux_boot_load(&gm, &a, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "command line"));
	free(longline);
	gmem_destroy(&gm);
	free(img);
}

/* An ELF64 vmlinux with one PT_LOAD at 16 MiB and a Xen PVH note. */
static uint8_t *make_vmlinux(size_t *size, int with_note)
{
	size_t sz = 0x3000;
	uint8_t *p = calloc(1, sz);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)p;
	Elf64_Phdr *ph = (Elf64_Phdr *)(p + sizeof(*eh));
	uint8_t *note = p + 0x800;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000,
			      .p_paddr = 0x1000000, .p_filesz = 0x1000,
			      .p_memsz = 0x2000 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x800,
			      .p_filesz = 24 };
	put32(note, 0, 4);
	put32(note, 4, 8);
	put32(note, 8, with_note ? 18 : 17);
	memcpy(note + 12, "Xen", 4);
	put64(note, 16, 0x1000040);
	p[0x1000] = 0xab;
	*size = sz;
	return p;
}

static void test_pvh(void **state)
{
	struct guest_memory gm;
	struct cpu_state s;
	struct linux_boot_args a = { .cmdline = "console=hvc0" };
	char err[256];
	uint8_t b;
	uint32_t magic;
	uint8_t *img = make_vmlinux(&a.kernel_size, 1);

	a.kernel = img;
	assert_int_equal(gmem_init(&gm, 64 << 20), 0);
	assert_int_equal(linux_boot_load(&gm, &a, &s, err, sizeof(err)), 0);
	assert_int_equal(s.rip, 0x1000040);
	assert_int_equal(s.gpr[GPR_RBX], BOOT_PVH_INFO_ADDR);
	assert_true(s.cr0 & CR0_PE);
	assert_false(s.cr0 & CR0_PG);
	assert_true(s.seg[SEG_CS].db);
	gmem_read(&gm, BOOT_PVH_INFO_ADDR, &magic, 4);
	assert_int_equal(magic, 0x336ec578);
	gmem_read(&gm, 0x1000000, &b, 1);
	assert_int_equal(b, 0xab);
	gmem_read(&gm, 0x1001800, &b, 1); /* bss is zeroed */
	assert_int_equal(b, 0);
	free(img);

	/* No PVH note: a clear refusal. */
	img = make_vmlinux(&a.kernel_size, 0);
	a.kernel = img;
	assert_true(linux_boot_load(&gm, &a, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "PVH"));
	/* Program headers out of the file. */
	((Elf64_Ehdr *)img)->e_phoff = 0x10000000;
	put32(img, 0x808, 18);
	assert_true(linux_boot_load(&gm, &a, &s, err, sizeof(err)) < 0);
	free(img);

	/* A segment outside guest RAM. */
	img = make_vmlinux(&a.kernel_size, 1);
	a.kernel = img;
	((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))->p_paddr = 0xf0000000;
	assert_true(linux_boot_load(&gm, &a, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "does not fit"));
	/* A segment past the end of the file. */
	((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))->p_paddr = 0x1000000;
	((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))->p_filesz = 0x100000;
	((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))->p_memsz = 0x100000;
	assert_true(linux_boot_load(&gm, &a, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "outside the file"));
	free(img);
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_load_bzimage),
		cmocka_unit_test(test_load_does_not_fit),
		cmocka_unit_test(test_pvh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
