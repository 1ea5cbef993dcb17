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
