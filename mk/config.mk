# Fuzzing `wirt run --config` files (src/cli/run_config.c and the option
# parser behind it) with libFuzzer, as mk/net.mk does the offloads:
# `make fuzz-config` for FUZZ_SECONDS, `make fuzz-config-quick` (part of
# `make check`) for FUZZ_CHECK_SECONDS.  Seeds: the annotated example and
# the test's files.
FUZZ_CONFIG_SRCS  := src/cli/run_config.c src/cli/run_options.c src/cli/qemu_hints.c \
		     src/control/runtime_dir.c src/util/file.c \
		     src/util/parse.c src/util/log.c src/vm/smbios_options.c src/vm/boot_order.c \
		     src/vm/cloud_init_options.c
FUZZ_CONFIG_OBJS  := $(FUZZ_CONFIG_SRCS:%.c=build/fuzz/obj/%.o)
FUZZ_CONFIG_SEEDS := build/fuzz/config-seeds

$(FUZZ_CONFIG_SEEDS)/.stamp: docs/vm.json
	rm -rf $(FUZZ_CONFIG_SEEDS)
	mkdir -p $(FUZZ_CONFIG_SEEDS)
	cp docs/vm.json $(FUZZ_CONFIG_SEEDS)/example.json
	printf '{"memory": "64M", "firmware": "fw.bin", "disk": ["a", "b,readonly=on"], "rng": true, "sandbox": false}' \
		> $(FUZZ_CONFIG_SEEDS)/small.json
	touch $@

$(eval $(call fuzz_area_target,config,run_config,$(FUZZ_CONFIG_OBJS),-ljson-c,$(FUZZ_CONFIG_SEEDS)))
