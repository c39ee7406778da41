# The parsers of plugins/reconciliation, linked into their unit test
# (the Makefile includes tests/unit/*.mk).
test_recon_parse_EXTRA := $(BUILD)/obj/plugins/reconciliation/recon_parse.o
test_recon_parse_LIBS := -lcsv
