# Programs that run inside the Linux guest to test what only a real
# operating system exercises (tests/guest-programs/*.c, static binaries).
# They ride in a second cpio archive appended to the default guest's
# initrd (Linux unpacks concatenated archives), in /bin: the default guest
# itself stays as scripts/build-guest.sh made it.
GUEST_PROG_SRCS := $(sort $(wildcard tests/guest-programs/*.c))
GUEST_PROG_BINS := $(GUEST_PROG_SRCS:tests/guest-programs/%.c=build/guest-programs/root/bin/%)
TEST_INITRD     := build/guest-programs/test-initrd.img

build/guest-programs/root/bin/%: tests/guest-programs/%.c
	@mkdir -p $(dir $@)
	$(CC) -static -O2 $(WARN) -o $@ $<

$(TEST_INITRD): guest/initrd.img $(GUEST_PROG_BINS)
	(cd build/guest-programs/root && find . -print | LC_ALL=C sort | \
		cpio -o -H newc -R 0:0 --quiet) | gzip > build/guest-programs/extra.cpio.gz
	cat guest/initrd.img build/guest-programs/extra.cpio.gz > $@

.PHONY: test-initrd
test-initrd: $(TEST_INITRD)
integration: $(TEST_INITRD)
