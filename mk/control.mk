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
