# Fuzzing the virtqueue device side (src/hw/virtio/virtq.c) with
# libFuzzer on rings a hostile driver wrote, as mk/net.mk does the
# offloads: `make fuzz-virtq` for FUZZ_SECONDS, `make fuzz-virtq-quick`
# (part of `make check`) for FUZZ_CHECK_SECONDS.
FUZZ_VIRTQ_OBJS  := build/fuzz/obj/src/hw/virtio/virtq.o build/fuzz/obj/src/vm/memory.o \
		    build/fuzz/obj/src/util/log.o build/fuzz/obj/src/migration/vmstate.o
FUZZ_VIRTQ_SEEDS := build/fuzz/virtq-seeds

$(FUZZ_VIRTQ_SEEDS)/.stamp: tests/fuzz/make_virtq_seeds.py
	rm -rf $(FUZZ_VIRTQ_SEEDS)
	$(PYTHON) tests/fuzz/make_virtq_seeds.py $(FUZZ_VIRTQ_SEEDS)
	touch $@

$(eval $(call fuzz_area_target,virtq,virtq,$(FUZZ_VIRTQ_OBJS),-lz,$(FUZZ_VIRTQ_SEEDS)))
