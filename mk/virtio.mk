# Fuzzing the virtqueue device side (src/hw/virtio/virtq.c) with
# libFuzzer on rings a hostile driver wrote, as mk/net.mk does the
# offloads: `make fuzz-virtq` for FUZZ_SECONDS, `make fuzz-virtq-quick`
# (part of `make check`) for FUZZ_CHECK_SECONDS.
FUZZ_VIRTQ_OBJS  := build/fuzz/obj/src/hw/virtio/virtq.o build/fuzz/obj/src/vm/memory.o \
		    build/fuzz/obj/src/util/log.o build/fuzz/obj/src/migration/vmstate.o
FUZZ_VIRTQ_SEEDS := build/fuzz/virtq-seeds

build/fuzz/fuzz_virtq: tests/fuzz/fuzz_virtq.c $(FUZZ_VIRTQ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_VIRTQ_OBJS) -lz

$(FUZZ_VIRTQ_SEEDS)/.stamp: tests/fuzz/make_virtq_seeds.py
	rm -rf $(FUZZ_VIRTQ_SEEDS)
	$(PYTHON) tests/fuzz/make_virtq_seeds.py $(FUZZ_VIRTQ_SEEDS)
	touch $@

.PHONY: fuzz-virtq fuzz-virtq-quick
fuzz-virtq: build/fuzz/fuzz_virtq $(FUZZ_VIRTQ_SEEDS)/.stamp
	$(call fuzz_target_run,virtq,$(FUZZ_SECONDS),build/fuzz/corpus/virtq,$(FUZZ_VIRTQ_SEEDS))

fuzz-virtq-quick: build/fuzz/fuzz_virtq $(FUZZ_VIRTQ_SEEDS)/.stamp
	rm -rf build/fuzz/quick-virtq
	$(call fuzz_target_run,virtq,$(FUZZ_CHECK_SECONDS),build/fuzz/quick-virtq,$(FUZZ_VIRTQ_SEEDS))

fuzz: fuzz-virtq
EXTRA_CHECKS += fuzz-virtq-quick
