/*
 * cdrom_tray DEVICE open|close|status: the CD-ROM's tray through the
 * Linux cdrom driver's ioctls (START STOP UNIT to the drive; the status
 * comes from its sense data and media events).  Prints the drive status
 * as the driver reports it: "tray open", "no disc", "disc ok", "not ready".
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/cdrom.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const char *const names[] = {
		[CDS_NO_INFO] = "no info", [CDS_NO_DISC] = "no disc",
		[CDS_TRAY_OPEN] = "tray open", [CDS_DRIVE_NOT_READY] = "not ready",
		[CDS_DISC_OK] = "disc ok",
	};
	int fd, ret = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: cdrom_tray DEVICE open|close|status\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	if (!strcmp(argv[2], "open"))
		ret = ioctl(fd, CDROMEJECT, 0);
	else if (!strcmp(argv[2], "close"))
		ret = ioctl(fd, CDROMCLOSETRAY, 0);
	if (ret < 0) {
		perror(argv[2]);
		return 1;
	}
	ret = ioctl(fd, CDROM_DRIVE_STATUS, CDSL_CURRENT);
	if (ret < 0 || ret > CDS_DISC_OK) {
		perror("CDROM_DRIVE_STATUS");
		return 1;
	}
	printf("%s\n", names[ret]);
	close(fd);
	return 0;
}
