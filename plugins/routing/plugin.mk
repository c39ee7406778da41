# The routing plugin links the workbook writer, cJSON (GeoJSON, OSRM) and
# libcurl (OSRM); the solver itself needs libm only.
routing_LIBS := -lm -lxlsxwriter -lcjson -lcurl
