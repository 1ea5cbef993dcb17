/*
 * Runs inside a Linux guest as root: a hostile driver.  Round after round
 * it writes random values of random widths at random offsets of every PCI
 * function's configuration space (through sysfs: BARs, command register,
 * capabilities, MSI-X, virtio's PCI capability window) and reads it back;
 * then it puts the standard header back as it found it (so that the
 * guest's own drivers can still reach their devices: a virtio driver
 * waits for ever on a device whose BAR is switched off) and unbinds and
 * rebinds the virtio drivers, which resets the devices and sets them up
 * again over whatever the garbage left.
 *
 *   pci_garbage SEED ROUNDS
 *
 * Prints "pci_garbage: done" at the end.  What it does to the guest's own
 * devices is the guest's problem; the VMM must stay up and sane.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEVICES "/sys/bus/pci/devices"
#define VIRTIO_DRIVER "/sys/bus/pci/drivers/virtio-pci"

static uint32_t rng;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0) {
			/* a refused bind or unbind is part of the game */
		}
		close(fd);
	}
}

static void garble_config(const char *dev)
{
	char path[512];
	uint8_t buf[4], header[64];
	unsigned i, width, off;
	uint32_t v;
	int fd;

	snprintf(path, sizeof(path), DEVICES "/%s/config", dev);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return;
	if (pread(fd, header, sizeof(header), 0) != sizeof(header)) {
		close(fd);
		return;
	}
	for (i = 0; i < 32; i++) {
		width = 1u << (next() % 3);
		off = next() % 4096 & ~(width - 1);
		v = next();
		memcpy(buf, &v, sizeof(v));
		if (next() % 4)
			(void)!pwrite(fd, buf, width, off);
		else
			(void)!pread(fd, buf, width, off);
	}
	/* The header back, dword by dword, the command register last. */
	for (off = 8; off < sizeof(header); off += 4)
		(void)!pwrite(fd, header + off, 4, off);
	(void)!pwrite(fd, header + 4, 2, 4);
	close(fd);
}

/* Unbind and bind again if the device belongs to virtio-pci. */
static void rebind(const char *dev)
{
	char path[512], link[512];
	ssize_t n;

	snprintf(path, sizeof(path), DEVICES "/%s/driver", dev);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		if (!strstr(link, "virtio-pci"))
			return;
		write_file(VIRTIO_DRIVER "/unbind", dev);
	}
	write_file(VIRTIO_DRIVER "/bind", dev);
}

int main(int argc, char **argv)
{
	unsigned rounds, r;
	struct dirent *e;
	DIR *d;

	if (argc != 3) {
		fprintf(stderr, "usage: pci_garbage SEED ROUNDS\n");
		return 2;
	}
	rng = strtoul(argv[1], NULL, 0) | 1;
	rounds = strtoul(argv[2], NULL, 0);
	for (r = 0; r < rounds; r++) {
		d = opendir(DEVICES);
		if (!d) {
			perror(DEVICES);
			return 1;
		}
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			garble_config(e->d_name);
			if (next() % 2)
				rebind(e->d_name);
		}
		closedir(d);
	}
	printf("pci_garbage: done\n");
	return 0;
}
