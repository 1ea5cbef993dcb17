/*
 * qcow2 metadata cache: a few cluster-sized tables (L2 tables or refcount
 * blocks) kept in memory.  It is write-through: callers write every change
 * to the file themselves, so evicting an entry never needs a write-back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block/file_io.h"
#include "block/qcow2.h"

static struct qcow2_cache_entry *find(struct qcow2_cache *c, uint64_t offset)
{
	int i;

	for (i = 0; i < QCOW2_CACHE_SIZE; i++)
		if (c->e[i].offset == offset && c->e[i].data)
			return &c->e[i];
	return NULL;
}

/* A free slot, or the least recently used one, with a buffer. */
static struct qcow2_cache_entry *victim(struct qcow2 *s, struct qcow2_cache *c)
{
	struct qcow2_cache_entry *v = &c->e[0];
	int i;

	for (i = 0; i < QCOW2_CACHE_SIZE; i++) {
		if (!c->e[i].offset) {
			v = &c->e[i];
			break;
		}
		if (c->e[i].used < v->used)
			v = &c->e[i];
	}
	if (!v->data)
		v->data = malloc(s->cluster_size);
	v->offset = 0;
	return v->data ? v : NULL;
}

int qcow2_cache_get(struct block_dev *bs, struct qcow2_cache *c,
		    uint64_t offset, uint8_t **data)
{
	struct qcow2 *s = bs->opaque;
	struct qcow2_cache_entry *e = find(c, offset);
	int ret;

	if (!e) {
		e = victim(s, c);
		if (!e)
			return -ENOMEM;
		ret = file_pread_exact(bs->fd, e->data, s->cluster_size, offset);
		if (ret == -EIO)
			return qcow2_corrupt(bs, "metadata table at 0x%llx lies "
					     "past the end of the file",
					     (unsigned long long)offset);
		if (ret < 0)
			return ret;
		e->offset = offset;
	}
	e->used = ++c->tick;
	*data = e->data;
	return 0;
}

/* Cache a table that is about to be written fresh; returned zeroed. */
uint8_t *qcow2_cache_new(struct block_dev *bs, struct qcow2_cache *c,
			 uint64_t offset)
{
	struct qcow2 *s = bs->opaque;
	struct qcow2_cache_entry *e = find(c, offset);

	if (!e)
		e = victim(s, c);
	if (!e)
		return NULL;
	memset(e->data, 0, s->cluster_size);
	e->offset = offset;
	e->used = ++c->tick;
	return e->data;
}

void qcow2_cache_drop(struct qcow2_cache *c, uint64_t offset)
{
	struct qcow2_cache_entry *e = find(c, offset);

	if (e)
		e->offset = 0;
}

void qcow2_cache_free(struct qcow2_cache *c)
{
	int i;

	for (i = 0; i < QCOW2_CACHE_SIZE; i++) {
		free(c->e[i].data);
		c->e[i].data = NULL;
		c->e[i].offset = 0;
	}
}
