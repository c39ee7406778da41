# The analytics plugin writes workbooks (libxlsxwriter), reads its report
# definitions with libyaml and fingerprints them with SHA-256 (libcrypto).
analytics_LIBS := -lxlsxwriter -lyaml -lcrypto -lm
