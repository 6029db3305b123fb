/*
 * The fake host of the tests: the hooks a log needs (include/stockguard/
 * hooks.h, common.h), each a struct with its state, that a test puts into
 * stg_log_options through the *_hook() functions. Public API only.
 *
 *   fx_clock      a clock the test moves by hand
 *   fx_transport  a scripted marketplace: answers queued (for any job or for
 *                 one integration/SKU), or chosen by a callback, or a
 *                 default; records every job it is handed; optional
 *                 send_batch; fails as a whole on the Nth call (or from N on)
 *   fx_storage    a recording storage: entries by key, kept as
 *                 stg_entry_encode() bytes (so a reopen decodes them);
 *                 load/write/remove counters; fails every write/remove/load
 *                 with a code, or the Nth write/remove/load (or from N on)
 *   fx_alloc      a counting allocator that fails the Nth allocation (or
 *                 from N on), counts live blocks and bytes, and can hash
 *                 the call stack of a failure
 *   fx_events     an event recorder (strings copied)
 *   fx_snap       every entry of a log (through stg_log_query) or of an
 *                 fx_storage (decoded), strings copied
 *
 * Strings are copied whole, however long (keys up to STG_KEY_MAX, long
 * messages). No global state but the failure handler: several fixtures can live side
 * by side (each hook's payload is its struct). Not thread-safe: a test that
 * calls hooks from several threads at once brings its own locking.
 *
 * A broken expectation inside a hook (the log handing a job whose result is
 * not pre-filled, a batch that mixes integrations, an entry that does not
 * encode) goes to the failure handler: by default it prints and aborts; a
 * Criterion suite installs fx_set_failure_handler() with one that calls
 * cr_assert_fail(), so the test reports the message.
 *
 * The code does not depend on Criterion, so the fuzz target can use it too.
 */
#ifndef STOCKGUARD_TESTS_COMMON_FIXTURE_H
#define STOCKGUARD_TESTS_COMMON_FIXTURE_H

#include <stockguard.h>

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- failures */

/* Called with the message of a broken expectation; must not return (abort,
 * longjmp, or a Criterion assertion). NULL restores the default (abort). */
void fx_set_failure_handler(void (*handler)(const char *message));
/* A copy of s (NULL: ""), failing the test when out of memory. */
char *fx_strdup(const char *s);
void fx_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4), noreturn))
#endif
	;
#define FX_CHECK(cond, ...)                                                      \
	do {                                                                     \
		if (!(cond))                                                     \
			fx_fail(__FILE__, __LINE__, __VA_ARGS__);                \
	} while (0)

/* The countdown every failing piece shares: counts a call in *calls and
 * answers 1 when it is call fail_at (1-based; 0 never) or, with persistent,
 * any after it, counting it in *failures. */
int fx_trips(long *calls, long fail_at, int persistent, long *failures);
/* p, or p moved, with room for one more of n elements of size (capacity
 * *cap, doubled, first when empty); fails the test when out of memory. */
void *fx_grow(void *p, size_t *cap, size_t n, size_t size, size_t first);

/* Where a hook is running, for tests that call into the log from inside one. */
enum fx_where { FX_IN_SEND = 1, FX_IN_BATCH, FX_IN_WRITE, FX_IN_REMOVE, FX_IN_CLOCK, FX_IN_EVENT };
/* Called by a hook when set (see each struct's in_hook). */
typedef void (*fx_in_hook)(int where, void *ctx);

/* ---------------------------------------------------------------- clock */

typedef struct fx_clock {
	int64_t now;        /* what now_ms returns; the test moves it */
	int64_t calls;      /* now_ms calls */
	fx_in_hook in_hook; /* called (FX_IN_CLOCK) after counting, before answering */
	void *in_hook_ctx;
} fx_clock;

void fx_clock_init(fx_clock *c, int64_t now);
stg_clock fx_clock_hook(fx_clock *c);

/* ------------------------------------------------------------ transport */

/* One answer: a result, or (transport_rc != 0) the hook itself failing. */
typedef struct fx_answer {
	int outcome;
	int error_class;
	int http;
	int64_t retry_after;
	const char *message;   /* borrowed: a string literal or one that outlives the call */
	int transport_rc;      /* non-zero: the call returns this, no result, nothing recorded */
	const char *integration; /* the answer is for this integration only (NULL: any) */
	const char *sku;         /* ... and this SKU only (NULL: any) */
	int used;
} fx_answer;

/* One job as the transport saw it (strings copied, owned by the transport). */
typedef struct fx_sent {
	uint64_t id;
	char *integration;
	char *sku;
	int64_t published, available, changed_at;
	uint32_t attempt;
	int priority;
	unsigned flags;
	int64_t at;      /* the fixture clock at hand-off (0 without a clock) */
	size_t call;     /* transport call number (0-based, failed calls counted) */
	size_t batch_n;  /* jobs in that call */
	int batched;     /* came through send_batch */
	int answer;      /* the tag the chooser gave (see fx_choose), else 0 */
} fx_sent;

/* The last acknowledged (OK) quantity of a key. */
typedef struct fx_ack {
	char *integration;   /* owned */
	char *sku;
	int64_t qty;
} fx_ack;

/* Chooses the answer to a job when no queued answer matches it: fill r
 * (the log's result, reset to STG_JOB_RESULT_INIT), set *tag (recorded in
 * fx_sent.answer) and return 0, or return non-zero to fail the whole call
 * with that code (nothing of the call is recorded; queued answers it
 * matched stay consumed). Called once per job. */
typedef int (*fx_choose)(const stg_job *job, stg_job_result *r, int *tag, void *ctx);

typedef struct fx_transport {
	fx_clock *clock;       /* optional: stamps fx_sent.at */
	/* Queued answers, consumed in order, each by the first job it matches. */
	fx_answer *script;
	size_t script_len, script_cap;
	fx_answer dflt;        /* when nothing queued matches and no chooser: OK, 200 */
	fx_choose choose;      /* optional */
	void *choose_ctx;
	/* Failing as a whole: call number fail_at (1-based, counted from the last
	 * fx_transport_arm) returns fail_rc (-7); with persistent, every one after
	 * too. Nothing is recorded for a failed call. */
	long fail_at;
	int persistent;
	int fail_rc;
	long armed_calls, failures;
	/* What it saw. */
	fx_sent *sent;
	size_t nsent, sent_cap;  /* jobs handed out (not in failed calls) */
	size_t calls;            /* send / send_batch calls, failed ones too */
	fx_ack *acks;
	size_t nacks, acks_cap;  /* one per key: the last OK quantity */
	fx_in_hook in_hook;      /* FX_IN_SEND / FX_IN_BATCH at the start of each call */
	void *in_hook_ctx;
} fx_transport;

void fx_transport_init(fx_transport *t);
void fx_transport_free(fx_transport *t);
/* Forget the jobs recorded so far (their names are freed): the next one is sent[0]. */
void fx_transport_forget_sent(fx_transport *t);
/* The hook; with_batch gives it a send_batch. */
stg_transport fx_transport_hook(fx_transport *t, int with_batch);
/* Queue an answer for any job (integration, sku NULL) or one key. */
void fx_transport_push(fx_transport *t, const fx_answer *a);
void fx_transport_arm(fx_transport *t, long fail_at, int persistent);
void fx_transport_ack(fx_transport *t, const char *integration, const char *sku, int64_t qty);
const fx_ack *fx_transport_find_ack(const fx_transport *t, const char *integration, const char *sku);
/* Jobs sent for a key (NULL matches any). */
size_t fx_transport_count(const fx_transport *t, const char *integration, const char *sku);
/* The last job sent for a key, or NULL. */
const fx_sent *fx_transport_last(const fx_transport *t, const char *integration, const char *sku);

/* -------------------------------------------------------------- storage */

typedef struct fx_record {
	char *integration;
	char *sku;
	unsigned char *buf;  /* stg_entry_encode() bytes; a test may corrupt them */
	size_t len;
} fx_record;

typedef struct fx_storage {
	fx_record *recs;     /* in the order first written; a remove closes the gap */
	size_t n, cap;
	long loads, writes, removes;  /* calls that succeeded (loads: every call) */
	/* Every call failing with a code (0: succeed). */
	int write_fail, remove_fail, load_fail;
	/* The Nth write or remove (1-based, counted from the last arm) failing
	 * (-5 for a write, -6 for a remove); with persistent, every one after.
	 * With arm_load, loads are counted too (-9 for a load). */
	long fail_at;
	int persistent;
	int arm_load;
	long armed_calls, failures;
	/* Load quirks. */
	int load_duplicate;   /* stream the first record twice */
	int load_ignore_sink; /* go on (and return 0) whatever the sink says */
	int load_check_decode;/* a record that does not decode is a test failure
	                         (else load returns the decode error) */
	size_t max_name;      /* non-zero: a written key longer than max_name - 1
	                         is a test failure (the suite's own name limit) */
	int size_query;       /* ask stg_entry_encode() for the size first and check
	                         it answers EOVERFLOW (sets the thread's last error,
	                         which a suite reading stg_last_error() may not want) */
	int soft;             /* an entry that does not encode sets broken and the
	                         write returns 1, instead of a test failure (for
	                         suites that report failures their own way) */
	int broken;
	fx_in_hook in_hook;   /* FX_IN_WRITE / FX_IN_REMOVE before anything else */
	void *in_hook_ctx;
	/* Integration records (storage version 2: fx_storage_hook_v2). A
	 * write_integration fails with state_write_fail when set, and counts
	 * in the write countdown (fail_at) like an entry write. */
	char **state_names;
	unsigned *state_flags;
	size_t nstates, states_cap;
	long state_writes;
	int state_write_fail;
	int load_bad_state;   /* stream a record without a name before the others */
	/* Transactions (a version-2 hook with begin/commit/rollback when
	 * `transactional` is set before fx_storage_hook()). begin keeps a copy
	 * of the table, rollback puts it back, commit drops it. With arm_txn,
	 * begin (-7), commit (-8) and rollback (-10) count as armed calls too.
	 * With sqlite_like, a failing write or remove inside a transaction ends
	 * it (the table goes back, as SQLite does on some I/O errors): later
	 * writes and removes, and the commit, then fail (-11), as a careful store
	 * refuses to go on outside the transaction. With commit_lies, a failing commit keeps the
	 * changes (the commit happened but was reported failed) and the
	 * rollback that follows fails (-12): storage is then in doubt. */
	int transactional, arm_txn, sqlite_like, commit_lies;
	struct fx_storage *saved; /* the table at begin, while a transaction is open */
	int dead;                 /* sqlite_like: the open transaction was ended by a failure */
	long begins, commits, rollbacks; /* calls that succeeded */
} fx_storage;

void fx_storage_init(fx_storage *s);
void fx_storage_free(fx_storage *s);
stg_storage fx_storage_hook(fx_storage *s);
/* The same with version 2's integration records. */
stg_storage fx_storage_hook_v2(fx_storage *s);
/* The flags of a stored integration record, or -1 when there is none. */
long fx_storage_state(const fx_storage *s, const char *integration);
/* The hook's functions (payload: the fx_storage), for suites that wrap them. */
int fx_storage_load(stg_entry_sink sink, void *ctx, void *payload);
int fx_storage_write(const stg_entry *e, void *payload);
int fx_storage_remove(const char *integration, const char *sku, void *payload);
int fx_storage_begin(void *payload);
int fx_storage_commit(void *payload);
int fx_storage_rollback(void *payload);
void fx_storage_arm(fx_storage *s, long fail_at, int persistent);
void fx_storage_disarm(fx_storage *s);
/* Store an entry as the log would, bypassing faults, hooks and counters;
 * 0, or (soft) 1 when it does not encode. */
int fx_storage_put(fx_storage *s, const stg_entry *e);
fx_record *fx_storage_find(const fx_storage *s, const char *integration, const char *sku);
/* Decode a stored entry (strings point into the record); STG_ENOTFOUND if absent. */
int fx_storage_get(const fx_storage *s, const char *integration, const char *sku, stg_entry *out);
/* Deep copy of the table (for "storage as it was" checks); counters zero. */
void fx_storage_copy(fx_storage *dst, const fx_storage *src);

/* ---------------------------------------------------- simulated marketplace */

/*
 * A marketplace that allows `per_s` requests per second with a burst of
 * `burst` (a token bucket, as Amazon SP-API and most APIs have): a request
 * with no token left is answered 429 with a retry-after (the time until
 * the next token). With announce, every answer of a version-2 result also
 * carries the quota (limit per_s per 1000 ms, remaining). Its own
 * transport (no job recording: long simulations stay cheap).
 */
typedef struct fx_market {
	const fx_clock *clock;
	double rate, burst, tokens; /* per ms; tokens in requests */
	int64_t last;
	int announce;
	int64_t announced_limit;    /* what it announces (default per_s) */
	uint64_t calls, ok, limited;
} fx_market;

void fx_market_init(fx_market *m, const fx_clock *clock, double per_s, double burst, int announce);
/* Answer one request at the clock's time. */
int fx_market_answer(fx_market *m, stg_job_result *r);
stg_transport fx_market_hook(fx_market *m);
/* A host loop for @duration_ms of simulated time: pump, then sleep what
 * stg_log_next_due() says (at least 1 ms). STG_OK, or the failing status. */
int fx_market_run(stg_log *log, fx_clock *clock, int64_t duration_ms);

/* ------------------------------------------------------------ allocator */

#define FX_SITE_MAX 512

typedef struct fx_alloc {
	stg_allocator hook;   /* put &a->hook into the options */
	long attempts;        /* malloc and realloc calls since armed */
	long fail_at;         /* fail this attempt (1-based); 0 = never */
	int persistent;       /* and every attempt after it */
	long failures;        /* failed attempts since armed */
	long live_blocks;
	long long live_bytes;
	int record_sites;     /* hash the call stack of each failed attempt */
	uint64_t last_site;   /* stack hash of the last failure */
	uint64_t sites[FX_SITE_MAX];
	size_t nsites;        /* distinct failure stacks seen (by the caller's choice) */
} fx_alloc;

/* Blocks carry their size; freed and moved blocks are overwritten with 0xdd
 * and realloc always moves, so stale pointers read garbage. */
void fx_alloc_init(fx_alloc *a);
void fx_alloc_arm(fx_alloc *a, long fail_at, int persistent);
void fx_alloc_disarm(fx_alloc *a);
/* Remember a stack hash as one distinct failure point; returns 1 if new. */
int fx_site_add(uint64_t *sites, size_t *n, uint64_t site);

/* ------------------------------------------------------------ snapshots */

/* Entries with their strings copied (owned by the snapshot). */
typedef struct fx_snap {
	stg_entry *v;
	size_t n;
} fx_snap;

/* Every entry of a log, through stg_log_query (no filter, pages of 7); a key
 * listed twice is a test failure. */
void fx_snap_log(stg_log *log, fx_snap *out);
/* Every entry of the storage (decoded; one that does not decode is a test
 * failure). */
void fx_snap_store(const fx_storage *s, fx_snap *out);
void fx_snap_free(fx_snap *s);
const stg_entry *fx_snap_find(const fx_snap *s, const char *integration, const char *sku);

/* --------------------------------------------------------------- events */

/* One event; strings copied whole (owned by the recorder), "" for NULL. */
typedef struct fx_event {
	int type, http;
	char *integration;
	char *sku;
	int has_sku;
	char *message;
	int has_message;
	int64_t available, min_stock, latency_ms, time;
	int64_t observed;   /* OUT_OF_SYNC (1.1) */
} fx_event;

typedef struct fx_events {
	fx_event *ev;
	size_t n, cap;
	fx_in_hook in_hook;  /* FX_IN_EVENT after recording */
	void *in_hook_ctx;
} fx_events;

void fx_events_init(fx_events *e);
void fx_events_free(fx_events *e);
stg_events fx_events_hook(fx_events *e);
size_t fx_events_count(const fx_events *e, int type);
const fx_event *fx_events_last(const fx_events *e, int type);

#endif
