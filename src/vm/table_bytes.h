/* Building firmware tables (ACPI, MP, SMBIOS): little-endian stores and
 * the checksum byte that makes a table's bytes sum to zero. */
#ifndef WIRT_VM_TABLE_BYTES_H
#define WIRT_VM_TABLE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static inline uint8_t table_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

#endif
