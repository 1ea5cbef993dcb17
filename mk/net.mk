# Networking: user-mode NAT through libslirp (Debian libslirp-dev).
LIBS += -lslirp

# Fuzzing the software offloads (src/net/segment.c) with libFuzzer, as
# mk/fuzz.mk does the image parsers: `make fuzz-net` for FUZZ_SECONDS,
# `make fuzz-net-quick` (part of `make check`) for FUZZ_CHECK_SECONDS.
# Seeds live apart from the image seeds, which are remade wholesale.
FUZZ_NET_OBJS  := build/fuzz/obj/src/net/segment.o
FUZZ_NET_SEEDS := build/fuzz/net-seeds

build/fuzz/fuzz_net_segment: tests/fuzz/fuzz_net_segment.c $(FUZZ_NET_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_NET_OBJS)

$(FUZZ_NET_SEEDS)/.stamp: tests/fuzz/make_net_seeds.py
	rm -rf $(FUZZ_NET_SEEDS)
	$(PYTHON) tests/fuzz/make_net_seeds.py $(FUZZ_NET_SEEDS)
	touch $@

.PHONY: fuzz-net fuzz-net-quick
fuzz-net: build/fuzz/fuzz_net_segment $(FUZZ_NET_SEEDS)/.stamp
	$(call fuzz_target_run,net_segment,$(FUZZ_SECONDS),build/fuzz/corpus/net_segment,$(FUZZ_NET_SEEDS))

fuzz-net-quick: build/fuzz/fuzz_net_segment $(FUZZ_NET_SEEDS)/.stamp
	rm -rf build/fuzz/quick-net
	$(call fuzz_target_run,net_segment,$(FUZZ_CHECK_SECONDS),build/fuzz/quick-net,$(FUZZ_NET_SEEDS))

fuzz: fuzz-net
EXTRA_CHECKS += fuzz-net-quick
