# The emulator's SSE code reads and sets the host floating-point
# environment: keep the compiler from folding or moving FP operations.
build/obj/src/accel/emu/sse.o build/san/src/accel/emu/sse.o \
build/obj/src/accel/emu/x87.o build/san/src/accel/emu/x87.o \
build/obj/src/accel/emu/mmx.o build/san/src/accel/emu/mmx.o \
build/obj/src/accel/emu/sse4.o build/san/src/accel/emu/sse4.o: CFLAGS += -frounding-math
TEST_LIBS += -lZydis

# Fuzzing the translator against the interpreter (tests/fuzz/fuzz_jit.c):
# guest code bytes, run by both engines from the same state.  `make
# fuzz-jit` for FUZZ_SECONDS, `make fuzz-jit-quick` (part of `make check`)
# for FUZZ_CHECK_SECONDS, from seeds of a few hand-written sequences.
FUZZ_JIT_OBJS  := $(LIB_SRCS:%.c=build/fuzz/obj/%.o)
FUZZ_JIT_SEEDS := build/fuzz/jit-seeds
build/fuzz/obj/src/accel/emu/sse.o build/fuzz/obj/src/accel/emu/x87.o \
build/fuzz/obj/src/accel/emu/mmx.o build/fuzz/obj/src/accel/emu/sse4.o: \
	FUZZ_CFLAGS += -frounding-math

$(FUZZ_JIT_SEEDS)/.stamp: tests/fuzz/make_jit_seeds.py
	rm -rf $(FUZZ_JIT_SEEDS)
	$(PYTHON) tests/fuzz/make_jit_seeds.py $(FUZZ_JIT_SEEDS)
	touch $@

$(eval $(call fuzz_area_target,jit,jit,$(FUZZ_JIT_OBJS),$$(LIBS),$(FUZZ_JIT_SEEDS)))
