/* `wirt run` option parsing: good values accepted, bad ones refused clearly. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run_options.h"
#include "util/parse.h"

static int parse(struct vm_config *cfg, char *err, const char *first, ...)
{
	char *argv[32] = { "run" };
	int argc = 1;
	struct run_flags flags;
	FILE *devnull = fopen("/dev/null", "w");
	va_list ap;
	const char *a;
	int ret;

	va_start(ap, first);
	for (a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	err[0] = 0;
	ret = run_options_parse(argc, argv, cfg, &flags, devnull, err, 256);
	fclose(devnull);
	return ret;
}

static void test_defaults_and_values(void **state)
{
	struct vm_config cfg;
	char err[256];

	assert_int_equal(parse(&cfg, err, "--kernel", "k", NULL), 0);
	assert_int_equal(cfg.memory, 512ULL << 20);
	assert_int_equal(cfg.cpus, 1);
	assert_int_equal(cfg.accel, ACCEL_AUTO);
	assert_string_equal(cfg.kernel, "k");

	assert_int_equal(parse(&cfg, err, "--accel", "emu", "--memory", "2G",
			       "--cpus", "4", "--kernel", "k", "--initrd", "i",
			       "--append", "console=ttyS0 quiet", "--no-reboot",
			       "--disk", "a.img,readonly=on", "--disk", "b.img", NULL), 0);
	assert_int_equal(cfg.accel, ACCEL_EMU);
	assert_false(cfg.jit_off);
	assert_int_equal(cfg.memory, 2ULL << 30);
	assert_int_equal(cfg.cpus, 4);
	assert_string_equal(cfg.initrd, "i");
	assert_string_equal(cfg.append, "console=ttyS0 quiet");
	assert_true(cfg.no_reboot);
	assert_int_equal(cfg.ndisks, 2);
	assert_string_equal(cfg.disks[0].spec, "a.img,readonly=on");

	/* The emulator's engine: the translator unless jit=off. */
	assert_int_equal(parse(&cfg, err, "--accel", "emu,jit=off", "--kernel", "k", NULL), 0);
	assert_int_equal(cfg.accel, ACCEL_EMU);
	assert_true(cfg.jit_off);
	assert_int_equal(parse(&cfg, err, "--accel", "emu,jit=on", "--kernel", "k", NULL), 0);
	assert_false(cfg.jit_off);

	/* A bare number of megabytes, as QEMU users type it. */
	assert_int_equal(parse(&cfg, err, "-m", "768", "-f", "fw.bin", NULL), 0);
	assert_int_equal(cfg.memory, 768ULL << 20);
	assert_string_equal(cfg.firmware, "fw.bin");
}

static void expect_error(const char *needle, const char *a, const char *b,
			 const char *c, const char *d)
{
	struct vm_config cfg;
	char err[256];

	assert_int_equal(parse(&cfg, err, a, b, c, d, NULL), -22);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_bad_values(void **state)
{
	expect_error("--accel", "--accel", "xen", "--kernel", "k");
	expect_error("--accel", "--accel", "emu,jit=maybe", "--kernel", "k");
	expect_error("--memory", "--memory", "lots", "--kernel", "k");
	expect_error("--memory", "--memory", "1M", "--kernel", "k");
	expect_error("--memory", "--memory", "2T", "--kernel", "k");
	expect_error("--memory", "--memory", "512X", "--kernel", "k");
	expect_error("--memory", "--memory", "-1G", "--kernel", "k");
	expect_error("--memory", "--memory", "99999999999999999999G", "--kernel", "k");
	expect_error("whole number of MiB", "--memory", "1048577K", "--kernel", "k");
	expect_error("--cpus", "--cpus", "0", "--kernel", "k");
	expect_error("--cpus", "--cpus", "65", "--kernel", "k");
	expect_error("--cpus", "--cpus", "two", "--kernel", "k");
	expect_error("--cpus", "--cpus", "1.5", "--kernel", "k");
	expect_error("unknown option", "--frobnicate", "--kernel", "k", NULL);
	expect_error("needs a value", "--kernel", NULL, NULL, NULL);
	expect_error("nothing to boot", "--memory", "1G", NULL, NULL);
	expect_error("--initrd needs --kernel", "--initrd", "i", "--firmware", "f");
	expect_error("unexpected argument", "--kernel", "k", "stray", NULL);
	expect_error("--kernel needs a file", "--kernel", "", NULL, NULL);
}

/* --firmware bios is $WIRT_SEABIOS (or Debian's path); missing, the
 * error names the package; any other name is a file. */
static void test_firmware_bios(void **state)
{
	struct vm_config cfg;
	char err[256];

	setenv("WIRT_SEABIOS", "/dev/null", 1);
	assert_int_equal(parse(&cfg, err, "--firmware", "bios", NULL), 0);
	assert_string_equal(cfg.firmware, "/dev/null");
	assert_true(cfg.firmware_bios);
	setenv("WIRT_SEABIOS", "/nonexistent/bios.bin", 1);
	assert_int_equal(parse(&cfg, err, "--firmware", "bios", NULL), -22);
	assert_non_null(strstr(err, "seabios"));
	assert_non_null(strstr(err, "/nonexistent/bios.bin"));
	assert_int_equal(parse(&cfg, err, "--firmware", "./bios", NULL), 0);
	assert_string_equal(cfg.firmware, "./bios");
	assert_false(cfg.firmware_bios);
	unsetenv("WIRT_SEABIOS");
}

static void test_help(void **state)
{
	struct vm_config cfg;
	char err[256];

	assert_int_equal(parse(&cfg, err, "--help", NULL), 1);
}

static void test_sandbox_and_runas(void **state)
{
	char *on[] = { "run", "--kernel", "k", NULL };
	char *off[] = { "run", "--kernel", "k", "--sandbox", "off", "--runas", "nobody", NULL };
	char *bad[] = { "run", "--kernel", "k", "--sandbox", "no", NULL };
	char *empty[] = { "run", "--kernel", "k", "--runas", "", NULL };
	struct vm_config cfg;
	struct run_flags flags;
	char err[256];

	assert_int_equal(run_options_parse(3, on, &cfg, &flags, stdout, err, 256), 0);
	assert_false(flags.no_sandbox);
	assert_null(flags.runas);
	assert_int_equal(run_options_parse(7, off, &cfg, &flags, stdout, err, 256), 0);
	assert_true(flags.no_sandbox);
	assert_string_equal(flags.runas, "nobody");
	assert_int_equal(run_options_parse(5, bad, &cfg, &flags, stdout, err, 256), -22);
	assert_string_equal(err, "--sandbox 'no': choose on or off");
	assert_int_equal(run_options_parse(5, empty, &cfg, &flags, stdout, err, 256), -22);
	assert_string_equal(err, "--runas needs a user name");
}

static void test_parse_size(void **state)
{
	uint64_t v;

	assert_int_equal(parse_size("4096", 0, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("1K", 0, &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(parse_size("3MiB", 0, &v), 0);
	assert_int_equal(v, 3 << 20);
	assert_int_equal(parse_size("2gb", 0, &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(parse_size("1T", 0, &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(parse_size("", 0, &v), -22);
	assert_int_equal(parse_size("G", 0, &v), -22);
	assert_int_equal(parse_size("1.5G", 0, &v), -22);
	assert_int_equal(parse_size("1BB", 0, &v), -22);
	assert_int_equal(parse_size("16E", 0, &v), -34);
	assert_int_equal(parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -34);
}

/* --name, --qmp, --shutdown-timeout; QEMU's options get a hint. */
static void test_control_options(void **state)
{
	char *argv[] = { "run", "--name", "web-1.test", "--qmp", "/tmp/q.sock",
			 "--shutdown-timeout", "3", "--kernel", "k" };
	struct vm_config cfg;
	struct run_flags flags;
	char err[256];

	assert_int_equal(run_options_parse(9, argv, &cfg, &flags, stdout, err,
					   sizeof(err)), 0);
	assert_string_equal(flags.name, "web-1.test");
	assert_string_equal(flags.qmp, "/tmp/q.sock");
	assert_int_equal(flags.shutdown_timeout, 3);
	assert_int_equal(parse(&cfg, err, "--kernel", "k", NULL), 0);

	assert_int_equal(parse(&cfg, err, "--name", "a/b", "--kernel", "k", NULL), -EINVAL);
	assert_non_null(strstr(err, "--name"));
	assert_int_equal(parse(&cfg, err, "--name", "-x", "--kernel", "k", NULL), -EINVAL);
	assert_int_equal(parse(&cfg, err, "--shutdown-timeout", "-1", "--kernel", "k",
			       NULL), -EINVAL);
	assert_int_equal(parse(&cfg, err, "-nographic", "--kernel", "k", NULL), -EINVAL);
	assert_non_null(strstr(err, "QEMU option"));
	assert_null(strstr(err, "network"));
	assert_int_equal(parse(&cfg, err, "-kernel", "bzImage", NULL), -EINVAL);
	assert_non_null(strstr(err, "--kernel"));
	assert_int_equal(parse(&cfg, err, "-smp", "2", "--kernel", "k", NULL), -EINVAL);
	assert_non_null(strstr(err, "--cpus"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_firmware_bios),
		cmocka_unit_test(test_sandbox_and_runas),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_control_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
