/*
 * blkio: a small disk benchmark run inside the guest by bench/blk_vs_qemu.py
 * (built static on the host, appended to the initramfs).
 *
 *   blkio DEVICE seq-read|seq-write|rand-read|rand-write BLOCK COUNT
 *
 * O_DIRECT I/O of BLOCK bytes, COUNT times, sequential from the start or at
 * random block-aligned offsets in the first 64 MiB; prints the guest's
 * elapsed seconds.  The host measures wall time itself as well.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPAN (64ull << 20)

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	unsigned long block, count, i;
	int fd, write_mode, random_mode;
	void *buf;

	if (argc != 5) {
		fprintf(stderr, "usage: blkio DEVICE MODE BLOCK COUNT\n");
		return 2;
	}
	write_mode = strstr(argv[2], "write") != NULL;
	random_mode = !strncmp(argv[2], "rand", 4);
	block = strtoul(argv[3], NULL, 0);
	count = strtoul(argv[4], NULL, 0);
	if (!block || block % 512 || posix_memalign(&buf, 4096, block))
		return 2;
	memset(buf, 0x5a, block);
	fd = open(argv[1], (write_mode ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	srand(42);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < count; i++) {
		off_t off = random_mode ? (off_t)(rand() % (SPAN / block)) * block
					: (off_t)((i * block) % SPAN);
		ssize_t n = write_mode ? pwrite(fd, buf, block, off)
				       : pread(fd, buf, block, off);

		if (n != (ssize_t)block) {
			perror("blkio");
			return 1;
		}
	}
	if (write_mode && fdatasync(fd)) {
		perror("fdatasync");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("blkio %s: %.3f s\n", argv[2],
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
