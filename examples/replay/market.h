/*
 * The simulated marketplace of stockguard-replay: a transport that answers
 * every job asynchronously after a fixed latency, and a simulated clock that
 * moves from row to row, acknowledging jobs and pumping the log's queue on
 * the way. The rate limit is the log's own (stg_log_set_limits): the tool
 * only sets it per integration and lets stg_log_next_due() say when the
 * next token comes.
 */
#ifndef REPLAY_MARKET_H
#define REPLAY_MARKET_H

#include <stockguard.h>

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/* A job handed out and not acknowledged yet (acks come in send order: the latency is fixed). */
struct flight {
	uint64_t job_id;
	int64_t ack_at;      /* ms */
	int64_t published;
	char *key;           /* "integration\0sku", to read the entry after the ack */
};

struct market {
	stg_log *log;
	int64_t *now_ms;     /* the log's clock */
	int64_t latency_ms;
	struct stats *stats;
	struct flight *q;    /* ring of in-flight jobs */
	size_t head, n, cap;
	int late;            /* set by the event hook during stg_log_complete() */
	int failed;          /* the transport ran out of memory */
};

void market_init(struct market *m, int64_t latency_ms, int64_t *now_ms, struct stats *stats);
void market_free(struct market *m);
/* The hooks for stg_log_open(); @p m must outlive the log. */
void market_hooks(struct market *m, stg_transport *transport, stg_events *events);
/* The log was opened: start driving it. */
void market_attach(struct market *m, stg_log *log);

/*
 * Move the clock forward to @p to_ms (never back), acknowledging and
 * sending whatever falls due on the way. INT64_MAX drains the queue.
 * 0, or -1 with the log's failure in *why (or NULL: out of memory).
 */
int market_advance(struct market *m, int64_t to_ms, const char **why);

#endif
