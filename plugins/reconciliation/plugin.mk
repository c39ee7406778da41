# The reconciliation plugin: libcsv (report parsing), libcurl (fetching),
# libxlsxwriter (the workbook), libcrypto (SHA-256 of each report).
reconciliation_LIBS := -lcsv -lcurl -lxlsxwriter -lcrypto
