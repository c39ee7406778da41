# The settlement plugin writes its workbook with libxlsxwriter and hands it
# to a writer thread while PostgreSQL posts the ledger.
settlement_LIBS := -lxlsxwriter -lpthread
