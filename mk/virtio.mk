# Fuzzing the virtqueue device side (src/hw/virtio/virtq.c) with
# libFuzzer on rings a hostile driver wrote, as mk/net.mk does the
# offloads: `make fuzz-virtq` for FUZZ_SECONDS, `make fuzz-virtq-quick`
# (part of `make check`) for FUZZ_CHECK_SECONDS.
FUZZ_VIRTQ_OBJS  := build/fuzz/obj/src/hw/virtio/virtq.o build/fuzz/obj/src/vm/memory.o \
		    build/fuzz/obj/src/util/log.o
FUZZ_VIRTQ_SEEDS := build/fuzz/virtq-seeds

build/fuzz/fuzz_virtq: tests/fuzz/fuzz_virtq.c $(FUZZ_VIRTQ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_VIRTQ_OBJS)

$(FUZZ_VIRTQ_SEEDS)/.stamp: tests/fuzz/make_virtq_seeds.py
	rm -rf $(FUZZ_VIRTQ_SEEDS)
	$(PYTHON) tests/fuzz/make_virtq_seeds.py $(FUZZ_VIRTQ_SEEDS)
	touch $@

# $(1): seconds, $(2): corpus directory (receives new inputs).
define fuzz_virtq_run
	@mkdir -p $(2) build/fuzz/artifacts
	@echo "== fuzz_virtq for $(1) s"
	build/fuzz/fuzz_virtq $(FUZZ_RUN_FLAGS) -max_total_time=$(1) \
		-artifact_prefix=build/fuzz/artifacts/virtq- \
		$(2) $(FUZZ_VIRTQ_SEEDS) 2>build/fuzz/virtq.log || \
		{ tail -n 60 build/fuzz/virtq.log; exit 1; }
	@grep -E '^stat::number_of_executed_units|^Done' build/fuzz/virtq.log || true
endef

.PHONY: fuzz-virtq fuzz-virtq-quick
fuzz-virtq: build/fuzz/fuzz_virtq $(FUZZ_VIRTQ_SEEDS)/.stamp
	$(call fuzz_virtq_run,$(FUZZ_SECONDS),build/fuzz/corpus/virtq)

fuzz-virtq-quick: build/fuzz/fuzz_virtq $(FUZZ_VIRTQ_SEEDS)/.stamp
	rm -rf build/fuzz/quick-virtq
	$(call fuzz_virtq_run,$(FUZZ_CHECK_SECONDS),build/fuzz/quick-virtq)

fuzz: fuzz-virtq
EXTRA_CHECKS += fuzz-virtq-quick
