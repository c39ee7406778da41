/* Logging: one line per message on stderr, text or JSON. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"

static purser_log_level log_min = PURSER_LOG_INFO;
static log_format log_fmt = LOG_TEXT;
static log_sink_fn log_sink;
static void *log_sink_arg;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

void log_setup(purser_log_level min_level, log_format format)
{
    log_min = min_level;
    log_fmt = format;
}

void log_set_sink(log_sink_fn fn, void *arg)
{
    log_sink = fn;
    log_sink_arg = arg;
}

purser_log_level log_min_level(void)
{
    return log_min;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, log_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return PURSER_LOG_WARN;
    return -1;
}

const char *log_level_name(purser_log_level level)
{
    return (unsigned)level < 4 ? log_names[level] : "info";
}

void json_escape(strbuf *sb, const char *s)
{
    sb_add(sb, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            sb_add(sb, "\\\"");
            break;
        case '\\':
            sb_add(sb, "\\\\");
            break;
        case '\n':
            sb_add(sb, "\\n");
            break;
        case '\r':
            sb_add(sb, "\\r");
            break;
        case '\t':
            sb_add(sb, "\\t");
            break;
        default:
            if (*p < 0x20)
                sb_addf(sb, "\\u%04x", *p);
            else
                sb_addn(sb, (const char *)p, 1);
        }
    }
    sb_add(sb, "\"");
}

static void log_timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void log_vmsg(purser_log_level level, const char *component, int64_t run_id, const char *fmt,
              va_list ap)
{
    strbuf msg = {0};
    sb_vaddf(&msg, fmt, ap);
    const char *text = msg.data ? msg.data : "";
    if (log_sink)
        log_sink(log_sink_arg, level, component, text);
    if (level < log_min) {
        sb_free(&msg);
        return;
    }
    char ts[40];
    log_timestamp(ts, sizeof ts);
    strbuf line = {0};
    if (log_fmt == LOG_JSON) {
        sb_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":", ts, log_level_name(level));
        json_escape(&line, component);
        if (run_id)
            sb_addf(&line, ",\"run\":%lld", (long long)run_id);
        sb_add(&line, ",\"msg\":");
        json_escape(&line, text);
        sb_add(&line, "}\n");
    } else {
        sb_addf(&line, "%s %-5s [%s]", ts, log_level_name(level), component);
        if (run_id)
            sb_addf(&line, " run %lld:", (long long)run_id);
        sb_addf(&line, " %s\n", text);
    }
    fputs(line.data, stderr);
    sb_free(&line);
    sb_free(&msg);
}

void log_msg(purser_log_level level, const char *component, int64_t run_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, component, run_id, fmt, ap);
    va_end(ap);
}
