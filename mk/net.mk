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

# $(1): seconds, $(2): corpus directory (receives new inputs).
define fuzz_net_run
	@mkdir -p $(2) build/fuzz/artifacts
	@echo "== fuzz_net_segment for $(1) s"
	build/fuzz/fuzz_net_segment $(FUZZ_RUN_FLAGS) -max_total_time=$(1) \
		-artifact_prefix=build/fuzz/artifacts/net_segment- \
		$(2) $(FUZZ_NET_SEEDS) 2>build/fuzz/net_segment.log || \
		{ tail -n 60 build/fuzz/net_segment.log; exit 1; }
	@grep -E '^stat::number_of_executed_units|^Done' build/fuzz/net_segment.log || true
endef

.PHONY: fuzz-net fuzz-net-quick
fuzz-net: build/fuzz/fuzz_net_segment $(FUZZ_NET_SEEDS)/.stamp
	$(call fuzz_net_run,$(FUZZ_SECONDS),build/fuzz/corpus/net_segment)

fuzz-net-quick: build/fuzz/fuzz_net_segment $(FUZZ_NET_SEEDS)/.stamp
	rm -rf build/fuzz/quick-net
	$(call fuzz_net_run,$(FUZZ_CHECK_SECONDS),build/fuzz/quick-net)

fuzz: fuzz-net
EXTRA_CHECKS += fuzz-net-quick
