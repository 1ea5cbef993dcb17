# Fuzzing the disk-image parsers with libFuzzer (clang): one target per
# format (qcow2, vmdk, vdi) and one that lets the probe pick the format.
# Each is built with AddressSanitizer and UndefinedBehaviorSanitizer
# against the block sources.  Seed corpora are made by tests/fuzz/
# make_seeds.py from small fresh images; new inputs the fuzzer finds
# accumulate in build/fuzz/corpus/, crashes land in build/fuzz/artifacts/.
#
#   make fuzz                       each target for FUZZ_SECONDS (300)
#   make fuzz-quick                 each target for FUZZ_CHECK_SECONDS (15)
#   build/fuzz/fuzz_qcow2 FILE      replay one input
#
# `make check` runs fuzz-quick.

FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 300
FUZZ_CHECK_SECONDS ?= 15
FUZZ_TARGETS       := qcow2 vmdk vdi probe
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 $(WARN) -Isrc -Itests/fuzz -D_GNU_SOURCE -MMD -MP \
		-pthread -O1 -g $(FUZZ_SAN)
# The parsers and what they call: the block layer and logging.
FUZZ_LIB_SRCS := $(sort $(wildcard src/block/*.c)) src/util/log.c
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=build/fuzz/obj/%.o) \
		 build/fuzz/obj/tests/fuzz/fuzz_image.o
FUZZ_BINS := $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
FUZZ_RUN_FLAGS := -rss_limit_mb=2048 -timeout=20 -print_final_stats=1

.PHONY: fuzz fuzz-quick fuzz-build fuzz-seeds
fuzz-build: $(FUZZ_BINS)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(LIBS)

# Seeds are remade when wirt or the generator changes.
fuzz-seeds: build/fuzz/seeds/.stamp
build/fuzz/seeds/.stamp: tests/fuzz/make_seeds.py wirt
	rm -rf build/fuzz/seeds
	$(PYTHON) tests/fuzz/make_seeds.py ./wirt build/fuzz/seeds
	touch $@

# Run build/fuzz/fuzz_$(1) for $(2) seconds on corpus directory $(3),
# which receives new inputs, and seed directory $(4), which is only read
# (mk/net.mk and mk/virtio.mk use it too).
define fuzz_target_run
	@mkdir -p $(3) build/fuzz/artifacts
	@echo "== fuzz_$(1) for $(2) s"
	build/fuzz/fuzz_$(1) $(FUZZ_RUN_FLAGS) -max_total_time=$(2) \
		-artifact_prefix=build/fuzz/artifacts/$(1)- \
		$(3) $(4) 2>build/fuzz/$(1).log || \
		{ tail -n 60 build/fuzz/$(1).log; exit 1; }
	@grep -E '^stat::number_of_executed_units|^Done' build/fuzz/$(1).log || true

endef

# $(1): image target name, $(2): seconds, $(3): corpus root.
fuzz_run = $(call fuzz_target_run,$(1),$(2),$(3)/$(1),build/fuzz/seeds/$(1))

# Long runs keep what they find; the quick run starts from the seeds each
# time, so replaying a grown corpus never eats its time budget.
fuzz: $(FUZZ_BINS) build/fuzz/seeds/.stamp
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),$(FUZZ_SECONDS),build/fuzz/corpus))

fuzz-quick: $(FUZZ_BINS) build/fuzz/seeds/.stamp
	rm -rf build/fuzz/quick
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),$(FUZZ_CHECK_SECONDS),build/fuzz/quick))

EXTRA_CHECKS += fuzz-quick

# Corpora kept from the long campaigns (tests/fuzz/corpus/TARGET.tar.xz,
# each target fuzzed for an hour of CPU or more, then minimized with
# -merge=1).  `make fuzz-corpus` (part of `make check`) replays every
# input once under the sanitizers: what a campaign found stays fixed.
# A long run can start from them: build/fuzz/kept/TARGET after that.
FUZZ_KEPT := $(patsubst tests/fuzz/corpus/%.tar.xz,%,$(wildcard tests/fuzz/corpus/*.tar.xz))

build/fuzz/kept/%/.stamp: tests/fuzz/corpus/%.tar.xz
	rm -rf build/fuzz/kept/$*
	mkdir -p build/fuzz/kept
	tar -xJf $< -C build/fuzz/kept
	touch $@

define fuzz_corpus_replay
	@echo "== fuzz_$(1): the kept corpus"
	build/fuzz/fuzz_$(1) $(FUZZ_RUN_FLAGS) -runs=0 build/fuzz/kept/$(1) \
		2>build/fuzz/kept-$(1).log || { tail -n 60 build/fuzz/kept-$(1).log; exit 1; }
	@grep -E '^Done' build/fuzz/kept-$(1).log || true

endef

.PHONY: fuzz-corpus
fuzz-corpus: $(FUZZ_KEPT:%=build/fuzz/fuzz_%) $(FUZZ_KEPT:%=build/fuzz/kept/%/.stamp)
	$(foreach t,$(FUZZ_KEPT),$(call fuzz_corpus_replay,$(t)))

EXTRA_CHECKS += fuzz-corpus
