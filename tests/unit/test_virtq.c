/*
 * Split virtqueue device side against hostile drivers: chains that loop,
 * run past the queue, point outside guest RAM, nest indirect tables, put
 * readable buffers after writable ones, bad ring set-up; and the normal
 * paths (direct and indirect chains, used ring, event index).  Built with
 * AddressSanitizer: any access outside guest RAM fails the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "hw/virtio/virtq.h"
#include "vm/memory.h"

#define QSIZE   8
#define DESC    0x10000ull
#define AVAIL   0x11000ull
#define USED    0x12000ull
#define BUF     0x20000ull
#define INDIR   0x30000ull
#define RAM     (16ull << 20)

static struct guest_memory gm;
static struct virtq vq;
static struct virtq_elem elem;

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gmem_write(&gm, table + 16 * i, d, 16), 0);
}

/* Make head available as entry number idx (and publish idx + 1). */
static void make_avail(uint16_t idx, uint16_t head)
{
	uint16_t next = idx + 1;

	gmem_write(&gm, AVAIL + 4 + 2 * (idx % QSIZE), &head, 2);
	gmem_write(&gm, AVAIL + 2, &next, 2);
}

static int setup(void **state)
{
	assert_int_equal(gmem_init(&gm, RAM), 0);
	virtq_reset(&vq, &gm, 256);
	vq.size = QSIZE;
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	vq.indirect = true;
	assert_int_equal(virtq_enable(&vq), 0);
	return 0;
}

static int teardown(void **state)
{
	gmem_destroy(&gm);
	return 0;
}

static void test_simple_chain_and_used(void **state)
{
	uint8_t out[4] = "abcd";
	uint16_t used_idx;
	uint32_t used[2];

	gmem_write(&gm, BUF, out, 4);
	put_desc(DESC, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 3);
	put_desc(DESC, 3, BUF + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
	make_avail(0, 0);
	assert_true(virtq_has_work(&vq));
	assert_int_equal(virtq_pop(&vq, &elem), 1);
	assert_int_equal(elem.nout, 1);
	assert_int_equal(elem.nin, 1);
	assert_int_equal(elem.out_len, 4);
	assert_int_equal(elem.in_len, 16);
	assert_int_equal(virtq_copy_to_in(&elem, 0, "0123456789abcdefXYZ", 19), 16);
	virtq_push(&vq, &elem, 16);
	gmem_read(&gm, USED + 2, &used_idx, 2);
	gmem_read(&gm, USED + 4, used, 8);
	assert_int_equal(used_idx, 1);
	assert_int_equal(used[0], 0);
	assert_int_equal(used[1], 16);
	assert_int_equal(virtq_pop(&vq, &elem), 0);
	assert_true(virtq_should_notify(&vq));
}

static void test_loop_is_caught(void **state)
{
	put_desc(DESC, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	put_desc(DESC, 1, BUF, 4, VIRTQ_DESC_F_NEXT, 0);
	make_avail(0, 0);
	assert_int_equal(virtq_pop(&vq, &elem), -5);
	assert_true(vq.broken);
	/* A broken queue stays quiet until reset. */
	assert_int_equal(virtq_pop(&vq, &elem), -5);
	assert_false(virtq_has_work(&vq));
}

static void test_buffer_outside_ram(void **state)
{
	put_desc(DESC, 0, RAM - 2, 4, 0, 0);
	make_avail(0, 0);
	assert_int_equal(virtq_pop(&vq, &elem), -5);
}

static void test_buffer_wraps_address_space(void **state)
{
	put_desc(DESC, 0, UINT64_MAX - 1, 16, 0, 0);
	make_avail(0, 0);
	assert_int_equal(virtq_pop(&vq, &elem), -5);
}

static void test_next_outside_queue(void **state)
{
	put_desc(DESC, 0, BUF, 4, VIRTQ_DESC_F_NEXT, QSIZE);
	make_avail(0, 0);
	assert_int_equal(virtq_pop(&vq, &elem), -5);
}

static void test_head_outside_queue(void **state)
{
	make_avail(0, 200);
	assert_int_equal(virtq_pop(&vq, &elem), -5);
}

static void test_avail_index_jump(void **state)
{
	uint16_t idx = QSIZE + 5;

	gmem_write(&gm, AVAIL + 2, &idx, 2);
	assert_int_equal(virtq_pop(&vq, &elem), -5);
}

static void test_readable_after_writable(void **state)
{
	put_desc(DESC, 0, BUF, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	put_desc(DESC, 1, BUF, 4, 0, 0);
	make_avail(0, 0);
	assert_int_equal(virtq_pop(&vq, &elem), -5);
}

static void test_indirect_chain(void **state)
{
	put_desc(INDIR, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(INDIR, 1, BUF + 0x100, 512, VIRTQ_DESC_F_NEXT, 2);
	put_desc(INDIR, 2, BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	put_desc(DESC, 5, INDIR, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(0, 5);
	assert_int_equal(virtq_pop(&vq, &elem), 1);
	assert_int_equal(elem.head, 5);
	assert_int_equal(elem.nout, 2);
	assert_int_equal(elem.nin, 1);
	assert_int_equal(elem.out_len, 528);
}

static void test_indirect_abuse(void **state)
{
	static const struct {
		uint32_t len;
		uint16_t flags;
		uint16_t inner_flags;
		uint16_t inner_next;
	} cases[] = {
		{ 0, VIRTQ_DESC_F_INDIRECT, 0, 0 },                     /* empty */
		{ 20, VIRTQ_DESC_F_INDIRECT, 0, 0 },                    /* not 16*n */
		{ 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 0, 0 }, /* with NEXT */
		{ 32, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_INDIRECT, 0 }, /* nested */
		{ 32, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, 0 },     /* loop */
		{ 32, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, 7 },     /* next past end */
		{ 16 * 2000, VIRTQ_DESC_F_INDIRECT, 0, 0 },             /* too long */
	};
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		teardown(state);
		setup(state);
		put_desc(INDIR, 0, BUF, 4, cases[i].inner_flags, cases[i].inner_next);
		put_desc(INDIR, 1, BUF, 4, cases[i].inner_flags, cases[i].inner_next);
		put_desc(DESC, 0, INDIR, cases[i].len, cases[i].flags, 1);
		make_avail(0, 0);
		assert_int_equal(virtq_pop(&vq, &elem), -5);
	}
	teardown(state);
	setup(state);
	vq.indirect = false;     /* not negotiated */
	put_desc(INDIR, 0, BUF, 4, 0, 0);
	put_desc(DESC, 0, INDIR, 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(0, 0);
	assert_int_equal(virtq_pop(&vq, &elem), -5);
}

static void test_bad_ring_setup(void **state)
{
	struct virtq q;

	virtq_reset(&q, &gm, 256);
	q.size = 6;  /* not a power of two */
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	assert_int_equal(virtq_enable(&q), -22);
	q.size = 512;  /* more than offered */
	assert_int_equal(virtq_enable(&q), -22);
	q.size = 8;
	q.desc_gpa = DESC + 8;  /* misaligned */
	assert_int_equal(virtq_enable(&q), -22);
	q.desc_gpa = RAM - 64;  /* table runs past the end of RAM */
	assert_int_equal(virtq_enable(&q), -22);
	q.desc_gpa = 0xfffffffffffff000ull;
	assert_int_equal(virtq_enable(&q), -22);
	q.desc_gpa = DESC;
	assert_int_equal(virtq_enable(&q), 0);
}

static void test_event_idx(void **state)
{
	uint16_t used_event = 0, avail_event;

	vq.event_idx = true;
	put_desc(DESC, 0, BUF, 4, 0, 0);
	put_desc(DESC, 1, BUF, 4, 0, 0);
	make_avail(0, 0);
	assert_int_equal(virtq_pop(&vq, &elem), 1);
	/* avail_event tells the driver where we are. */
	gmem_read(&gm, USED + 4 + 8 * QSIZE, &avail_event, 2);
	assert_int_equal(avail_event, 1);
	gmem_write(&gm, AVAIL + 4 + 2 * QSIZE, &used_event, 2);
	virtq_push(&vq, &elem, 0);
	assert_true(virtq_should_notify(&vq));
	/* The driver asks for an interrupt only after entry 5. */
	used_event = 5;
	gmem_write(&gm, AVAIL + 4 + 2 * QSIZE, &used_event, 2);
	make_avail(1, 1);
	assert_int_equal(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	assert_false(virtq_should_notify(&vq));
}

static void test_too_many_segments(void **state)
{
	struct virtq q;
	unsigned i;

	/* A chain as long as the largest queue is still legal. */
	virtq_reset(&q, &gm, VIRTQ_MAX_SIZE);
	q.size = VIRTQ_MAX_SIZE;
	q.desc_gpa = 0x100000;
	q.avail_gpa = 0x110000;
	q.used_gpa = 0x120000;
	assert_int_equal(virtq_enable(&q), 0);
	for (i = 0; i < VIRTQ_MAX_SIZE; i++)
		put_desc(0x100000, i, BUF, 1,
			 i + 1 < VIRTQ_MAX_SIZE ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	{
		uint16_t head = 0, idx = 1;

		gmem_write(&gm, 0x110000 + 4, &head, 2);
		gmem_write(&gm, 0x110000 + 2, &idx, 2);
	}
	assert_int_equal(virtq_pop(&q, &elem), 1);
	assert_int_equal(elem.nout, VIRTQ_MAX_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_simple_chain_and_used, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_is_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_wraps_address_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_outside_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_outside_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_index_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_abuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ring_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_segments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
