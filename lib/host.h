/*
 * The one place that calls the host's functions: clock, events, storage
 * load/write/remove/begin/commit/rollback, transport send/send_batch. Each
 * wrapper marks the log as inside a hook for the call (public calls then
 * answer STG_ERECURSIVE), knows which functions a hook of its version has,
 * and turns a failing hook into a status and a message on the log. Never
 * installed.
 */
#ifndef STOCKGUARD_HOST_H
#define STOCKGUARD_HOST_H

#include "log_state.h"

/* The host's clock (the system clock without one), kept in 0..INT64_MAX. */
int64_t stg__log_now(stg_log *log);
/* Hand an event to the host's handler, if any. */
void stg__log_event(stg_log *log, stg_event *ev);
/* The events held during an UNDO transaction: delivered (@deliver) or
 * dropped, oldest first; the transaction is closed first, so that none is
 * held again. */
void stg__host_events_release(stg_log *log, int deliver);
/* Storage write and remove: STG_OK, or STG_ESTORAGE with the message. */
int stg__host_write(stg_log *log, const stg_entry *e);
int stg__host_remove(stg_log *log, const char *integration, const char *sku);
/* Storage transactions (version-2 stores that have them): STG_OK, or
 * STG_ESTORAGE with the message (rollback leaves the message as it was). */
int stg__host_begin(stg_log *log);
int stg__host_commit(stg_log *log);
int stg__host_rollback(stg_log *log);
/* Storage load into @sink: the hook's own return value (0 when none). */
int stg__host_load(stg_log *log, stg_entry_sink sink, void *ctx);
/* The integration records of a version-2 storage hook: STG_OK without
 * write_integration; the load returns the hook's own value (0 without). */
int stg__host_write_integration(stg_log *log, const stg_integration_state *s);
int stg__host_load_integrations(stg_log *log, stg_integration_sink sink, void *ctx);
/* Hand n jobs to the transport (send_batch, or send one by one): the
 * hook's own return value, 0 on success; a failing send stops the batch. */
int stg__host_send(stg_log *log, const stg_job *jobs, size_t n, stg_job_result *results);

#endif
