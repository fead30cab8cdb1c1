/*
 * nd_watchdog: the parent process that owns the signals.
 *
 * It forks the pool process once, then waits.  SIGTERM and SIGINT become one
 * byte on the exit pipe (the handler does nothing else: write(2) is
 * async-signal-safe); the pool process sees the pipe in its reactor and
 * shuts down gracefully, and the watchdog exits with its status.  SIGHUP is
 * logged and ignored.  A pool process that dies without being asked to is
 * restarted after a growing delay, at most ND_WATCHDOG_MAX_RESTARTS times a
 * minute; past that the watchdog gives up and exits 1.
 *
 * The caller must not have started any thread: fork(2) happens here.
 */
#ifndef ND_WATCHDOG_H
#define ND_WATCHDOG_H

#define ND_WATCHDOG_MAX_RESTARTS 5

/*
 * The pool process's main function.  It runs with every signal blocked and
 * gets the read end of the exit pipe (readable means stop; EOF means the
 * watchdog died, which also means stop).  Its return value is the pool
 * process's exit status.
 */
typedef int (*nd_pool_main_fn)(void *arg, int exit_fd);

/* Runs the watchdog.  Returns the status the daemon should exit with. */
int nd_watchdog_run(nd_pool_main_fn pool_main, void *arg);

#endif
