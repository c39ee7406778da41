/* `purser serve`: the HTTP server alone, in the foreground, until SIGTERM
 * or SIGINT. `purser daemon` runs the same in a process of its own. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "http.h"
#include "log.h"

int cli_serve_until_signal(cli_options *o)
{
    if (http_disabled(&o->s)) {
        log_error("http.listen is off: nothing to serve");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Block before the server's threads start, so they inherit the mask
     * and the signal is taken by sigwait below. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    char err[1024];
    http_server *srv = http_start(&o->s, &o->plugins, err, sizeof err);
    if (!srv) {
        log_error("%s", err);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    log_info("http: signal %d, stopping", sig);
    http_stop(srv);
    return 0;
}

int cli_serve(cli_options *o, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        log_error("usage: purser serve");
        return 2;
    }
    int rc = cli_load_plugins(o, true);
    return rc ? rc : cli_serve_until_signal(o);
}
