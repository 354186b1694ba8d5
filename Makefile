# Kompress build. `make run` and `make test` install missing Debian packages first.
# Layout: core/ (engine, no curses) <- passes/ <- tui/ (ncurses app + headless CLI).
# Every core/**/*.c and passes/*.c goes into build/libkompress.a; tui/*.c into the binary.
# Tests are discovered: tests/unit/test_*.c (cmocka, one binary each), tests/e2e/*.sh,
# tests/tui/*.sh. Adding a file is enough; this Makefile does not list sources.

CC        ?= cc
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
BUILD     ?= build
PREFIX    ?= /usr/local
PROTOC_C  ?= protoc-c
PKGS      := ncursesw libcjson libprotobuf-c openblas lapacke zlib
TEST_PKGS := cmocka

# Debian packages the build, the tests and `make run` need (package:probe-file).
DEB_BUILD := build-essential:/usr/bin/cc pkg-config:/usr/bin/pkg-config \
  libncurses-dev:/usr/include/ncursesw/curses.h libcjson-dev:/usr/include/cjson/cJSON.h \
  libprotobuf-c-dev:/usr/include/protobuf-c/protobuf-c.h protobuf-c-compiler:/usr/bin/protoc-c \
  libonnx-dev:/usr/include/onnx/onnx.proto libopenblas-dev:/usr/include/x86_64-linux-gnu/cblas.h \
  liblapacke-dev:/usr/include/lapacke.h zlib1g-dev:/usr/include/zlib.h
DEB_TEST  := libcmocka-dev:/usr/include/cmocka.h libonnx-testdata:/usr/share/libonnx-testdata/data \
  dataset-fashion-mnist:/usr/share/datasets/fashion-mnist python3-onnx:/usr/lib/python3/dist-packages/onnx \
  python3-numpy:/usr/lib/python3/dist-packages/numpy tmux:/usr/bin/tmux clang:/usr/bin/clang \
  clang-format:/usr/bin/clang-format \
  libclang-rt-dev:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
# (clang's ASan/UBSan/libFuzzer runtimes: only a Recommends of clang on bookworm, and packages
# are installed with --no-install-recommends, so `make asan` and `make fuzz` need it listed.)

WARN      := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT       ?= -O2 -g
ARCHFLAGS ?=
CPPFLAGS  += -I. -I$(BUILD)/gen -D_GNU_SOURCE
CFLAGS    ?=
CFLAGS    += -std=c11 $(OPT) $(WARN) $(ARCHFLAGS) -pthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS    += $(PKG_LIBS) -lm -pthread

GEN_C     := $(BUILD)/gen/onnx.pb-c.c
GEN_H     := $(BUILD)/gen/onnx.pb-c.h
CORE_SRC  := $(sort $(wildcard core/*.c core/*/*.c))
PASS_SRC  := $(sort $(wildcard passes/*.c))
TUI_SRC   := $(sort $(wildcard tui/*.c))
LIB_OBJ   := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRC) $(PASS_SRC)) $(BUILD)/obj/gen/onnx.pb-c.o
TUI_OBJ   := $(patsubst %.c,$(BUILD)/obj/%.o,$(TUI_SRC))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC  := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN  := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
FMT_SRC   := $(shell git ls-files "*.c" "*.h" 2>/dev/null | grep -v "^tests/malformed/")

.PHONY: all deps deps-test run test unit e2e tuitest asan fuzz format format-check install clean check-deps bench

all: $(BUILD)/kompress

# ---- packages --------------------------------------------------------------------------
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
define need
missing=""; for p in $(1); do f=$${p#*:}; [ -e "$$f" ] || missing="$$missing $${p%%:*}"; done; \
if [ -n "$$missing" ]; then echo "kompress: installing Debian packages:$$missing"; \
  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; fi
endef
deps:
	@$(call need,$(DEB_BUILD))
deps-test: deps
	@$(call need,$(DEB_TEST))

# ---- build -----------------------------------------------------------------------------
$(GEN_C) $(GEN_H): $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	@test -r $(ONNX_PROTO) || { echo "kompress: $(ONNX_PROTO) not found (package libonnx-dev, or set ONNX_PROTO=)"; exit 1; }
	cp $(ONNX_PROTO) $(BUILD)/gen/onnx.proto
	cd $(BUILD)/gen && $(PROTOC_C) --c_out=. onnx.proto

$(BUILD)/obj/gen/onnx.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=c11 $(OPT) $(ARCHFLAGS) -w -c $< -o $@

$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libkompress.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/kompress: $(TUI_OBJ) $(BUILD)/libkompress.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TUI_OBJ) $(BUILD)/libkompress.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkompress.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(BUILD)/libkompress.a \
	  $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libkompress.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(BUILD)/libkompress.a $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- tests -----------------------------------------------------------------------------
# `make test` = packages + build + every unit test + end-to-end scripts + TUI scripts.
# The summary line "N passed, N failed" is printed by tests/run.sh.
test: deps-test
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(TOOL_BIN)
	@BUILD=$(BUILD) sh tests/run.sh

unit: all $(UNIT_BIN)
	@BUILD=$(BUILD) ONLY=unit sh tests/run.sh

# ASan + UBSan build in its own folder, running the same suite.
asan: deps-test
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" test

FUZZ_SECONDS ?= 60
fuzz: deps-test $(GEN_H)
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

bench: all $(TOOL_BIN)
	@sh tests/bench/run.sh

format:
	clang-format -i $(FMT_SRC)
format-check:
	@clang-format --dry-run --Werror $(FMT_SRC) && echo "format-check: $(words $(FMT_SRC)) files clean"

# The demo project is copied once into build/demo-project, so running it never changes the
# files in examples/ (runs, cache and plan edits live in the copy).
DEMO := $(BUILD)/demo-project
run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(DEMO) && for f in project.json cnn.onnx mlp.onnx; do \
	  [ -e $(DEMO)/$$f ] || cp examples/fashion-mnist/$$f $(DEMO)/$$f; done
	./$(BUILD)/kompress --open $(DEMO)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/kompress/themes
	install -m 755 $(BUILD)/kompress $(DESTDIR)$(PREFIX)/bin/kompress
	install -m 644 themes/*.theme $(DESTDIR)$(PREFIX)/share/kompress/themes/

clean:
	rm -rf build build-asan build-fuzz
