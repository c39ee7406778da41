# The inventory sync plugin: libcurl (warehouse, storefront, alerts), cJSON,
# the workbook writer, libm (reorder points).
inventory_sync_LIBS := -lcurl -lcjson -lxlsxwriter -lm
