/* Runtime directories (control/runtime_dir.c): names, claims, locks, stale ones. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/runtime_dir.h"

static char base[64];

static int setup(void **state)
{
	strcpy(base, "/tmp/wirt-rt-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	setenv("WIRT_RUNTIME_DIR", base, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_names(void **state)
{
	char long_name[VM_NAME_MAX + 2];

	assert_true(vm_name_valid("web"));
	assert_true(vm_name_valid("a.b-c_d9"));
	assert_true(vm_name_valid("9lives"));
	assert_false(vm_name_valid(""));
	assert_false(vm_name_valid(".hidden"));
	assert_false(vm_name_valid("-x"));
	assert_false(vm_name_valid("a/b"));
	assert_false(vm_name_valid("a b"));
	assert_false(vm_name_valid("ä"));
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	assert_false(vm_name_valid(long_name));
	long_name[VM_NAME_MAX] = 0;
	assert_true(vm_name_valid(long_name));
}

/* runtime_dir_check from another process (a process's own POSIX lock
 * never conflicts with itself): the pid it reports, as an exit status
 * 0 (stale), 1 (our pid) or 2 (something else). */
static int check_from_child(const char *dir)
{
	pid_t parent = getpid(), child = fork(), got;
	int status;

	if (child == 0) {
		got = runtime_dir_check(dir);
		_exit(got == 0 ? 0 : got == parent ? 1 : 2);
	}
	waitpid(child, &status, 0);
	return WEXITSTATUS(status);
}

static void test_claim_and_release(void **state)
{
	char dir[256], path[300], buf[32] = "";
	FILE *f;

	assert_int_equal(runtime_dir_claim("vm1", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/vm1", base);
	assert_string_equal(dir, path);
	assert_int_equal(runtime_dir_write_info("{\"name\":\"vm1\"}"), 0);
	assert_int_equal(check_from_child(dir), 1);
	/* The pid file says who; read in a child, since closing any file
	 * descriptor of the pid file would drop this process's lock. */
	snprintf(path, sizeof(path), "%s/pid", dir);
	pid_t parent = getpid(), child = fork();
	int status;

	if (child == 0) {
		f = fopen(path, "r");
		_exit(f && fgets(buf, sizeof(buf), f) && atoi(buf) == parent ? 0 : 1);
	}
	waitpid(child, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(check_from_child(dir), 1);
	runtime_dir_release();
	assert_int_equal(access(dir, F_OK), -1);
}

static void test_stale_directory(void **state)
{
	char dir[256];
	pid_t child = fork();
	int status;

	if (child == 0)   /* claims and dies without cleaning up */
		_exit(runtime_dir_claim("gone", dir, sizeof(dir)) ? 1 : 0);
	waitpid(child, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	snprintf(dir, sizeof(dir), "%s/gone", base);
	assert_int_equal(access(dir, F_OK), 0);
	assert_int_equal(check_from_child(dir), 0);
	assert_int_equal(access(dir, F_OK), -1);   /* cleaned */
	/* A stale directory does not keep the name from a new claim. */
	child = fork();
	if (child == 0)
		_exit(runtime_dir_claim("gone2", dir, sizeof(dir)) ? 1 : 0);
	waitpid(child, &status, 0);
	assert_int_equal(runtime_dir_claim("gone2", dir, sizeof(dir)), 0);
	runtime_dir_release();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_claim_and_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_directory, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
