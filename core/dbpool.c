/* Connection pool: a mutex, a condition variable and a stack of idle
 * connections. */
#include "dbpool.h"

#include <pthread.h>
#include <stdlib.h>

#include "db.h"
#include "log.h"
#include "util.h"

struct dbpool {
    const settings *s;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    PGconn **idle; /* owned */
    size_t n_idle;
    size_t open; /* idle + borrowed */
    size_t size;
};

dbpool *dbpool_new(const settings *s, size_t size)
{
    dbpool *p = xcalloc(1, sizeof *p);
    p->s = s;
    p->size = size ? size : 1;
    p->idle = xcalloc(p->size, sizeof *p->idle);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    return p;
}

PGconn *dbpool_get(dbpool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->n_idle == 0 && p->open >= p->size)
        pthread_cond_wait(&p->freed, &p->lock);
    if (p->n_idle) {
        PGconn *c = p->idle[--p->n_idle];
        pthread_mutex_unlock(&p->lock);
        return c;
    }
    p->open++;
    pthread_mutex_unlock(&p->lock);
    char err[1024];
    PGconn *c = db_open(p->s, err, sizeof err);
    if (!c) {
        log_error("%s", err);
        pthread_mutex_lock(&p->lock);
        p->open--;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
    }
    return c;
}

void dbpool_put(dbpool *p, PGconn *c)
{
    if (!c)
        return;
    int bad = PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE;
    if (bad)
        PQfinish(c);
    pthread_mutex_lock(&p->lock);
    if (bad)
        p->open--;
    else
        p->idle[p->n_idle++] = c;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

void dbpool_free(dbpool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_idle; i++)
        PQfinish(p->idle[i]);
    free(p->idle);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p);
}
