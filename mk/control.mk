# The control plane (src/control/): the QMP monitor reports wirt's version
# in its greeting and in query-version.
build/obj/src/control/qmp_commands.o build/san/src/control/qmp_commands.o: CFLAGS += -DWIRT_VERSION='"$(WIRT_VERSION)"'

# Fuzzing the QMP request parser (tests/fuzz/fuzz_qmp.c): `make fuzz-qmp`
# for FUZZ_SECONDS, `make fuzz-qmp-quick` (part of `make check`) for
# FUZZ_CHECK_SECONDS.
FUZZ_QMP_OBJS  := build/fuzz/obj/src/control/qmp.o build/fuzz/obj/src/control/qmp_commands.o \
		  build/fuzz/obj/src/control/hmp.o build/fuzz/obj/src/vm/vm_pause.o \
		  build/fuzz/obj/src/vm/vm_clock.o \
		  build/fuzz/obj/src/util/log.o
FUZZ_QMP_SEEDS := build/fuzz/qmp-seeds

$(FUZZ_QMP_SEEDS)/.stamp: tests/fuzz/make_qmp_seeds.py
	rm -rf $(FUZZ_QMP_SEEDS)
	$(PYTHON) tests/fuzz/make_qmp_seeds.py $(FUZZ_QMP_SEEDS)
	touch $@

$(eval $(call fuzz_area_target,qmp,qmp,$(FUZZ_QMP_OBJS),-ljson-c -pthread,$(FUZZ_QMP_SEEDS)))
