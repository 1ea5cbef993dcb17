# The emulator's SSE code reads and sets the host floating-point
# environment: keep the compiler from folding or moving FP operations.
build/obj/src/accel/emu/sse.o build/san/src/accel/emu/sse.o \
build/obj/src/accel/emu/x87.o build/san/src/accel/emu/x87.o \
build/obj/src/accel/emu/mmx.o build/san/src/accel/emu/mmx.o \
build/obj/src/accel/emu/sse4.o build/san/src/accel/emu/sse4.o: CFLAGS += -frounding-math
TEST_LIBS += -lZydis
