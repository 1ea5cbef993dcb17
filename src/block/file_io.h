/* Host file I/O for the image drivers: full reads/writes, sizes, barriers. */
#ifndef WIRT_BLOCK_FILE_IO_H
#define WIRT_BLOCK_FILE_IO_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct block_dev;

/* Alignment of buffers, offsets and lengths for O_DIRECT files. */
#define FILE_DIRECT_ALIGN	4096

/* Read exactly len bytes; -EIO with a message if the file ends first. */
int file_pread_exact(int fd, void *buf, size_t len, uint64_t off);
/* Read len bytes; what lies past the end of the file reads as zeros. */
int file_pread_zero(int fd, void *buf, size_t len, uint64_t off);
/* Write exactly len bytes. */
int file_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Size of a regular file or block device in bytes. */
int file_size(int fd, uint64_t *size);
/* Bytes actually allocated on the host (st_blocks * 512). */
uint64_t file_allocated(int fd);
/* Make earlier writes durable before later ones, unless opened unsafe. */
int file_barrier(struct block_dev *bs);
/* Tell the host file system the range is no longer needed. */
void file_punch_hole(int fd, uint64_t off, uint64_t len);
/* True if len bytes at buf are all zero. */
bool buf_is_zero(const void *buf, size_t len);

/* Unaligned big- and little-endian loads and stores on byte buffers. */
static inline uint16_t get_be16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static inline uint32_t get_be32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static inline uint64_t get_be64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static inline void put_be16(void *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, 2);
}

static inline void put_be32(void *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static inline void put_be64(void *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static inline uint16_t get_le16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static inline uint32_t get_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t get_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline void put_le16(void *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static inline void put_le32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline void put_le64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static inline uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static inline uint64_t align_up(uint64_t a, uint64_t b)
{
	return div_round_up(a, b) * b;
}

#endif
