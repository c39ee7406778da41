/* Progress bars on a terminal, log lines elsewhere. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* what a progress counts when its caller does not say */
#define PROGRESS_DEFAULT_UNIT "items"

void progress_start(progress *p, const char *label, uint64_t total, const char *unit)
{
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : PROGRESS_DEFAULT_UNIT);
    snprintf(p->component, sizeof p->component, "core");
    p->tty = isatty(STDERR_FILENO) == 1;
    p->started = p->last_draw = monotonic_seconds();
    p->total = total;
}

bool progress_counts_in(const progress *p, const char *unit)
{
    char stored[sizeof p->unit];
    snprintf(stored, sizeof stored, "%s", unit ? unit : PROGRESS_DEFAULT_UNIT);
    return strcmp(p->unit, stored) == 0;
}

static void progress_eta(double seconds, char *buf, size_t len)
{
    long s = (long)(seconds + 0.5);
    snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
}

static void progress_draw(progress *p, double now, bool final)
{
    double elapsed = now - p->started;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    char eta[32] = "--:--:--";
    if (p->total && rate > 0 && p->done <= p->total)
        progress_eta((double)(p->total - p->done) / rate, eta, sizeof eta);
    if (p->tty) {
        char bar[31];
        int fill = p->total ? (int)(30.0 * (double)p->done / (double)p->total) : 0;
        if (fill > 30)
            fill = 30;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(30 - fill));
        bar[30] = '\0';
        if (p->total)
            fprintf(stderr, "\r%s [%s] %llu/%llu %s  %.0f/s  left %s ", p->label, bar,
                    (unsigned long long)p->done, (unsigned long long)p->total, p->unit, rate, eta);
        else
            fprintf(stderr, "\r%s %llu %s  %.0f/s ", p->label, (unsigned long long)p->done, p->unit,
                    rate);
        if (final)
            fputc('\n', stderr);
        fflush(stderr);
    } else if (final) {
        log_msg(PURSER_LOG_INFO, p->component, p->run_id, "%s: %llu %s in %.1f s (%.0f/s)",
                p->label, (unsigned long long)p->done, p->unit, elapsed, rate);
    } else {
        log_msg(PURSER_LOG_INFO, p->component, p->run_id, "%s: %llu/%llu %s, %.0f/s, left %s",
                p->label, (unsigned long long)p->done, (unsigned long long)p->total, p->unit, rate,
                eta);
    }
}

void progress_update(progress *p, uint64_t done, uint64_t total)
{
    p->done = done;
    if (total)
        p->total = total;
    double now = monotonic_seconds();
    if (now - p->last_draw < (p->tty ? 0.1 : 5.0))
        return;
    p->last_draw = now;
    progress_draw(p, now, false);
}

void progress_finish(progress *p)
{
    progress_draw(p, monotonic_seconds(), true);
}
