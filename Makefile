# contprof build. `make` builds build/contprof and every BPF object/skeleton.
#   make SAN=1       ASan+UBSan build under build/san (no recovery)
#   make COVERAGE=1  gcov build under build/cov
#   make test        everything the README's test command runs (see scripts/test.sh)
#   make unit        unit tests of the current build flavour
#   make format-check / make format
#   make fuzz-NAME   libFuzzer target tests/fuzz/fuzz_NAME.c for FUZZ_TIME s
#   make fuzz        every fuzz target, FUZZ_TIME s each (see tests/fuzz/README.md)
#   make install [PREFIX=/usr/local] [DESTDIR=]   binary, systemd units, docs,
#                    example config (docs/install.md); make uninstall
# Sources are found by directory: a new .c file under src/ is built without
# touching this file; tests/unit/test_*.c each become one test binary.

BUILD ?= build
ifeq ($(SAN),1)
BUILD := build/san
endif
ifeq ($(COVERAGE),1)
BUILD := build/cov
endif
ifeq ($(FUZZ),1)
BUILD := build/fuzz
endif

CC      ?= gcc
CLANG   ?= clang
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BPFTOOL ?= bpftool

PKGS := libbpf libelf libdw jansson libmicrohttpd gnutls libcurl sqlite3 yaml-0.1 libpq zlib libcrypto

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
ifneq ($(CI),)
WARN += -Werror
endif

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -DCONTPROF_VERSION=\"$(VERSION)\" -MMD -MP -Isrc -I$(BUILD)/bpf \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm -liberty

ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all
endif
ifeq ($(COVERAGE),1)
CFLAGS  += -O0 --coverage
LDFLAGS += --coverage
endif
# libFuzzer flavour: clang, the library instrumented for coverage guidance,
# ASan + UBSan without recovery; only the fuzzers link libFuzzer's main.
ifeq ($(FUZZ),1)
CC      := $(CLANG)
CFLAGS  += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer -Wno-format-nonliteral
LDFLAGS += -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
endif

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -I$(BUILD)/bpf -Isrc

LIB_SRC   := $(wildcard src/core/*.c src/util/*.c src/server/*.c src/agent/*.c src/cli/*.c src/demo/*.c)
LIB_SRC   := $(filter-out src/cli/main.c src/%.bpf.c,$(LIB_SRC))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ  := $(BUILD)/obj/src/cli/main.o
BPF_SRC   := $(wildcard src/agent/*.bpf.c)
BPF_OBJ   := $(BPF_SRC:src/agent/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
BPF_SKEL  := $(BPF_SRC:src/agent/%.bpf.c=$(BUILD)/bpf/%.skel.h)
FIXTURE_SRC := $(wildcard tests/fixtures/*.c tests/fixtures/*.cc)
FIXTURE_BIN := $(patsubst tests/fixtures/%,$(BUILD)/fixtures/%,$(basename $(FIXTURE_SRC)))
TEST_SRC  := $(wildcard tests/unit/test_*.c)
TEST_BIN  := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIBRARY   := $(BUILD)/libcontprof.a

# Web UI: web/build.mjs bundles web/src (esbuild, from web/node_modules) into
# build/web/ once for every build flavour, and writes build/web/webui_assets.c,
# the files as a C table (see src/server/webui.h) compiled into the library.
WEB_OUT   := build/web
WEB_DEPS  := $(shell find web/src -type f 2>/dev/null) web/build.mjs web/package-lock.json
WEB_OBJ   := $(BUILD)/obj/web/webui_assets.o
LIB_OBJ   += $(WEB_OBJ)

.SECONDARY:
.PHONY: all unit test format format-check clean bench bench-compare install uninstall fuzz fuzzers
all: $(BUILD)/contprof $(TEST_BIN) $(FIXTURE_BIN)

# Test fixtures (workloads and servers the integration tests run): clang with
# frame pointers everywhere, including leaf functions (gcc 12 drops them).
FIXTURE_CFLAGS := -O1 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -pthread -Wall
$(BUILD)/fixtures/%: tests/fixtures/%.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FIXTURE_CFLAGS) -o $@ $< -lm
$(BUILD)/fixtures/%: tests/fixtures/%.cc
	@mkdir -p $(dir $@)
	$(CLANG)++ $(FIXTURE_CFLAGS) -o $@ $< -lm

$(BUILD)/contprof: $(MAIN_OBJ) $(LIBRARY)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIBRARY): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(WEB_OUT)/webui_assets.c: $(WEB_DEPS)
	@test -d web/node_modules || { echo "web/node_modules is missing: run scripts/setup.sh (npm ci in web/)" >&2; exit 1; }
	@mkdir -p $(WEB_OUT)
	node web/build.mjs $(WEB_OUT)
	@touch $@

$(WEB_OBJ): $(WEB_OUT)/webui_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -g0 -c -o $@ $<

# Every user-space object may include a skeleton; build them first.
$(LIB_OBJ) $(MAIN_OBJ): | $(BPF_SKEL)

$(BUILD)/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: src/agent/%.bpf.c $(BUILD)/bpf/vmlinux.h $(wildcard src/agent/*.h)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp.o
	$(BPFTOOL) gen object $@ $@.tmp.o
	@rm -f $@.tmp.o

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<))_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/obj/tests/unit/harness.o $(LIBRARY)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/tests/unit/%.o: CFLAGS += -Itests/unit

# The demo's functions must show in flame graphs with their callers: frame
# pointers (leaves too) and no tail calls.
$(BUILD)/obj/src/demo/%.o: CFLAGS += -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
                                  -fno-optimize-sibling-calls

# Fuzzers: tests/fuzz/fuzz_NAME.c -> build/fuzz/fuzzers/NAME (FUZZ=1 flavour);
# scripts/fuzz.sh runs them on their committed corpus tests/fuzz/corpus/NAME/.
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_TIME ?= 20
$(BUILD)/fuzzers/%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIBRARY)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/tests/fuzz/%.o: CFLAGS += -Itests/fuzz

fuzzers:
	@$(MAKE) --no-print-directory FUZZ=1 $(FUZZ_NAMES:%=build/fuzz/fuzzers/%)

fuzz-%:
	@$(MAKE) --no-print-directory FUZZ=1 build/fuzz/fuzzers/$*
	@scripts/fuzz.sh $(FUZZ_TIME) $*

fuzz: fuzzers
	@scripts/fuzz.sh $(FUZZ_TIME) $(FUZZ_NAMES)

unit: $(TEST_BIN) $(FIXTURE_BIN)
	@scripts/run-unit.sh $(BUILD)/tests

test:
	@scripts/test.sh

# make bench [QUICK=1] [BENCH="flame httpmon"]: see scripts/bench.sh
bench: all
	@$(if $(filter-out 0,$(QUICK)),BENCH_QUICK=1 )scripts/bench.sh $(BENCH)

bench-compare:
	@node scripts/bench-report.mjs compare bench/results/previous.json bench/results/latest.json

# make install [PREFIX=/usr/local] [DESTDIR=] (docs/install.md): the binary,
# systemd units for agent and server, the docs, an example agent config, and
# /etc/contprof/agent.yaml from it when there is none. Uninstall keeps
# /etc/contprof (your config and token) and the state under /var/lib.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/contprof
UNITS      := contprof-agent.service contprof-server.service
UNIT_SED   := -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

install: $(BUILD)/contprof
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(BUILD)/contprof $(DESTDIR)$(BINDIR)/contprof
	for u in $(UNITS); do \
	  sed $(UNIT_SED) dist/systemd/$$u.in > $(DESTDIR)$(UNITDIR)/$$u.tmp && \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 dist/agent.yaml $(DESTDIR)$(DOCDIR)/examples/agent.yaml
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/contprof
	test -e $(DESTDIR)$(SYSCONFDIR)/contprof/agent.yaml || \
	  install -m 0644 dist/agent.yaml $(DESTDIR)$(SYSCONFDIR)/contprof/agent.yaml

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/contprof $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -rf $(DESTDIR)$(DOCDIR)
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/contprof (config, token) and /var/lib/contprof*"

FORMAT_FILES = $(shell git ls-files --cached --others --exclude-standard 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' 2>/dev/null)
format-check:
	@out=$$(clang-format --dry-run $(FORMAT_FILES) 2>&1 | grep -o '^[^:]*:[0-9]*:[0-9]*: warning' | cut -d: -f1 | sort -u); \
	if [ -n "$$out" ]; then echo "format-check: unformatted files (run 'make format'):"; echo "$$out" | sed 's/^/  /'; exit 1; \
	else echo "format-check: $(words $(FORMAT_FILES)) files formatted"; fi

format:
	clang-format -i $(FORMAT_FILES)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
