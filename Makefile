# purser: one `make` builds the host and every plugin.
#   make            build build/purser and build/plugins/*.so
#   make deps       install missing Debian packages (apt-get, as root)
#   make test       unit + integration tests against a throwaway PostgreSQL
#                   (TESTS=WORD runs only the tests whose name contains WORD)
#   make test SANITIZE=1   the same under AddressSanitizer + UBSan
#   make demo       embedded database, migrations, sample traffic, nightly jobs
#   make bench      benchmarks, each printed with its ratio to a baseline
#   make install PREFIX=/usr/local DESTDIR=

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
CC         ?= cc
SANITIZE   ?= 0
FIXTURES   ?= ../shared/fixtures

ifeq ($(SANITIZE),1)
BUILD      ?= build/sanitize
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT        := -O1
else
BUILD      ?= build
SANFLAGS   :=
OPT        := -O2
endif

# Recursive (=) so pkg-config runs after `deps` has installed it.
PKG_CFLAGS = $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
CFLAGS     += -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) $(SANFLAGS) -MMD -MP
CPPFLAGS   += -iquote core -Icore/include -iquote tests/lib $(PKG_CFLAGS) -DPURSER_VERSION='"$(VERSION)"'
LDFLAGS    += $(SANFLAGS)
CORE_LIBS  := -lpq -lyaml -lcjson -lmicrohttpd -lcurl -lcrypto -ldl -lpthread -lm
PLUGIN_CFLAGS := -fPIC -fvisibility=hidden

CORE_SRC   := $(filter-out core/main.c,$(wildcard core/*.c))
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/core_migrations.o
CORE_LIB   := $(BUILD)/libpurser-core.a
PURSER     := $(BUILD)/purser
EMBED      := $(BUILD)/tools/embed_sql

# A plugin is a folder plugins/NAME holding NAME.c; every .c in it is part
# of it, and plugins/NAME/plugin.mk may add NAME_LIBS.
PLUGINS    := $(sort $(foreach d,$(wildcard plugins/*/),$(if $(wildcard $(d)$(notdir $(d:/=)).c),$(notdir $(d:/=)))))
PLUGIN_SO  := $(PLUGINS:%=$(BUILD)/plugins/%.so)
-include $(wildcard plugins/*/plugin.mk)

.SECONDARY:
.PHONY: all deps test unit integration demo demo-reset bench fuzz install clean format check-format
all: $(PURSER) $(PLUGIN_SO) $(BUILD)/purser-plugin.pc

deps:
	@core/tools/deps.sh

# ---- the host ---------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PLUGIN_CFLAGS) -c $< -o $@

$(EMBED): core/tools/embed_sql.c | deps
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 $(WARN) $< -o $@

$(BUILD)/gen/core_migrations.c: $(sort $(wildcard core/migrations/*.sql)) $(EMBED)
	@mkdir -p $(dir $@)
	$(EMBED) core_migrations $@ $(sort $(wildcard core/migrations/*.sql))

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(PURSER): $(BUILD)/obj/core/main.o $(CORE_LIB)
	$(CC) $(LDFLAGS) $^ $(CORE_LIBS) -o $@

$(BUILD)/purser-plugin.pc: core/purser-plugin.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# ---- plugins ----------------------------------------------------------------
define plugin_rules
$(1)_SRC := $$(wildcard plugins/$(1)/*.c)
$(1)_OBJ := $$($(1)_SRC:%.c=$(BUILD)/obj/%.pic.o) $(BUILD)/obj/gen/$(1)_migrations.o
$(BUILD)/gen/$(1)_migrations.c: $$(sort $$(wildcard plugins/$(1)/migrations/*.sql)) $(EMBED)
	@mkdir -p $$(dir $$@)
	$(EMBED) $(1)_migrations $$@ $$(sort $$(wildcard plugins/$(1)/migrations/*.sql))
$(BUILD)/plugins/$(1).so: $$($(1)_OBJ)
	@mkdir -p $$(dir $$@)
	$(CC) -shared $(LDFLAGS) $$^ $$($(1)_LIBS) -lpq -o $$@
endef
$(foreach p,$(PLUGINS),$(eval $(call plugin_rules,$(p))))

$(BUILD)/obj/%.pic.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PLUGIN_CFLAGS) -c $< -o $@

# ---- tests ------------------------------------------------------------------
# Deliberately broken plugins for the loader's tests.
TEST_PLUGIN_SRC := $(wildcard tests/plugins/*.c)
TEST_PLUGINS    := $(TEST_PLUGIN_SRC:tests/plugins/%.c=$(BUILD)/test-plugins/%.so) \
                   $(BUILD)/test-plugins/not_elf.so $(BUILD)/test-plugins/example_copy.so
$(BUILD)/test-plugins/%.so: tests/plugins/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(SANFLAGS) $(PLUGIN_CFLAGS) -shared $< -o $@
$(BUILD)/test-plugins/not_elf.so:
	@mkdir -p $(dir $@)
	printf 'This is a text file posing as a plugin. It is long enough for the\ndynamic loader to read a whole ELF header and find none.\n' > $@
$(BUILD)/test-plugins/example_copy.so: $(BUILD)/plugins/example.so
	@mkdir -p $(dir $@)
	cp $< $@

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTEG_SRC  := $(wildcard tests/integration/test_*.c)
INTEG_BIN  := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
TEST_LIBS   = -lcmocka $(CORE_LIBS)
-include $(wildcard tests/unit/*.mk)

TEST_LIB_OBJ := $(BUILD)/obj/tests/lib/testdb.o
# A test may link plugin sources too: NAME_EXTRA (objects), NAME_LIBS.
test_vrp_EXTRA := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard plugins/routing/vrp_*.c))
.SECONDEXPANSION:
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_LIB_OBJ) $$($$(notdir $$@)_EXTRA) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $($(notdir $@)_LIBS) $(TEST_LIBS) -o $@

TEST_ENV = PURSER_BUILD=$(BUILD) PURSER_FIXTURES=$(FIXTURES) SANITIZE=$(SANITIZE) PURSER_TESTS=$(TESTS) \
           ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:handle_segv=0 UBSAN_OPTIONS=print_stacktrace=1

test: all $(TEST_PLUGINS) $(UNIT_BIN) $(INTEG_BIN)
	@$(TEST_ENV) tests/run.sh

unit: all $(TEST_PLUGINS) $(UNIT_BIN)
	@$(TEST_ENV) tests/run.sh --unit

# ---- fuzzing (clang's libFuzzer) ----------------------------------------------
# `make fuzz` runs the intake's request-body validators for FUZZ_SECONDS
# (60); `make test` runs a short fixed number of iterations
# (tests/integration/test_intake_fuzz.sh).
FUZZ_INTAKE_SRC := tests/fuzz/fuzz_intake.c plugins/intake_http/intake_json.c \
                   plugins/intake_http/intake_validate.c plugins/intake_http/intake_sig.c
$(BUILD)/fuzz/fuzz_intake: $(FUZZ_INTAKE_SRC) plugins/intake_http/intake_internal.h | deps
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Icore/include \
	    $(FUZZ_INTAKE_SRC) -lcjson -lcrypto -o $@
fuzz: $(BUILD)/fuzz/fuzz_intake
	@mkdir -p $(BUILD)/fuzz/corpus
	$< -max_total_time=$${FUZZ_SECONDS:-60} -max_len=16384 $(BUILD)/fuzz/corpus \
	    tests/fuzz/corpus/intake $(wildcard $(FIXTURES)/webhooks)

# ---- demo, bench, install ---------------------------------------------------
demo: all
	@PURSER_BUILD=$(BUILD) core/tools/demo.sh

# Start the demo afresh: stop the embedded database and remove var/.
demo-reset:
	-@[ -x $(BUILD)/purser ] && $(BUILD)/purser db stop
	-@[ -f var/pg/LOCATION ] && rm -rf "$$(cat var/pg/LOCATION)"
	rm -rf var

bench: all $(TEST_PLUGINS)
	@PURSER_BUILD=$(BUILD) PURSER_FIXTURES=$(FIXTURES) tests/bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/purser/plugins \
	    $(DESTDIR)$(PREFIX)/include/purser $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(PURSER) $(DESTDIR)$(PREFIX)/bin/purser
	install -m 644 $(PLUGIN_SO) $(DESTDIR)$(PREFIX)/lib/purser/plugins/
	install -m 644 core/include/purser/*.h $(DESTDIR)$(PREFIX)/include/purser/
	install -m 644 $(BUILD)/purser-plugin.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/purser
	sed 's|@PREFIX@|$(PREFIX)|g' config/purser.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/purser.service
	install -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/purser/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
