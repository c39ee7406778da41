/* The HTTP server (libmicrohttpd): the core's own routes (/healthz,
 * /metrics, the web page of core/web.c) and every loaded plugin's routes,
 * on http.listen. Runs in
 * `purser serve`, and in a process of its own beside `purser daemon`. */
#ifndef PURSER_HTTP_H
#define PURSER_HTTP_H

#include <stddef.h>

#include "loader.h"
#include "settings.h"

typedef struct http_server http_server;

/* Start listening; plugins with routes are initialised here (their state
 * is shared by the server's threads). Returns the server, or NULL with
 * one line in err (bad address, port in use, a plugin's init failed).
 * `plugins` and `s` are borrowed and must outlive the server. */
http_server *http_start(const settings *s, const plugin_set *plugins, char *err, size_t errlen);

/* The port actually bound (useful when http.listen asks for port 0). */
int http_port(const http_server *srv);

/* Stop accepting, finish in-flight requests, fini the plugins, free. */
void http_stop(http_server *srv);

/* Parse "host:port" / ":port" / "port"; 0 or -1. */
int http_parse_listen(const char *text, char *host, size_t hostlen, int *port);

/* Is the HTTP server disabled (http.listen is "off" or empty)? */
int http_disabled(const settings *s);

#endif
