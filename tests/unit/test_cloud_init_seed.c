/*
 * The --cloud-init seed: option parsing (key list, seed directory, the
 * errors users get), and the FAT volume vfat_write makes, read back here
 * through the on-disk structures (boot sector, FAT12 chains, long names
 * and their checksums) and checked by dosfstools' fsck.fat and mtools'
 * mtype, the Debian tools, as another reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "block/vfat_writer.h"
#include "vm/cloud_init.h"

static char dir[] = "/tmp/wirt-ci-test-XXXXXX";

static void put_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	put_file("user-data", "#cloud-config\nhostname: seeded\n");
	put_file("network-config", "version: 2\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_options(void **state)
{
	struct cloud_init_config c = { 0 };
	char err[256], arg[512];

	(void)state;
	snprintf(arg, sizeof(arg), "user-data=%s/user-data,network-config=%s/network-config",
		 dir, dir);
	assert_int_equal(cloud_init_parse_option(&c, arg, err, sizeof(err)), 0);
	assert_true(c.set);
	assert_non_null(c.paths[CLOUD_INIT_USER_DATA]);
	assert_non_null(c.paths[CLOUD_INIT_NETWORK_CONFIG]);
	assert_null(c.paths[CLOUD_INIT_META_DATA]);
	/* once only */
	assert_int_equal(cloud_init_parse_option(&c, arg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "once"));

	/* a seed directory: the files of the known names it has */
	memset(&c, 0, sizeof(c));
	assert_int_equal(cloud_init_parse_option(&c, dir, err, sizeof(err)), 0);
	assert_non_null(strstr(c.paths[CLOUD_INIT_USER_DATA], "/user-data"));
	assert_non_null(strstr(c.paths[CLOUD_INIT_NETWORK_CONFIG], "/network-config"));
	assert_null(c.paths[CLOUD_INIT_VENDOR_DATA]);
}

static void test_bad_options(void **state)
{
	static const struct {
		const char *arg, *says;
	} bad[] = {
		{ "", "user-data=FILE" },
		{ "meta-data=/etc/hostname", "user-data=FILE is required" },
		{ "user-data=/etc/hostname,userdata=/x", "unknown key 'userdata=/x'" },
		{ "user-data=", "needs a file name" },
		{ "user-data=/nonexistent/u", "No such file" },
		{ "/nonexistent-dir", "not a directory" },
		{ "/etc", "has no user-data" },
	};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cloud_init_config c = { 0 };

		err[0] = 0;
		assert_int_equal(cloud_init_parse_option(&c, bad[i].arg, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].says))
			fail_msg("--cloud-init '%s': said '%s', expected '%s'", bad[i].arg,
				 err, bad[i].says);
	}
}

/* --- reading the volume back ------------------------------------------ */

static uint16_t le16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | (uint32_t)le16(p + 2) << 16; }

static unsigned fat12_get(const uint8_t *fat, unsigned n)
{
	unsigned v = le16(fat + n * 3 / 2);

	return n & 1 ? v >> 4 : v & 0xfff;
}

struct volume {
	uint8_t *img;
	size_t size;
	unsigned spc, nclusters;
	uint8_t *fat, *root, *data;
	unsigned root_entries;
};

static void volume_open(struct volume *v, int fd)
{
	struct stat st;
	unsigned fat_sectors, total;

	assert_int_equal(fstat(fd, &st), 0);
	v->size = st.st_size;
	v->img = malloc(v->size);
	assert_int_equal(pread(fd, v->img, v->size, 0), (ssize_t)v->size);
	assert_int_equal(v->img[510], 0x55);
	assert_int_equal(v->img[511], 0xaa);
	assert_int_equal(le16(v->img + 11), 512);
	v->spc = v->img[13];
	fat_sectors = le16(v->img + 22);
	v->root_entries = le16(v->img + 17);
	total = le16(v->img + 19) ? le16(v->img + 19) : le32(v->img + 32);
	assert_int_equal((size_t)total * 512, v->size);
	v->fat = v->img + 512 * le16(v->img + 14);
	v->root = v->fat + 512 * fat_sectors * v->img[16];
	v->data = v->root + 32 * v->root_entries;
	v->nclusters = (v->img + v->size - v->data) / 512 / v->spc;
	/* FAT12 by the specification's only rule: the cluster count */
	assert_true(v->nclusters < 4085);
	assert_memory_equal(v->img + 54, "FAT12   ", 8);
	/* both FATs equal */
	assert_memory_equal(v->fat, v->fat + 512 * fat_sectors, 512 * fat_sectors);
}

static uint8_t checksum(const uint8_t *name)
{
	uint8_t s = 0;
	int i;

	for (i = 0; i < 11; i++)
		s = (uint8_t)((s & 1) << 7 | s >> 1) + name[i];
	return s;
}

/* Find name among the root's long names; its contents in *data (malloc'd). */
static bool volume_read(struct volume *v, const char *want, uint8_t **data, size_t *len)
{
	static const uint8_t slots[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
	char name[300];
	unsigned i, k, cluster;

	for (i = 0; i < v->root_entries; i++) {
		uint8_t *e = v->root + 32 * i, *s;
		unsigned n;

		if (e[11] != 0x0f || !(e[0] & 0x40))
			continue;
		n = e[0] & 0x1f;
		memset(name, 0, sizeof(name));
		for (k = 0; k < n; k++) {
			uint8_t *l = v->root + 32 * (i + k);
			unsigned seq = l[0] & 0x1f, c;

			assert_int_equal(seq, n - k);
			assert_int_equal(l[11], 0x0f);
			for (c = 0; c < 13; c++) {
				unsigned ch = le16(l + slots[c]);

				if (ch && ch != 0xffff)
					name[(seq - 1) * 13 + c] = (char)ch;
			}
		}
		s = v->root + 32 * (i + n);
		assert_int_equal(v->root[32 * i + 13], checksum(s));
		if (strcmp(name, want))
			continue;
		*len = le32(s + 28);
		*data = malloc(*len + 1);
		cluster = le16(s + 26);
		for (k = 0; k < *len; k += 512 * v->spc) {
			size_t chunk = *len - k < 512u * v->spc ? *len - k : 512u * v->spc;

			assert_true(cluster >= 2 && cluster < v->nclusters + 2);
			memcpy(*data + k, v->data + (size_t)(cluster - 2) * 512 * v->spc, chunk);
			cluster = fat12_get(v->fat, cluster);
		}
		assert_true(*len == 0 || cluster >= 0xff8);
		return true;
	}
	return false;
}

static int tool(const char *fmt, const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, path);
	return system(cmd);
}

static void test_volume(void **state)
{
	static char big[3 << 20];
	const char *long_name = "a-name-long-enough-for-three-long-name-entries";
	struct vfat_file files[] = {
		{ "user-data", "#cloud-config\nhostname: seeded\n", 31 },
		{ "meta-data", "instance-id: iid-1\n", 19 },
		{ "network-config", big, sizeof(big) },
		{ "empty", "", 0 },
		{ long_name, "hello\n", 6 },
	};
	char path[300];
	struct volume v;
	uint8_t *data;
	size_t len;
	unsigned i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 4096);
	snprintf(path, sizeof(path), "%s/seed.img", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(vfat_write(fd, "cidata", files, 5), 0);
	volume_open(&v, fd);
	close(fd);
	/* the label: in the boot sector and as the root's volume entry */
	assert_memory_equal(v.img + 43, "cidata     ", 11);
	assert_memory_equal(v.root, "cidata     ", 11);
	assert_int_equal(v.root[11], 0x08);
	for (i = 0; i < 5; i++) {
		if (!volume_read(&v, files[i].name, &data, &len))
			fail_msg("%s is not in the root directory", files[i].name);
		assert_int_equal(len, files[i].len);
		assert_memory_equal(data, files[i].data, len);
		free(data);
	}
	free(v.img);

	/* Debian's own FAT tools read it the same way (where installed). */
	if (!access("/sbin/fsck.fat", X_OK))
		assert_int_equal(tool("/sbin/fsck.fat -n %s >/dev/null", path), 0);
	if (!access("/usr/bin/mtype", X_OK))
		assert_int_equal(tool("MTOOLS_SKIP_CHECK=1 mtype -i %s ::user-data | "
				      "grep -qx 'hostname: seeded'", path), 0);
}

static void test_volume_limits(void **state)
{
	struct vfat_file f = { "user-data", NULL, VFAT_MAX_BYTES + 1 };
	struct vfat_file bad_name = { "a/b", "x", 1 }, files[VFAT_MAX_FILES + 1];
	unsigned i;
	int fd = memfd_create("t", 0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(vfat_write(fd, "cidata", &f, 1), -EFBIG);
	assert_int_equal(vfat_write(fd, "cidata", &bad_name, 1), -EINVAL);
	assert_int_equal(vfat_write(fd, "a-label-too-long", NULL, 0), -EINVAL);
	for (i = 0; i <= VFAT_MAX_FILES; i++)
		files[i] = (struct vfat_file){ "f", "x", 1 };
	assert_int_equal(vfat_write(fd, "cidata", files, VFAT_MAX_FILES + 1), -EINVAL);
	/* an empty volume is still a volume */
	assert_int_equal(vfat_write(fd, "cidata", NULL, 0), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_volume),
		cmocka_unit_test(test_volume_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
