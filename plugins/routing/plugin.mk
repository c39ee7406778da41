# The routing plugin links the workbook writer and cJSON (GeoJSON); the
# solver itself needs libm only.
routing_LIBS := -lm -lxlsxwriter -lcjson
