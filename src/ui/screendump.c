/*
 * screendump: the current screen to a file, as PNG (libpng) or binary
 * PPM (P6), as QEMU's QMP command of that name writes it.  The file is
 * created anew (mode 0600 before the umask); an existing one is replaced,
 * a symbolic link is not followed.
 */
#include "ui/display.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/sandbox.h"

/* One XRGB line as 8-bit RGB. */
static void line_rgb(const uint32_t *src, unsigned w, uint8_t *dst)
{
	for (unsigned x = 0; x < w; x++) {
		dst[3 * x] = src[x] >> 16;
		dst[3 * x + 1] = src[x] >> 8;
		dst[3 * x + 2] = src[x];
	}
}

static int write_ppm(FILE *f, const struct display_surface *s, uint8_t *row)
{
	fprintf(f, "P6\n%u %u\n255\n", s->width, s->height);
	for (unsigned y = 0; y < s->height; y++) {
		line_rgb(s->pixels + (size_t)y * s->stride, s->width, row);
		if (fwrite(row, 3, s->width, f) != s->width)
			return -EIO;
	}
	return 0;
}

static int write_png(FILE *f, const struct display_surface *s, uint8_t *row)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL,
						  NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;

	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -ENOMEM;
	}
	/* libpng reports errors by longjmp. */
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -EIO;
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, s->width, s->height, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(png, 1);
	png_write_info(png, info);
	for (unsigned y = 0; y < s->height; y++) {
		line_rgb(s->pixels + (size_t)y * s->stride, s->width, row);
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

int display_screendump(struct display *d, const char *path, const char *format)
{
	bool png = !format || !strcmp(format, "png");
	uint8_t *row;
	FILE *f;
	int fd, ret;

	if (!png && strcmp(format, "ppm"))
		return -EINVAL;
	fd = open(path, SANDBOX_DUMP_OPEN_FLAGS, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "wb");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&d->lock);
	ret = display_refresh_locked(d, NULL);
	row = malloc((size_t)d->surface.width * 3);
	if (!ret && !row)
		ret = -ENOMEM;
	if (!ret)
		ret = png ? write_png(f, &d->surface, row) : write_ppm(f, &d->surface, row);
	pthread_mutex_unlock(&d->lock);
	free(row);
	if (fclose(f) && !ret)
		ret = -EIO;
	return ret;
}
