# The display (src/ui/): PNG screendumps through libpng, VNC through
# libvncserver.
LIBS += -lpng -lvncserver

# Fuzzing the VNC server (tests/fuzz/fuzz_vnc.c: src/ui/vnc.c on
# libvncserver, one viewer's byte stream per input): `make fuzz-vnc` for
# FUZZ_SECONDS, `make fuzz-vnc-quick` (part of `make check`) for
# FUZZ_CHECK_SECONDS.
FUZZ_VNC_OBJS  := build/fuzz/obj/src/ui/keymap.o build/fuzz/obj/src/util/file.o \
		  build/fuzz/obj/src/util/log.o
FUZZ_VNC_SEEDS := build/fuzz/vnc-seeds

build/fuzz/fuzz_vnc: tests/fuzz/fuzz_vnc.c src/ui/vnc.c $(FUZZ_VNC_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_VNC_OBJS) -lvncserver -pthread

$(FUZZ_VNC_SEEDS)/.stamp: tests/fuzz/make_vnc_seeds.py
	rm -rf $(FUZZ_VNC_SEEDS)
	$(PYTHON) tests/fuzz/make_vnc_seeds.py $(FUZZ_VNC_SEEDS)
	touch $@

.PHONY: fuzz-vnc fuzz-vnc-quick
fuzz-vnc: build/fuzz/fuzz_vnc $(FUZZ_VNC_SEEDS)/.stamp
	$(call fuzz_target_run,vnc,$(FUZZ_SECONDS),build/fuzz/corpus/vnc,$(FUZZ_VNC_SEEDS))

fuzz-vnc-quick: build/fuzz/fuzz_vnc $(FUZZ_VNC_SEEDS)/.stamp
	rm -rf build/fuzz/quick-vnc
	$(call fuzz_target_run,vnc,$(FUZZ_CHECK_SECONDS),build/fuzz/quick-vnc,$(FUZZ_VNC_SEEDS))

fuzz: fuzz-vnc
fuzz-quick: fuzz-vnc-quick
EXTRA_CHECKS += fuzz-vnc-quick
