/*
 * The emulator's decoder against Zydis: instruction length and validity on
 * random byte streams biased towards prefixes and the opcode maps, in 64-,
 * 32- and 16-bit code, and on every instruction of a real program (the
 * busybox binary).  Only legacy-encoded instructions are compared: wirt
 * does not implement VEX/EVEX (AVX) and does not advertise it.
 *
 * Also: an instruction cut short (its bytes run into a page that cannot be
 * fetched) must ask for more bytes (-2, then the fetch's page fault), never
 * be undefined (-1, #UD), wherever the cut falls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <Zydis/Zydis.h>

#include "accel/emu/emu.h"
#include "util/file.h"

static struct emu_cpu *cpu;
static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A byte stream that starts like an instruction: prefixes, REX, maps. */
static void random_stream(uint8_t *b, unsigned len, bool lm)
{
	static const uint8_t prefixes[] = { 0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e,
					    0x26, 0x64, 0x65, 0x36 };
	unsigned n = 0, np = rnd() % 4;

	for (unsigned i = 0; i < len; i++)
		b[i] = rnd();
	for (unsigned i = 0; i < np && n < len - 4; i++)
		b[n++] = prefixes[rnd() % sizeof(prefixes)];
	if (lm && rnd() % 2)
		b[n++] = 0x40 | (rnd() & 0xf);
	switch (rnd() % 4) {
	case 0: case 1:
		b[n++] = 0x0f;
		if (rnd() % 4 == 0)
			b[n++] = rnd() % 2 ? 0x38 : 0x3a;
		break;
	default:
		break;
	}
}

struct mode {
	unsigned code_size;
	ZydisMachineMode zmode;
	ZydisStackWidth zstack;
	const char *name;
};

static const struct mode modes[] = {
	{ 8, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64, "64-bit" },
	{ 4, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32, "32-bit" },
	{ 2, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16, "16-bit" },
};

/* 1 if compared and agreeing, 0 if not comparable, -1 on a mismatch. */
static int compare_one(const ZydisDecoder *z, const uint8_t *b, unsigned len,
		       unsigned *zlen_out)
{
	ZydisDecoderContext ctx;
	ZydisDecodedInstruction zi;
	struct insn in;
	int r;

	*zlen_out = 0;
	if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(z, &ctx, b, len, &zi)))
		return 0;
	*zlen_out = zi.length;
	if (zi.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY)
		return 0;
	r = emu_decode(cpu, b, len, &in);
	if (r == 0 && in.len == zi.length)
		return 1;
	/* Instructions wirt treats as undefined (#UD) are allowed to stop
	 * early: 3DNow!, VMX/SMX, MMX-only forms are not implemented. */
	if (r == -1)
		return 0;
	print_error("decode mismatch (%s): bytes %02x %02x %02x %02x %02x %02x %02x %02x: zydis len %u, wirt %d/%u\n",
		    cpu->code_size == 8 ? "64" : cpu->code_size == 4 ? "32" : "16",
		    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], zi.length, r, in.len);
	return -1;
}

/* Every cut of a valid instruction of len bytes wants more bytes: 0 if so,
 * -1 (printed) if a cut decodes otherwise. */
static int check_cuts(const uint8_t *b, unsigned len)
{
	struct insn in;

	for (unsigned avail = 0; avail < len; avail++) {
		int r = emu_decode(cpu, b, avail, &in);
		if (r != -2) {
			print_error("cut after %u of %u bytes (%s): %d, not -2: %02x %02x %02x %02x %02x %02x %02x %02x\n",
				    avail, len, cpu->code_size == 8 ? "64" : cpu->code_size == 4 ? "32" : "16",
				    r, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
			return -1;
		}
	}
	return 0;
}

/* Checked on random streams: cut short, an instruction wirt decodes is
 * never #UD (a displacement across the page end was: SIGILL in Debian). */
static void test_cut_instructions_want_more_bytes(void **state)
{
	unsigned checked = 0, failures = 0;

	for (unsigned m = 0; m < 3; m++) {
		cpu->code_size = modes[m].code_size;
		for (unsigned i = 0; i < 200000; i++) {
			uint8_t b[16];
			struct insn in;

			random_stream(b, sizeof(b), modes[m].code_size == 8);
			if (emu_decode(cpu, b, 15, &in))
				continue;
			checked++;
			if (check_cuts(b, in.len) && failures++ > 20)
				fail();
		}
	}
	/* The form that was found in Debian: a disp32 across the page end. */
	{
		static const uint8_t movdisp[] = { 0x48, 0x8b, 0x84, 0x24, 0x10, 0x01, 0x00, 0x00 };
		cpu->code_size = 8;
		if (check_cuts(movdisp, sizeof(movdisp)))
			failures++;
	}
	print_message("%u random instructions checked cut at every byte\n", checked);
	assert_int_equal(failures, 0);
	assert_true(checked > 100000);
}

static void test_random_streams(void **state)
{
	unsigned compared = 0, failures = 0;

	for (unsigned m = 0; m < 3; m++) {
		ZydisDecoder z;
		ZydisDecoderInit(&z, modes[m].zmode, modes[m].zstack);
		cpu->code_size = modes[m].code_size;
		for (unsigned i = 0; i < 200000; i++) {
			uint8_t b[16];
			unsigned zlen;
			int r;
			random_stream(b, sizeof(b), modes[m].code_size == 8);
			r = compare_one(&z, b, sizeof(b), &zlen);
			if (r > 0)
				compared++;
			else if (r < 0 && failures++ > 20)
				fail();
		}
	}
	print_message("%u random instructions agree with Zydis\n", compared);
	assert_int_equal(failures, 0);
	assert_true(compared > 100000);
}

/* Find .text in an ELF64 file. */
static bool elf_text(const uint8_t *p, size_t size, size_t *off, size_t *len)
{
	uint64_t shoff;
	uint16_t shentsize, shnum, shstrndx;
	const uint8_t *strtab;

	if (size < 64 || memcmp(p, "\177ELF", 4) || p[4] != 2)
		return false;
	memcpy(&shoff, p + 40, 8);
	memcpy(&shentsize, p + 58, 2);
	memcpy(&shnum, p + 60, 2);
	memcpy(&shstrndx, p + 62, 2);
	if (shoff + (uint64_t)shnum * shentsize > size || shstrndx >= shnum)
		return false;
	{
		uint64_t stroff;
		memcpy(&stroff, p + shoff + shstrndx * shentsize + 24, 8);
		strtab = p + stroff;
	}
	for (unsigned i = 0; i < shnum; i++) {
		const uint8_t *sh = p + shoff + i * shentsize;
		uint32_t name;
		uint64_t o, l;
		memcpy(&name, sh, 4);
		if (strcmp((const char *)strtab + name, ".text"))
			continue;
		memcpy(&o, sh + 24, 8);
		memcpy(&l, sh + 32, 8);
		if (o + l > size)
			return false;
		*off = o;
		*len = l;
		return true;
	}
	return false;
}

static void test_busybox_text(void **state)
{
	const char *path = "/bin/busybox";
	ZydisDecoder z;
	void *data;
	size_t size, off, len, pos;
	unsigned compared = 0, failures = 0;

	if (file_read_all(path, 64 << 20, &data, &size)) {
		skip();
		return;
	}
	assert_true(elf_text(data, size, &off, &len));
	ZydisDecoderInit(&z, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	cpu->code_size = 8;
	for (pos = 0; pos < len;) {
		unsigned zlen, avail = len - pos < 15 ? len - pos : 15;
		int r = compare_one(&z, (uint8_t *)data + off + pos, avail, &zlen);
		if (r > 0)
			compared++;
		else if (r < 0 && failures++ > 20)
			break;
		pos += zlen ? zlen : 1;
	}
	free(data);
	print_message("%u busybox instructions agree with Zydis\n", compared);
	assert_int_equal(failures, 0);
	assert_true(compared > 100000);
}

static int setup(void **state)
{
	cpu = aligned_alloc(_Alignof(struct emu_cpu), sizeof(*cpu));
	if (!cpu)
		return -1;
	memset(cpu, 0, sizeof(*cpu));
	return 0;
}

static int teardown(void **state)
{
	free(cpu);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_streams),
		cmocka_unit_test(test_cut_instructions_want_more_bytes),
		cmocka_unit_test(test_busybox_text),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
