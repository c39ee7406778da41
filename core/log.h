/* Logging for the core and, through the host table, for plugins: levels,
 * UTC timestamps, to stderr as text or one JSON object per line. A sink
 * may also receive every line (the runner stores a run's lines with it). */
#ifndef PURSER_LOG_H
#define PURSER_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "purser/plugin.h"

typedef enum log_format { LOG_TEXT, LOG_JSON } log_format;

/* Receives each emitted line's parts; the strings are borrowed for the call. */
typedef void (*log_sink_fn)(void *arg, purser_log_level level, const char *component,
                            const char *message);

void log_setup(purser_log_level min_level, log_format format);
void log_set_sink(log_sink_fn fn, void *arg);
/* "debug", "info", "warn", "error" -> level; -1 when unknown. */
int log_level_parse(const char *name);
purser_log_level log_min_level(void);
const char *log_level_name(purser_log_level level);

/* component: "core", a plugin's name, ...; run_id 0 when none. */
void log_vmsg(purser_log_level level, const char *component, int64_t run_id, const char *fmt,
              va_list ap);
void log_msg(purser_log_level level, const char *component, int64_t run_id, const char *fmt, ...)
    PURSER_PRINTF(4, 5);

#define log_debug(...) log_msg(PURSER_LOG_DEBUG, "core", 0, __VA_ARGS__)
#define log_info(...) log_msg(PURSER_LOG_INFO, "core", 0, __VA_ARGS__)
#define log_warn(...) log_msg(PURSER_LOG_WARN, "core", 0, __VA_ARGS__)
#define log_error(...) log_msg(PURSER_LOG_ERROR, "core", 0, __VA_ARGS__)

/* Append s to sb as a JSON string literal (with quotes). */
struct strbuf;
void json_escape(struct strbuf *sb, const char *s);

#endif
