/*
 * tool.h - what every dh tool shares: its name in messages, the exit
 * statuses of dh(7), the common options and a checked stdout.
 */
#ifndef DH_TOOL_H
#define DH_TOOL_H

#include <stdint.h>
#include <stdio.h>

#include "dh.h"

/* Exit statuses, documented in every man page. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,      /* runtime failure: store, I/O, parse, corrupt data */
	EXIT_USAGE = 2,     /* bad options or arguments, malformed URI */
	EXIT_CONFLICT = 3,  /* a head moved under us (another writer) */
};

extern const char *tool_name;
extern int tool_verbose;   /* -v count */
extern int tool_quiet;     /* -q */

/* Set tool_name; call first in main(). */
void tool_init(const char *name);

/* "name: message\n" on stderr. */
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "name: <context>: dh_errmsg()" and return the exit status for `rc`. */
int tool_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The store URI `text` for a message: its password (and those of URIs nested
 * in it) replaced by "***", or "<unparsable URI>".  Keeps the current libdh
 * error.  Returned text is static, valid until the next call.
 */
const char *tool_uri(const char *text);

/* Exit status for a libdh error code. */
int tool_status(int rc);

/* Print "name: message", the usage line and the --help hint; exit 2. */
void tool_usage_error(const char *usage, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* Print the version line and exit 0. */
void tool_version(void) __attribute__((noreturn));

/*
 * tool_timepoint() - a time point as the time views take it: digits are a
 * tx id (below 10^11) or epoch milliseconds, anything else an RFC 3339
 * instant (2024-01-31T12:00:00Z).  *is_ms tells which.  Returns 0 or
 * DH_EUSAGE (the message names the text).
 */
int tool_timepoint(const char *t, int64_t *out, int *is_ms);

/*
 * Progress of a long job on standard error, one line rewritten in place:
 * tool_progress_start() turns it on when standard error is a terminal and
 * -q was not given; tool_progress() (a libdh progress callback) shows the
 * phase and the datoms done; tool_progress_end() ends the line.  Both do
 * nothing when progress is off.
 */
void tool_progress_start(void);
void tool_progress(const char *phase, uint64_t done, void *payload);
void tool_progress_end(void);

/*
 * tool_instant() - append the RFC 3339 UTC text of the instant `ms` (epoch
 * milliseconds), "2026-12-07T22:48:02.123Z", to `b`.  Returns 0, DH_ENOMEM.
 */
int tool_instant(struct dh_buf *b, int64_t ms);

/*
 * Flush and close stdout; a failed write (full disk, closed pipe) becomes
 * a failure.  Returns the exit status to use given the status so far.
 */
int tool_finish(int status);

#endif
