/* The VM state stream: sections with names, versions, lengths, CRCs (vmstate.h). */
#include "migration/vmstate.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char magic[8] = "WIRTVMS\n";
#define SECTION_MARK 0x54434553u /* "SECT" */

/* ---- raw I/O on a file, pipe or socket ---- */

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t r = write(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		b += r;
		n -= r;
	}
	return 0;
}

/* 0, -EPIPE at a short read (the stream ended), or -errno. */
static int read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		b += r;
		n -= r;
	}
	return 0;
}

static int fd_write(void *opaque, void *p, size_t n)
{
	return write_all(*(int *)opaque, p, n);
}

static int fd_read(void *opaque, void *p, size_t n)
{
	return read_all(*(int *)opaque, p, n);
}

/* ---- writing ---- */

static void out_flush(struct vmstate_out *o)
{
	int ret;

	if (o->error || !o->iolen)
		return;
	ret = o->write(o->opaque, o->iobuf, o->iolen);
	if (ret)
		o->error = ret;
	o->iolen = 0;
}

/* Small pieces gather in iobuf; large ones go straight through. */
static void out_raw(struct vmstate_out *o, const void *p, size_t n)
{
	int ret;

	if (o->error)
		return;
	o->bytes += n;
	if (o->iolen + n <= VMSTATE_IOBUF) {
		memcpy(o->iobuf + o->iolen, p, n);
		o->iolen += n;
		return;
	}
	out_flush(o);
	if (n < VMSTATE_IOBUF) {
		memcpy(o->iobuf, p, n);
		o->iolen = n;
		return;
	}
	ret = o->write(o->opaque, (void *)p, n);
	if (ret && !o->error)
		o->error = ret;
}

static void out_le32(struct vmstate_out *o, uint32_t v)
{
	v = htole32(v);
	out_raw(o, &v, 4);
}

static void out_le64(struct vmstate_out *o, uint64_t v)
{
	v = htole64(v);
	out_raw(o, &v, 8);
}

void vmstate_out_init(struct vmstate_out *o, int fd)
{
	/* The header waits in iobuf: opaque can still be set. */
	vmstate_out_init_fn(o, fd_write, NULL);
	o->fd = fd;
	o->opaque = &o->fd;
}

void vmstate_out_init_fn(struct vmstate_out *o, vmstate_io_fn fn, void *opaque)
{
	memset(o, 0, sizeof(*o));
	o->write = fn;
	o->opaque = opaque;
	o->iobuf = malloc(VMSTATE_IOBUF);
	if (!o->iobuf)
		o->error = -ENOMEM;
	out_raw(o, magic, sizeof(magic));
	out_le32(o, VMSTATE_FORMAT_VERSION);
	out_le32(o, 0);
}

static void section_header(struct vmstate_out *o, const char *name,
			   uint32_t instance, uint32_t version, uint64_t len)
{
	size_t nlen = strlen(name);
	uint8_t n8 = nlen;

	out_le32(o, SECTION_MARK);
	out_raw(o, &n8, 1);
	out_raw(o, name, nlen);
	out_le32(o, instance);
	out_le32(o, version);
	out_le64(o, len);
}

static void begin(struct vmstate_out *o, const char *name, uint32_t instance,
		  uint32_t version)
{
	if (!o->error && (o->in_section || strlen(name) > VMSTATE_NAME_MAX))
		o->error = -EINVAL;
	o->in_section = true;
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->instance = instance;
	o->version = version;
	o->len = 0;
	o->crc = crc32(0, NULL, 0);
}

void vmstate_begin(struct vmstate_out *o, const char *name, uint32_t instance,
		   uint32_t version)
{
	begin(o, name, instance, version);
	o->streamed = false;
}

void vmstate_begin_sized(struct vmstate_out *o, const char *name,
			 uint32_t instance, uint32_t version, uint64_t len)
{
	begin(o, name, instance, version);
	o->streamed = true;
	o->expect_len = len;
	o->stream_len = 0;
	section_header(o, name, instance, version, len);
}

void vmstate_put_bytes(struct vmstate_out *o, const void *p, size_t n)
{
	if (o->error || !n)
		return;
	if (!o->in_section) {
		o->error = -EINVAL;
		return;
	}
	if (o->streamed) {
		o->crc = crc32(o->crc, p, n);
		if (o->stream_len + n > o->expect_len) {
			o->error = -EOVERFLOW;
			return;
		}
		o->stream_len += n;
		out_raw(o, p, n);
		return;
	}
	if (o->len + n > o->cap) {
		size_t cap = o->cap * 2 > o->len + n ? o->cap * 2 : o->len + n;
		uint8_t *b = realloc(o->buf, cap);

		if (!b) {
			o->error = -ENOMEM;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	/* The sum of the copy: p may be RAM a running guest changes. */
	memcpy(o->buf + o->len, p, n);
	o->crc = crc32(o->crc, o->buf + o->len, n);
	o->len += n;
}

void vmstate_put_u8(struct vmstate_out *o, uint8_t v)
{
	vmstate_put_bytes(o, &v, 1);
}

void vmstate_put_u16(struct vmstate_out *o, uint16_t v)
{
	v = htole16(v);
	vmstate_put_bytes(o, &v, 2);
}

void vmstate_put_u32(struct vmstate_out *o, uint32_t v)
{
	v = htole32(v);
	vmstate_put_bytes(o, &v, 4);
}

void vmstate_put_u64(struct vmstate_out *o, uint64_t v)
{
	v = htole64(v);
	vmstate_put_bytes(o, &v, 8);
}

void vmstate_put_bool(struct vmstate_out *o, bool v)
{
	vmstate_put_u8(o, v);
}

int vmstate_end(struct vmstate_out *o)
{
	if (!o->in_section) {
		if (!o->error)
			o->error = -EINVAL;
		return o->error;
	}
	o->in_section = false;
	if (o->streamed) {
		if (!o->error && o->stream_len != o->expect_len)
			o->error = -EINVAL;
	} else {
		section_header(o, o->name, o->instance, o->version, o->len);
		out_raw(o, o->buf, o->len);
	}
	out_le32(o, o->crc);
	return o->error;
}

int vmstate_out_finish(struct vmstate_out *o)
{
	vmstate_begin(o, "end", 0, 1);
	vmstate_end(o);
	out_flush(o);
	vmstate_out_free(o);
	return o->error;
}

void vmstate_out_free(struct vmstate_out *o)
{
	free(o->buf);
	free(o->iobuf);
	o->buf = o->iobuf = NULL;
	o->cap = o->len = o->iolen = 0;
}

/* ---- reading ---- */

int vmstate_fail(struct vmstate_in *in, int err, const char *fmt, ...)
{
	va_list ap;

	if (!in->error) {
		in->error = err;
		va_start(ap, fmt);
		vsnprintf(in->msg, sizeof(in->msg), fmt, ap);
		va_end(ap);
	}
	return in->error;
}

static int in_raw(struct vmstate_in *in, void *p, size_t n, const char *what)
{
	int ret;

	if (in->error)
		return in->error;
	ret = in->read(in->opaque, p, n);
	if (ret == -EPIPE)
		return vmstate_fail(in, -EINVAL, "the state is truncated (in %s)", what);
	if (ret)
		return vmstate_fail(in, ret, "cannot read the state: %s", strerror(-ret));
	return 0;
}

static int read_header(struct vmstate_in *in);

int vmstate_in_init(struct vmstate_in *in, int fd)
{
	memset(in, 0, sizeof(*in));
	in->read = fd_read;
	in->fd = fd;
	in->opaque = &in->fd;
	return read_header(in);
}

int vmstate_in_init_fn(struct vmstate_in *in, vmstate_io_fn fn, void *opaque)
{
	memset(in, 0, sizeof(*in));
	in->read = fn;
	in->opaque = opaque;
	return read_header(in);
}

static int read_header(struct vmstate_in *in)
{
	uint8_t head[16];
	uint32_t version;

	if (in_raw(in, head, sizeof(head), "the header"))
		return in->error;
	if (memcmp(head, magic, sizeof(magic)))
		return vmstate_fail(in, -EINVAL, "this is not a wirt VM state (bad magic)");
	memcpy(&version, head + 8, 4);
	version = le32toh(version);
	if (version > VMSTATE_FORMAT_VERSION)
		return vmstate_fail(in, -ENOTSUP,
				    "the state's format version %u is newer than this wirt reads (%u): restore it with the wirt that saved it or a newer one",
				    version, VMSTATE_FORMAT_VERSION);
	if (version == 0)
		return vmstate_fail(in, -EINVAL, "the state's format version is 0 (damaged)");
	return 0;
}

/* Skip what the current section's reader left. */
static int skip_rest(struct vmstate_in *in)
{
	uint8_t tmp[4096];

	if (in->buffered || !in->name[0])
		return in->error;
	while (!in->error && in->streamed < in->len) {
		uint64_t n = in->len - in->streamed;

		vmstate_get_stream(in, tmp, n < sizeof(tmp) ? n : sizeof(tmp));
	}
	return vmstate_stream_done(in);
}

int vmstate_next_section(struct vmstate_in *in)
{
	uint32_t mark, crc;
	uint8_t nlen;

	if (skip_rest(in))
		return in->error;
	if (in_raw(in, &mark, 4, "a section header") ||
	    (le32toh(mark) != SECTION_MARK &&
	     vmstate_fail(in, -EINVAL, "the state is damaged: no section header after section '%s'",
			  in->name[0] ? in->name : "(header)")))
		return in->error;
	if (in_raw(in, &nlen, 1, "a section header"))
		return in->error;
	if (!nlen || nlen > VMSTATE_NAME_MAX)
		return vmstate_fail(in, -EINVAL, "the state is damaged: a section name of %u bytes", nlen);
	if (in_raw(in, in->name, nlen, "a section header") ||
	    in_raw(in, &in->instance, 4, "a section header") ||
	    in_raw(in, &in->version, 4, "a section header") ||
	    in_raw(in, &in->len, 8, "a section header"))
		return in->error;
	in->name[nlen] = 0;
	for (unsigned i = 0; i < nlen; i++)
		if (in->name[i] < 0x21 || in->name[i] > 0x7e)
			return vmstate_fail(in, -EINVAL, "the state is damaged: a section name with byte %#x",
					    (uint8_t)in->name[i]);
	in->instance = le32toh(in->instance);
	in->version = le32toh(in->version);
	in->len = le64toh(in->len);
	in->pos = 0;
	in->streamed = 0;
	in->crc = crc32(0, NULL, 0);
	in->buffered = in->len <= VMSTATE_BUFFER_MAX;
	if (!in->buffered)
		return 1;
	if (in->len > in->cap) {
		uint8_t *b = realloc(in->buf, in->len);

		if (!b)
			return vmstate_fail(in, -ENOMEM, "out of memory reading section '%s'", in->name);
		in->buf = b;
		in->cap = in->len;
	}
	if (in_raw(in, in->buf, in->len, in->name) || in_raw(in, &crc, 4, in->name))
		return in->error;
	if (le32toh(crc) != crc32(in->crc, in->buf, in->len))
		return vmstate_fail(in, -EINVAL, "the state is damaged: section '%s' fails its checksum",
				    in->name);
	if (!strcmp(in->name, "end"))
		return 0;
	return 1;
}

void vmstate_get_bytes(struct vmstate_in *in, void *p, size_t n)
{
	if (!in->error && (!in->buffered || n > in->len - in->pos))
		vmstate_fail(in, -EINVAL, "section '%s' (version %u) is shorter than this wirt expects",
			     in->name, in->version);
	if (in->error) {
		memset(p, 0, n);
		return;
	}
	memcpy(p, in->buf + in->pos, n);
	in->pos += n;
}

uint8_t vmstate_get_u8(struct vmstate_in *in)
{
	uint8_t v;

	vmstate_get_bytes(in, &v, 1);
	return v;
}

uint16_t vmstate_get_u16(struct vmstate_in *in)
{
	uint16_t v;

	vmstate_get_bytes(in, &v, 2);
	return le16toh(v);
}

uint32_t vmstate_get_u32(struct vmstate_in *in)
{
	uint32_t v;

	vmstate_get_bytes(in, &v, 4);
	return le32toh(v);
}

uint64_t vmstate_get_u64(struct vmstate_in *in)
{
	uint64_t v;

	vmstate_get_bytes(in, &v, 8);
	return le64toh(v);
}

bool vmstate_get_bool(struct vmstate_in *in)
{
	return vmstate_get_u8(in) != 0;
}

size_t vmstate_left(const struct vmstate_in *in)
{
	return in->buffered ? in->len - in->pos : in->len - in->streamed;
}

int vmstate_get_stream(struct vmstate_in *in, void *p, size_t n)
{
	if (in->buffered) {
		vmstate_get_bytes(in, p, n);
		return in->error;
	}
	if (!in->error && n > in->len - in->streamed)
		return vmstate_fail(in, -EINVAL, "section '%s' is shorter than this wirt expects",
				    in->name);
	if (in_raw(in, p, n, in->name))
		return in->error;
	in->crc = crc32(in->crc, p, n);
	in->streamed += n;
	return 0;
}

int vmstate_stream_done(struct vmstate_in *in)
{
	uint32_t crc;

	if (in->error)
		return in->error;
	if (in->buffered) {
		if (in->pos != in->len)
			return vmstate_fail(in, -EINVAL, "section '%s' has %zu bytes left over",
					    in->name, vmstate_left(in));
		return 0;
	}
	if (in->streamed != in->len)
		return vmstate_fail(in, -EINVAL, "section '%s' has %llu bytes left over",
				    in->name, (unsigned long long)(in->len - in->streamed));
	if (in_raw(in, &crc, 4, in->name))
		return in->error;
	if (le32toh(crc) != in->crc)
		return vmstate_fail(in, -EINVAL, "the state is damaged: section '%s' fails its checksum",
				    in->name);
	in->buffered = true; /* done: nothing left to skip */
	in->pos = in->len = 0;
	return 0;
}

void vmstate_in_free(struct vmstate_in *in)
{
	free(in->buf);
	in->buf = NULL;
	in->cap = 0;
}
