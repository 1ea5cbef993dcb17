/*
 * The VM state stream: what save/restore and migration write and read.
 *
 *   header   "WIRTVMS\n", u32 format version, u32 0
 *   section  u32 "SECT", u8 name length, name, u32 instance, u32 version,
 *            u64 payload length, payload, u32 CRC-32 of the payload
 *   ...      the last section is named "end" and is empty
 *
 * Integers are little-endian.  Each device writes its own section with
 * its own version, so a newer wirt reads the sections of an older one and
 * refuses (by name) a section newer than it knows.  A reader checks every
 * length and CRC: a truncated or damaged stream is refused, never trusted.
 *
 * Writing: vmstate_begin ... vmstate_put_* ... vmstate_end per section;
 * errors are sticky (the first one is kept and later calls do nothing),
 * so callers check once, at vmstate_end or vmstate_out_finish.
 * Reading: vmstate_next_section, then vmstate_get_* from its payload;
 * reads past the end return zeros and set the error.
 */
#ifndef WIRT_MIGRATION_VMSTATE_H
#define WIRT_MIGRATION_VMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMSTATE_FORMAT_VERSION 1
#define VMSTATE_NAME_MAX 64

/* Where a stream goes or comes from: write or read exactly n bytes;
 * 0, -EPIPE at the end of the input, or negative errno. */
typedef int (*vmstate_io_fn)(void *opaque, void *p, size_t n);

#define VMSTATE_IOBUF (256u << 10)

struct vmstate_out {
	vmstate_io_fn write;
	void *opaque;
	int fd;
	int error;               /* first negative errno, sticky */
	uint8_t *iobuf;          /* small writes gather here */
	size_t iolen;
	uint64_t bytes;          /* written so far */
	/* The section being written: buffered, or streamed when its length
	 * was given in advance (RAM). */
	bool in_section, streamed;
	char name[VMSTATE_NAME_MAX + 1];
	uint32_t instance, version;
	uint64_t expect_len, stream_len;
	uint8_t *buf;
	size_t len, cap;
	uint32_t crc;
};

struct vmstate_in {
	vmstate_io_fn read;
	void *opaque;
	int fd;
	int error;
	char msg[160];           /* why the stream was refused */
	/* The current section. */
	char name[VMSTATE_NAME_MAX + 1];
	uint32_t instance, version;
	uint64_t len;
	/* Buffered payload (small sections) or streamed (vmstate_get_stream). */
	uint8_t *buf;
	size_t pos, cap;
	bool buffered;
	uint64_t streamed;       /* bytes taken by vmstate_get_stream */
	uint32_t crc;
};

/* Sections above this size are not buffered: read them with
 * vmstate_get_stream (the guest RAM). */
#define VMSTATE_BUFFER_MAX (16u << 20)

/* ---- writing ---- */

/* Write the header to fd (a file, pipe or socket), or through fn. */
void vmstate_out_init(struct vmstate_out *o, int fd);
void vmstate_out_init_fn(struct vmstate_out *o, vmstate_io_fn fn, void *opaque);
void vmstate_begin(struct vmstate_out *o, const char *name, uint32_t instance,
		   uint32_t version);
/* The same for a large section of exactly len bytes, written straight
 * through instead of buffered. */
void vmstate_begin_sized(struct vmstate_out *o, const char *name,
			 uint32_t instance, uint32_t version, uint64_t len);
void vmstate_put_u8(struct vmstate_out *o, uint8_t v);
void vmstate_put_u16(struct vmstate_out *o, uint16_t v);
void vmstate_put_u32(struct vmstate_out *o, uint32_t v);
void vmstate_put_u64(struct vmstate_out *o, uint64_t v);
void vmstate_put_bool(struct vmstate_out *o, bool v);
void vmstate_put_bytes(struct vmstate_out *o, const void *p, size_t n);
/* Returns 0 or the first error. */
int vmstate_end(struct vmstate_out *o);
/* Write the end section; 0 or the first error.  Frees the buffer. */
int vmstate_out_finish(struct vmstate_out *o);
void vmstate_out_free(struct vmstate_out *o);

/* ---- reading ---- */

/* Read and check the header: 0, or negative errno with in->msg set. */
int vmstate_in_init(struct vmstate_in *in, int fd);
int vmstate_in_init_fn(struct vmstate_in *in, vmstate_io_fn fn, void *opaque);
/*
 * Move to the next section (skipping what is left of the current one):
 * 1 with in->name etc. set, 0 at the end section, negative errno with
 * in->msg set.  Sections up to VMSTATE_BUFFER_MAX are read whole and
 * their CRC checked here.
 */
int vmstate_next_section(struct vmstate_in *in);
uint8_t vmstate_get_u8(struct vmstate_in *in);
uint16_t vmstate_get_u16(struct vmstate_in *in);
uint32_t vmstate_get_u32(struct vmstate_in *in);
uint64_t vmstate_get_u64(struct vmstate_in *in);
bool vmstate_get_bool(struct vmstate_in *in);
void vmstate_get_bytes(struct vmstate_in *in, void *p, size_t n);
/* Bytes of the buffered payload not read yet. */
size_t vmstate_left(const struct vmstate_in *in);
/* A large section: read n bytes straight from the stream (CRC checked
 * by vmstate_stream_done once all len bytes are read); a small one
 * (buffered) is read as vmstate_get_bytes does. */
int vmstate_get_stream(struct vmstate_in *in, void *p, size_t n);
int vmstate_stream_done(struct vmstate_in *in);
/* Record why the stream is refused (first message wins); returns err. */
int vmstate_fail(struct vmstate_in *in, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vmstate_in_free(struct vmstate_in *in);

#endif
