# Compiles nsbox, nsbox-init and nsbox-net with musl-gcc. build.sh prepares the static
# third-party libraries (DEPS) and kernel headers (KHDR) first and calls this with them set.
CC := musl-gcc
OUT := out
DEPS ?= $(error DEPS is not set: run ./build.sh)
KHDR ?= $(error KHDR is not set: run ./build.sh)

WARN := -Wall -Wextra -Werror -Wshadow -Wvla -Wformat=2 -Wmissing-prototypes -Wjump-misses-init \
        -Wno-unused-parameter -Wno-format-truncation
CFLAGS := -std=gnu11 -Os -g0 $(WARN) -ffunction-sections -fdata-sections \
          -fno-asynchronous-unwind-tables -MMD -MP -D_GNU_SOURCE \
          -isystem $(KHDR) -I$(DEPS)/include
LDFLAGS := -static -s -Wl,--gc-sections

INIT_SRC := $(wildcard init/*.c)
INIT_OBJ := $(INIT_SRC:%.c=$(OUT)/obj/%.o)
RT_SRC := $(wildcard runtime/*.c)
RT_OBJ := $(RT_SRC:%.c=$(OUT)/obj/%.o) $(OUT)/obj/runtime/init_blob.o \
          $(OUT)/obj/runtime/seccomp_blob.o
RT_LIBS := -L$(DEPS)/lib -larchive -lzstd -lz -lseccomp -lcap

# nsbox-net runs setuid root: it is built from this explicit list and nothing else.
NET_SRC := net/nsbox-net.c net/up.c net/release.c net/rtnl.c net/lease.c net/nft.c net/policy.c \
           runtime/error.c runtime/util.c runtime/portspec.c
NET_OBJ := $(NET_SRC:%.c=$(OUT)/obj/%.o)

TEST_BINS := $(OUT)/unit-tests $(OUT)/deny-userns $(OUT)/netpeer $(OUT)/pidfd-exec \
             $(OUT)/net-unit-tests $(OUT)/sysprobe

.PHONY: all tests
all: $(OUT)/nsbox $(OUT)/nsbox-init $(OUT)/nsbox-net
tests: $(TEST_BINS)

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Image layers stream through SHA-256: -O2 hashes them a third faster than -Os.
$(OUT)/obj/runtime/sha256.o: CFLAGS += -O2

# The init is embedded in nsbox as raw bytes; nsbox runs it from a sealed memfd.
$(OUT)/obj/runtime/init_blob.o: runtime/init_blob.S $(OUT)/nsbox-init
	@mkdir -p $(dir $@)
	$(CC) -c -DINIT_PATH='"$(OUT)/nsbox-init"' $< -o $@

# The default seccomp filter, compiled once here rather than at every start (runtime/gen/).
GEN_OBJ := $(OUT)/obj/runtime/gen/seccomp-gen.o \
           $(addprefix $(OUT)/obj/runtime/,seccomp.o json.o caps.o error.o util.o)
$(OUT)/seccomp-gen: $(GEN_OBJ)
	$(CC) $(LDFLAGS) $^ $(RT_LIBS) -o $@

$(OUT)/seccomp-default.bpf: $(OUT)/seccomp-gen
	$< $@

$(OUT)/obj/runtime/seccomp_blob.o: runtime/seccomp_blob.S $(OUT)/seccomp-default.bpf
	@mkdir -p $(dir $@)
	$(CC) -c -DSECCOMP_BPF_PATH='"$(OUT)/seccomp-default.bpf"' $< -o $@

$(OUT)/nsbox-init: $(INIT_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@

$(OUT)/nsbox: $(RT_OBJ)
	$(CC) $(LDFLAGS) $^ $(RT_LIBS) -o $@

$(OUT)/nsbox-net: $(NET_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@

# Unit tests link the runtime's objects but its main().
UNIT_OBJ := $(patsubst %.c,$(OUT)/obj/%.o,$(wildcard tests/unit/*.c))
$(OUT)/unit-tests: $(UNIT_OBJ) $(filter-out %/main.o,$(RT_OBJ))
	$(CC) $(LDFLAGS) $^ $(RT_LIBS) -o $@

$(OUT)/deny-userns: $(OUT)/obj/tests/helpers/deny-userns.o
	$(CC) $(LDFLAGS) $^ $(RT_LIBS) -o $@

$(OUT)/netpeer: $(OUT)/obj/tests/helpers/netpeer.o
	$(CC) $(LDFLAGS) $^ -o $@

$(OUT)/pidfd-exec: $(OUT)/obj/tests/helpers/pidfd-exec.o
	$(CC) $(LDFLAGS) $^ -o $@

$(OUT)/sysprobe: $(OUT)/obj/tests/helpers/sysprobe.o
	$(CC) $(LDFLAGS) $^ -o $@

# nsbox-net's unit tests link its objects but its main().
$(OUT)/net-unit-tests: $(OUT)/obj/net/unit.o $(filter-out %/nsbox-net.o,$(NET_OBJ))
	$(CC) $(LDFLAGS) $^ -o $@

-include $(INIT_OBJ:.o=.d) $(RT_OBJ:.o=.d) $(OUT)/obj/runtime/gen/seccomp-gen.d $(NET_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) \
  $(OUT)/obj/tests/helpers/deny-userns.d $(OUT)/obj/tests/helpers/netpeer.d \
  $(OUT)/obj/tests/helpers/pidfd-exec.d $(OUT)/obj/tests/helpers/sysprobe.d $(OUT)/obj/net/unit.d
