/* AML encoding (see aml.h); byte values from the ACPI 6 specification. */
#include "vm/aml.h"

#include <string.h>

#define PKGLEN_RESERVE 4

void aml_byte(struct aml *a, uint8_t b)
{
	if (a->len >= AML_MAX) {
		a->overflow = true;
		return;
	}
	a->data[a->len++] = b;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		aml_byte(a, *b++);
}

void aml_name(struct aml *a, const char *name)
{
	size_t n;

	if (*name == '\\')
		aml_byte(a, *name++);
	n = strlen(name);
	/* One segment, or a dual-name path of two. */
	if (n == 8)
		aml_byte(a, 0x2e);
	aml_bytes(a, name, n);
}

void aml_name_decl(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, name);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0 || v == 1) {
		aml_byte(a, v);         /* ZeroOp, OneOp */
	} else if (v <= 0xff) {
		aml_byte(a, 0x0a);
		aml_byte(a, v);
	} else if (v <= 0xffff) {
		aml_byte(a, 0x0b);
		aml_bytes(a, &(uint16_t){ v }, 2);
	} else if (v <= 0xffffffffull) {
		aml_byte(a, 0x0c);
		aml_bytes(a, &(uint32_t){ v }, 4);
	} else {
		aml_byte(a, 0x0e);
		aml_bytes(a, &v, 8);
	}
}

static unsigned hex_digit(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint16_t vendor = ((id[0] - 0x40) & 0x1f) << 10 |
			  ((id[1] - 0x40) & 0x1f) << 5 | ((id[2] - 0x40) & 0x1f);
	uint16_t product = hex_digit(id[3]) << 12 | hex_digit(id[4]) << 8 |
			   hex_digit(id[5]) << 4 | hex_digit(id[6]);
	/* Both halves are stored big-endian. */
	uint8_t b[4] = { vendor >> 8, vendor, product >> 8, product };

	aml_byte(a, 0x0c);
	aml_bytes(a, b, 4);
}

size_t aml_open(struct aml *a, unsigned op)
{
	size_t at;

	if (op > 0xff)
		aml_byte(a, op >> 8);
	aml_byte(a, op);
	at = a->len;
	for (int i = 0; i < PKGLEN_RESERVE; i++)
		aml_byte(a, 0);
	return at;
}

void aml_close(struct aml *a, size_t at)
{
	size_t body, total;
	unsigned n;

	if (a->overflow)
		return;
	body = a->len - at - PKGLEN_RESERVE;
	/* PkgLength counts its own bytes. */
	if (body + 1 < 0x40)
		n = 1;
	else if (body + 2 < 0x1000)
		n = 2;
	else if (body + 3 < 0x100000)
		n = 3;
	else
		n = 4;
	total = body + n;
	if (n == 1) {
		a->data[at] = total;
	} else {
		a->data[at] = (n - 1) << 6 | (total & 0xf);
		for (unsigned i = 1; i < n; i++)
			a->data[at + i] = total >> (4 + 8 * (i - 1));
	}
	memmove(a->data + at + n, a->data + at + PKGLEN_RESERVE, body);
	a->len -= PKGLEN_RESERVE - n;
}
