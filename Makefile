# hotpatch — GNU make build.  `make` builds build/hotpatch and build/libhotpatch.a.
CC      ?= gcc
BUILD   ?= build
PKGS     = libelf libdw libsodium capstone
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -fPIC \
           -D_GNU_SOURCE -Iinclude -Ilib $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -ldw -lelf -lsodium -lcapstone) -lpthread

LIB_SRC  = $(wildcard lib/*/*.c lib/arch/x86_64/*.c)
CLI_SRC  = $(wildcard cli/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(wildcard tests/unit/test-*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
VICTIM_SRC = $(wildcard tests/victims/*.c)
VICTIM_BIN = $(VICTIM_SRC:tests/victims/%.c=$(BUILD)/victims/%)

.PHONY: all deps check check-quick check-loaded demo bench soak fuzz clean victims
all: $(BUILD)/hotpatch $(BUILD)/libhotpatch.a

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libhotpatch.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/hotpatch: $(CLI_OBJ) $(BUILD)/libhotpatch.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libhotpatch.a $(LDLIBS)

$(BUILD)/tests/test-%: tests/unit/test-%.c $(BUILD)/libhotpatch.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libhotpatch.a $(LDLIBS)

# Victims are ordinary programs built the way Debian builds programs (PIE, -O2).
$(BUILD)/victims/%: tests/victims/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -pthread -Wall -o $@ $< -lm

victims: $(VICTIM_BIN)

# Install what the project needs (Debian 12), once.
deps:
	@scripts/install-deps

check: deps
	$(MAKE) all victims $(UNIT_BIN) $(BUILD)/fuzz/fuzz-patch
	tests/run

# The edit-test loop (a few minutes): unit tests and the integration files
# that cover apply, revert, the run-out of busy threads and cancellation.
QUICK_TESTS = test- busy hot cancel errors datamap levels
check-quick:
	$(MAKE) all victims $(UNIT_BIN)
	TESTS="$(QUICK_TESTS)" HOT_QUICK=1 tests/run

# The whole suite with a CPU hog per core beside it (HOGS=N for more).
check-loaded: deps
	$(MAKE) all victims $(UNIT_BIN) $(BUILD)/fuzz/fuzz-patch
	tests/loaded

demo: deps
	$(MAKE) all victims
	scripts/demo

bench: deps
	$(MAKE) all victims
	bench/run

# The soak: SOAK_CYCLES (default 10000) apply/revert cycles on a busy server.
soak: deps
	$(MAKE) all victims
	HOTPATCH_BUILD=$(abspath $(BUILD)) nice tests/soak/run

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# libFuzzer over the parser of untrusted bytes: make fuzz FUZZ_SECONDS=N
FUZZ_SECONDS ?= 120
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
              -std=gnu11 -D_GNU_SOURCE -Iinclude -Ilib $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
$(BUILD)/fuzz/fuzz-patch: tests/fuzz/fuzz-patch.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ $(LDLIBS)

fuzz: deps $(BUILD)/fuzz/fuzz-patch
	tests/fuzz/run $(FUZZ_SECONDS)
