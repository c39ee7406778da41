# The ratings plugin: cJSON (review bodies), libcrypto (SHA-256 of the
# intake's bearer tokens).
ratings_LIBS := -lcjson -lcrypto
