# The HTTP intake: cJSON (bodies), libcrypto (SHA-256 of tokens and
# bodies, HMAC of webhook signatures, random tokens), pthreads (group commit).
intake_http_LIBS := -lcjson -lcrypto -lpthread
