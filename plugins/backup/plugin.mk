# The backup plugin: libcrypto (SHA-256 of the dumps). pg_dump and
# pg_restore run as programs of the server's major version.
backup_LIBS := -lcrypto
