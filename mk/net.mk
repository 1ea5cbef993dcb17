# Networking: user-mode NAT through libslirp (Debian libslirp-dev).
LIBS += -lslirp

# Fuzzing the software offloads (src/net/segment.c) with libFuzzer, as
# mk/fuzz.mk does the image parsers: `make fuzz-net` for FUZZ_SECONDS,
# `make fuzz-net-quick` (part of `make check`) for FUZZ_CHECK_SECONDS.
# Seeds live apart from the image seeds, which are remade wholesale.
FUZZ_NET_OBJS  := build/fuzz/obj/src/net/segment.o
FUZZ_NET_SEEDS := build/fuzz/net-seeds

$(FUZZ_NET_SEEDS)/.stamp: tests/fuzz/make_net_seeds.py
	rm -rf $(FUZZ_NET_SEEDS)
	$(PYTHON) tests/fuzz/make_net_seeds.py $(FUZZ_NET_SEEDS)
	touch $@

$(eval $(call fuzz_area_target,net,net_segment,$(FUZZ_NET_OBJS),,$(FUZZ_NET_SEEDS)))
