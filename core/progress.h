/* Progress of long-running commands: a bar with counts, rate and time left
 * on stderr when it is a terminal, plain periodic log lines otherwise. */
#ifndef PURSER_PROGRESS_H
#define PURSER_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct progress {
    char label[64];
    bool tty;
    double started;   /* monotonic seconds */
    double last_draw; /* monotonic seconds of the last output */
    uint64_t done;
    uint64_t total; /* 0 when unknown */
    char unit[24];
    char component[64]; /* log lines name it: "core" or a plugin */
    int64_t run_id;     /* and this run, when non-zero */
} progress;

/* unit NULL counts "items"; a unit longer than the struct's copy is cut. */
void progress_start(progress *p, const char *label, uint64_t total, const char *unit);
/* Does p count in unit, as progress_start would have stored it? */
bool progress_counts_in(const progress *p, const char *unit);
/* Cheap to call often: it draws at most ~10 times a second on a terminal
 * and every 5 seconds otherwise. */
void progress_update(progress *p, uint64_t done, uint64_t total);
/* Final line with the totals and the average rate. */
void progress_finish(progress *p);

double monotonic_seconds(void);

#endif
