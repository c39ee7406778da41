/* `purser daemon`: the scheduler and its workers (see daemon.c). */
#ifndef PURSER_DAEMON_H
#define PURSER_DAEMON_H

#include "cli.h"

/* Runs until SIGTERM/SIGINT; returns the process exit code. Plugins and
 * settings must be loaded in o. */
int daemon_main(cli_options *o);

#endif
