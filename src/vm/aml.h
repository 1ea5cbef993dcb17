/*
 * A small AML (ACPI Machine Language, ACPI 6 chapter 20) encoder for the
 * DSDT: names, integers, strings, packages, buffers, scopes and devices.
 * Containers are opened with aml_open and closed with aml_close, which
 * writes their PkgLength in the shortest form.
 */
#ifndef WIRT_VM_AML_H
#define WIRT_VM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX 8192

struct aml {
	uint8_t data[AML_MAX];
	size_t len;
	bool overflow;       /* something did not fit: the table is unusable */
};

#define AML_NAME_OP    0x08
#define AML_SCOPE_OP   0x10
#define AML_BUFFER_OP  0x11
#define AML_PACKAGE_OP 0x12

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);
/* A name: "_SB_", "PCI0", or a root path "\\_SB_" (segments of 4). */
void aml_name(struct aml *a, const char *name);
/* Name(NAME, ...) : the caller then appends the object. */
void aml_name_decl(struct aml *a, const char *name);
void aml_integer(struct aml *a, uint64_t v);
/* EisaId("PNP0A03"): a compressed 32-bit vendor/product ID. */
void aml_eisaid(struct aml *a, const char *id);

/*
 * Open a container: op is AML_SCOPE_OP, AML_BUFFER_OP, AML_PACKAGE_OP, or
 * 0x5b82 for Device (ExtOpPrefix + DeviceOp).  Returns a handle for
 * aml_close.
 */
size_t aml_open(struct aml *a, unsigned op);
void aml_close(struct aml *a, size_t handle);

#endif
