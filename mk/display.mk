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

$(FUZZ_VNC_SEEDS)/.stamp: tests/fuzz/make_vnc_seeds.py
	rm -rf $(FUZZ_VNC_SEEDS)
	$(PYTHON) tests/fuzz/make_vnc_seeds.py $(FUZZ_VNC_SEEDS)
	touch $@

$(eval $(call fuzz_area_target,vnc,vnc,$(FUZZ_VNC_OBJS),-lvncserver -pthread,$(FUZZ_VNC_SEEDS)))
# The target includes vnc.c rather than linking it.
build/fuzz/fuzz_vnc: src/ui/vnc.c
