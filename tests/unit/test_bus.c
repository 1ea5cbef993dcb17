/* The device bus: registration, dispatch, unassigned accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hw/bus.h"

struct dev {
	uint64_t last_offset, last_value;
	unsigned writes;
};

static uint64_t dev_read(void *opaque, uint64_t offset, unsigned size)
{
	return 0x1000 + offset;
}

static void dev_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct dev *d = opaque;

	d->last_offset = offset;
	d->last_value = value;
	d->writes++;
}

static const struct io_ops dev_ops = { dev_read, dev_write };

static void test_dispatch(void **state)
{
	struct bus bus;
	struct dev a = { 0 }, b = { 0 };
	uint32_t v = 0;
	uint16_t w = 0xbeef;

	bus_init(&bus, "test");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, &dev_ops, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x60, 1, &dev_ops, &b, "b"), 0);
	assert_int_equal(bus_register(&bus, 0x3fc, 8, &dev_ops, &b, "overlap"), -17);
	assert_int_equal(bus_register(&bus, 0x3f0, 9, &dev_ops, &b, "overlap"), -17);
	assert_int_equal(bus_register(&bus, 0x3f0, 8, &dev_ops, &b, "adjacent"), 0);
	assert_int_equal(bus_register(&bus, UINT64_MAX, 2, &dev_ops, &b, "wrap"), -22);

	assert_int_equal(bus_read(&bus, 0x3fa, &v, 1), 1);
	assert_int_equal(v & 0xff, 0x02);
	assert_int_equal(bus_write(&bus, 0x3fd, &w, 2), 1);
	assert_int_equal(a.last_offset, 5);
	assert_int_equal(a.last_value, 0xbeef);

	/* An access running off the end of a range is unassigned. */
	v = 0;
	assert_int_equal(bus_read(&bus, 0x3fe, &v, 4), 0);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(bus_write(&bus, 0x1234, &w, 2), 0);

	assert_int_equal(bus_unregister(&bus, 0x3f8, &b), -2);
	assert_int_equal(bus_unregister(&bus, 0x3f8, &a), 0);
	assert_int_equal(bus_read(&bus, 0x3f8, &v, 1), 0);
	assert_int_equal(bus_read(&bus, 0x60, &v, 1), 1);
	bus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
