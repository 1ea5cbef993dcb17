# The hostile-guest test (tests/guests/hostile_io.S, driven by
# tests/integration/test_hostile_guest.py) runs wirt itself built with
# AddressSanitizer and UndefinedBehaviorSanitizer: build/wirt-san.
#
#   make check               one seeded run (HOSTILE_ITERS guest iterations)
#   make fuzz-guest          HOSTILE_RUNS runs with fresh random seeds
#   WIRT_HOSTILE_SEED=N      replay one seed (printed by a failing run)

HOSTILE_RUNS ?= 20
WIRT_SAN := build/wirt-san

$(WIRT_SAN): $(SAN_OBJS) build/san/src/cli/main.o
	$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)

integration: $(WIRT_SAN)

.PHONY: fuzz-guest
fuzz-guest: $(WIRT_SAN) guests
	@for i in $$(seq $(HOSTILE_RUNS)); do \
		WIRT_HOSTILE_ITERS=$${HOSTILE_ITERS:-2000000} $(PYTHON) -m pytest -q \
			tests/integration/test_hostile_guest.py || exit 1; \
	done
