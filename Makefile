# wirt: one binary, ./wirt.  `make` builds it, `make check` runs all tests.
#
# Sources are found by wildcard: a new .c file under src/ is part of the
# build without touching this file.  Unit tests are tests/unit/test_*.c,
# each its own cmocka program linked against all of src/ except main.c and
# built with AddressSanitizer and UndefinedBehaviorSanitizer.

CC      ?= gcc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Wno-unused-parameter
BASE_CFLAGS := -std=gnu11 $(WARN) -Isrc -D_GNU_SOURCE -MMD -MP -pthread
LIBS    := -pthread -lz -lzstd -ljson-c -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer
# The release and the commit a build comes from, for `wirt --version`.
WIRT_RELEASE := 0.1
WIRT_VERSION := $(WIRT_RELEASE) ($(shell git rev-parse --short HEAD 2>/dev/null || echo "no git"))
# The Python that has pytest (Debian's python3-pytest lives in /usr/bin).
PYTHON  ?= $(shell for p in python3 /usr/bin/python3; do $$p -c 'import pytest' 2>/dev/null && echo $$p && break; done)

SRCS      := $(shell find src -name '*.c' | sort)
MAIN_SRC  := src/cli/main.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(SRCS))
OBJS      := $(SRCS:%.c=build/obj/%.o)
LIB_OBJS  := $(LIB_SRCS:%.c=build/obj/%.o)
SAN_OBJS  := $(LIB_SRCS:%.c=build/san/%.o)

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=build/tests/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))

GUEST_SRCS := $(sort $(wildcard tests/guests/*.S))
GUEST_BINS := $(GUEST_SRCS:tests/guests/%.S=build/guests/%.bin)

.DEFAULT_GOAL := all
# Each area may add its own rules, TEST_LIBS and EXTRA_CHECKS in mk/*.mk.
#
# An area's own libFuzzer target (mk/fuzz.mk has the image parsers and
# fuzz_target_run): $(eval $(call fuzz_area_target,NAME,TARGET,OBJS,LIBS,SEEDS))
# builds build/fuzz/fuzz_TARGET from tests/fuzz/fuzz_TARGET.c and OBJS,
# and adds `make fuzz-NAME` (FUZZ_SECONDS, corpus build/fuzz/corpus/TARGET)
# and `make fuzz-NAME-quick` (FUZZ_CHECK_SECONDS, part of `make check`),
# both from seed directory SEEDS, which the area makes (SEEDS/.stamp).
define fuzz_area_target
build/fuzz/fuzz_$(2): tests/fuzz/fuzz_$(2).c $(3)
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$< $(3) $(4)

.PHONY: fuzz-$(1) fuzz-$(1)-quick
fuzz-$(1): build/fuzz/fuzz_$(2) $(5)/.stamp
	$$(call fuzz_target_run,$(2),$$(FUZZ_SECONDS),build/fuzz/corpus/$(2),$(5))

fuzz-$(1)-quick: build/fuzz/fuzz_$(2) $(5)/.stamp
	rm -rf build/fuzz/quick-$(1)
	$$(call fuzz_target_run,$(2),$$(FUZZ_CHECK_SECONDS),build/fuzz/quick-$(1),$(5))

fuzz: fuzz-$(1)
fuzz-quick: fuzz-$(1)-quick
EXTRA_CHECKS += fuzz-$(1)-quick
endef

-include $(sort $(wildcard mk/*.mk))

.PHONY: all check unit integration guests default-guest clean
all: wirt guests

wirt: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

build/obj/src/cli/main.o build/san/src/cli/main.o: CFLAGS += -DWIRT_VERSION='"$(WIRT_VERSION)"'
build/obj/src/vm/smbios.o build/san/src/vm/smbios.o: CFLAGS += -DWIRT_RELEASE='"$(WIRT_RELEASE)"'
# Rewritten when the version (the commit) changes, so --version never
# names an older commit than the one built.
build/obj/src/cli/main.o build/san/src/cli/main.o: build/version.stamp
build/version.stamp: FORCE
	@mkdir -p build
	@echo '$(WIRT_VERSION)' | cmp -s - $@ || echo '$(WIRT_VERSION)' > $@
.PHONY: FORCE
FORCE:

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -c -o $@ $<

build/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(SAN) -c -o $@ $<

build/tests/%: tests/unit/%.c $(UNIT_HELPERS) $(SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(SAN) -Itests/unit -o $@ $< $(UNIT_HELPERS) $(SAN_OBJS) $(LIBS) $(TEST_LIBS) -lcmocka

# Tiny guests: flat images assembled with the host toolchain (see tests/guests/README.md).
guests: $(GUEST_BINS)
build/guests/%.bin: tests/guests/%.S tests/guests/guest.ld $(wildcard tests/guests/*.h)
	@mkdir -p $(dir $@)
	$(CC) -c -nostdlib -Itests/guests -o build/guests/$*.o $<
	ld -T tests/guests/guest.ld -o build/guests/$*.elf build/guests/$*.o
	objcopy -O binary build/guests/$*.elf $@

# Test kernels (multiboot ELF32 at 1 MiB), for --kernel.
KERNEL_SRCS := $(sort $(wildcard tests/kernels/*.S tests/kernels/*.c))
KERNEL_BINS := $(patsubst tests/kernels/%,build/kernels/%.elf,$(basename $(KERNEL_SRCS)))
guests: $(KERNEL_BINS)
build/kernels/%.elf: tests/kernels/%.S
	@mkdir -p $(dir $@)
	$(CC) -m32 -c -nostdlib -o build/kernels/$*.o $<
	ld -m elf_i386 -Ttext=0x100000 -e _start -o $@ build/kernels/$*.o
# Paging and SSE are off when a multiboot kernel starts: plain 32-bit code.
KERNEL_CFLAGS := -m32 -std=gnu11 -O2 -Wall -Wextra -ffreestanding -fno-pic -fno-pie \
		 -fno-stack-protector -fno-asynchronous-unwind-tables -mgeneral-regs-only
build/kernels/%.elf: tests/kernels/%.c tests/kernels/kernel.ld
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) -c -o build/kernels/$*.o $<
	ld -m elf_i386 -T tests/kernels/kernel.ld -o $@ build/kernels/$*.o

# The manual page, made from the help texts (scripts/make-man.sh), and
# make install [PREFIX=/usr/local] [DESTDIR=...]: binary, page, bash completion.
PREFIX ?= /usr/local
man: build/wirt.1
build/wirt.1: wirt scripts/make-man.sh
	sh scripts/make-man.sh ./wirt > $@.tmp && mv $@.tmp $@
install: wirt build/wirt.1
	install -D -m 755 wirt $(DESTDIR)$(PREFIX)/bin/wirt
	install -D -m 644 build/wirt.1 $(DESTDIR)$(PREFIX)/share/man/man1/wirt.1
	install -D -m 644 scripts/wirt-completion.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/wirt
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/wirt $(DESTDIR)$(PREFIX)/share/man/man1/wirt.1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/wirt
.PHONY: man install uninstall

# The integration suite as an ordinary user (run as root; not part of
# check: it takes as long again).  USER_NAME=name picks the user (default wirt-check).
check-unprivileged: guest/vmlinuz
	sh scripts/check-as-user.sh $(USER_NAME)
.PHONY: check-unprivileged

unit: $(UNIT_BINS)
	@failed=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || failed=1; done; exit $$failed

# The default Linux guest (Debian kernel + busybox initramfs), built once.
default-guest: guest/vmlinuz
guest/vmlinuz guest/initrd.img &: scripts/build-guest.sh
	sh scripts/build-guest.sh

integration: wirt guests guest/vmlinuz
	@test -n "$(PYTHON)" || { echo 'pytest not found: run scripts/setup.sh'; exit 1; }
	$(PYTHON) -m pytest -q tests/integration --ignore=tests/integration/test_debian_rootfs.py \
		--ignore=tests/integration/test_debian_disk.py

check: unit integration $(EXTRA_CHECKS)

clean:
	rm -rf build wirt

-include $(shell find build -name '*.d' 2>/dev/null)
.SECONDARY:
