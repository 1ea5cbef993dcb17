# The control plane (src/control/): the QMP monitor reports wirt's version
# in its greeting and in query-version.
build/obj/src/control/qmp_commands.o build/san/src/control/qmp_commands.o: CFLAGS += -DWIRT_VERSION='"$(WIRT_VERSION)"'

# The power-button test needs the ACPI button and evdev drivers (modules in
# Debian's kernel, absent from the default initrd), busybox acpid's handler
# and a script that arms them: they ride in the tests' initrd
# (mk/guest_programs.mk packs build/guest-programs/root).  Without network
# the modules are missing and that test skips; nothing else changes.
GUEST_FILES := $(shell find tests/guest-files -type f 2>/dev/null)
GUEST_FILES_OUT := $(GUEST_FILES:tests/guest-files/%=build/guest-programs/root/%)
ACPI_MODULES_STAMP := build/guest-programs/acpi-modules.stamp

build/guest-programs/root/%: tests/guest-files/%
	@mkdir -p $(dir $@)
	cp -p $< $@

$(ACPI_MODULES_STAMP): guest/kernel-version scripts/fetch-guest-modules.sh
	@mkdir -p build/guest-programs/root/lib/modules/extra build/guest-modules
	sh scripts/fetch-guest-modules.sh "$$(cat guest/kernel-version)" \
		build/guest-modules button evdev && \
		cp build/guest-modules/button.ko build/guest-modules/evdev.ko \
		build/guest-programs/root/lib/modules/extra/ || \
		echo "warning: no ACPI button modules for the test initrd"
	touch $@

# (the sources too: the Makefile marks every target .SECONDARY, so a
# missing copy alone would not remake the initrd)
build/guest-programs/test-initrd.img: $(GUEST_FILES_OUT) $(ACPI_MODULES_STAMP) \
	$(GUEST_FILES) scripts/fetch-guest-modules.sh

# Fuzzing the QMP request parser (tests/fuzz/fuzz_qmp.c): `make fuzz-qmp`
# for FUZZ_SECONDS, `make fuzz-qmp-quick` (part of `make check`) for
# FUZZ_CHECK_SECONDS.
FUZZ_QMP_OBJS  := build/fuzz/obj/src/control/qmp.o build/fuzz/obj/src/control/qmp_commands.o \
		  build/fuzz/obj/src/control/hmp.o build/fuzz/obj/src/vm/vm_pause.o \
		  build/fuzz/obj/src/vm/vm_clock.o \
		  build/fuzz/obj/src/util/log.o
FUZZ_QMP_SEEDS := build/fuzz/qmp-seeds

build/fuzz/fuzz_qmp: tests/fuzz/fuzz_qmp.c $(FUZZ_QMP_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_QMP_OBJS) -ljson-c -pthread

$(FUZZ_QMP_SEEDS)/.stamp: tests/fuzz/make_qmp_seeds.py
	rm -rf $(FUZZ_QMP_SEEDS)
	$(PYTHON) tests/fuzz/make_qmp_seeds.py $(FUZZ_QMP_SEEDS)
	touch $@

.PHONY: fuzz-qmp fuzz-qmp-quick
fuzz-qmp: build/fuzz/fuzz_qmp $(FUZZ_QMP_SEEDS)/.stamp
	$(call fuzz_target_run,qmp,$(FUZZ_SECONDS),build/fuzz/corpus/qmp,$(FUZZ_QMP_SEEDS))

fuzz-qmp-quick: build/fuzz/fuzz_qmp $(FUZZ_QMP_SEEDS)/.stamp
	rm -rf build/fuzz/quick-qmp
	$(call fuzz_target_run,qmp,$(FUZZ_CHECK_SECONDS),build/fuzz/quick-qmp,$(FUZZ_QMP_SEEDS))

fuzz: fuzz-qmp
fuzz-quick: fuzz-qmp-quick
EXTRA_CHECKS += fuzz-qmp-quick
