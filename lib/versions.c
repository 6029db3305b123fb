/*
 * The versioned host-filled structs: for each, the size of every version
 * this library knows and its defaults; the check, the copy and the init
 * functions built on them. See versions.h for the rule.
 */
#include "versions.h"
#include "stockguard/log.h"
#include "stockguard/marketplace.h"

#include <stddef.h>

/*
 * One descriptor per struct. SIZES lists the size of each version, oldest
 * first: when a struct grows to version 2, its row becomes
 * `offsetof(type, first_v2_field), sizeof(type)` and its header's VERSION
 * macro 2. The asserts keep the row, the macro and the struct in step.
 */
#define STG__VSTRUCT(var, label, type, VERSION, INIT, ...)                                 \
	static const size_t var##_sizes[] = { __VA_ARGS__ };                               \
	static const type var##_defaults = INIT;                                           \
	_Static_assert(sizeof var##_sizes / sizeof var##_sizes[0] == (VERSION),            \
	               label ": one size per version");                                    \
	const stg__vstruct stg__v_##var = { label, (VERSION), var##_sizes, &var##_defaults }

STG__VSTRUCT(allocator, "allocator", stg_allocator, STG_ALLOCATOR_VERSION, STG_ALLOCATOR_INIT,
             sizeof(stg_allocator));
STG__VSTRUCT(change, "change", stg_change, STG_CHANGE_VERSION, STG_CHANGE_INIT, sizeof(stg_change));
/* Version 2 names reserved words of version 1: same size, and a version-1
 * init leaves those words as they were (it writes only version 1's bytes). */
STG__VSTRUCT(entry, "entry", stg_entry, STG_ENTRY_VERSION, STG_ENTRY_INIT,
             offsetof(stg_entry, min_source), sizeof(stg_entry));
STG__VSTRUCT(storage, "storage", stg_storage, STG_STORAGE_VERSION, STG_STORAGE_INIT,
             offsetof(stg_storage, begin), sizeof(stg_storage));
STG__VSTRUCT(integration_state, "integration state", stg_integration_state,
             STG_INTEGRATION_STATE_VERSION, STG_INTEGRATION_STATE_INIT,
             sizeof(stg_integration_state));
STG__VSTRUCT(result, "result", stg_job_result, STG_JOB_RESULT_VERSION, STG_JOB_RESULT_INIT,
             offsetof(stg_job_result, quota_limit), sizeof(stg_job_result));
STG__VSTRUCT(transport, "transport", stg_transport, STG_TRANSPORT_VERSION, STG_TRANSPORT_INIT,
             sizeof(stg_transport));
STG__VSTRUCT(clock, "clock", stg_clock, STG_CLOCK_VERSION, STG_CLOCK_INIT, sizeof(stg_clock));
STG__VSTRUCT(events, "events", stg_events, STG_EVENTS_VERSION, STG_EVENTS_INIT, sizeof(stg_events));
STG__VSTRUCT(log_options, "options", stg_log_options, STG_LOG_OPTIONS_VERSION, STG_LOG_OPTIONS_INIT,
             sizeof(stg_log_options));
STG__VSTRUCT(submit, "submit", stg_submit, STG_SUBMIT_VERSION, STG_SUBMIT_INIT, sizeof(stg_submit));
STG__VSTRUCT(query, "query", stg_query, STG_QUERY_VERSION, STG_QUERY_INIT, sizeof(stg_query));
STG__VSTRUCT(message_rule, "message rule", stg_message_rule, STG_MESSAGE_RULE_VERSION,
             STG_MESSAGE_RULE_INIT, sizeof(stg_message_rule));
STG__VSTRUCT(observation, "observation", stg_observation, STG_OBSERVATION_VERSION,
             STG_OBSERVATION_INIT, sizeof(stg_observation));

STG__COLD int stg__version_fail(char *buf, const char *fn, const stg__vstruct *t, unsigned int v)
{
	return stg__fail(buf, STG_EVERSION, "%s: %s version %u unknown (this library knows versions 1 to %u)",
	                 fn, t->name, v, t->known);
}

int stg__version_check(char *buf, const char *fn, const stg__vstruct *t, const void *p)
{
	unsigned int v;

	/* Every versioned struct starts with `unsigned int version`. */
	memcpy(&v, p, sizeof v);
	return STG__VERSION_BAD(v, t->known) ? stg__version_fail(buf, fn, t, v) : STG_OK;
}

int stg__version_copy(char *buf, const char *fn, const stg__vstruct *t, const void *src, void *dst)
{
	unsigned int v;
	int rc = stg__version_check(buf, fn, t, src);

	if (rc)
		return rc;
	memcpy(&v, src, sizeof v);
	memcpy(dst, t->defaults, t->sizes[t->known - 1]);
	memcpy(dst, src, t->sizes[v - 1]);
	memcpy(dst, &t->known, sizeof t->known);
	return STG_OK;
}

int stg__version_init(const char *fn, const stg__vstruct *t, void *p, unsigned int v)
{
	if (!p)
		return stg__fail(NULL, STG_EINVAL, "%s: NULL struct", fn);
	if (STG__VERSION_BAD(v, t->known))
		return stg__version_fail(NULL, fn, t, v);
	memcpy(p, t->defaults, t->sizes[v - 1]);
	memcpy(p, &v, sizeof v);
	return STG_OK;
}

STG__DEFINE_INIT(stg_allocator_init, stg_allocator, stg__v_allocator)
STG__DEFINE_INIT(stg_change_init, stg_change, stg__v_change)
STG__DEFINE_INIT(stg_entry_init, stg_entry, stg__v_entry)
STG__DEFINE_INIT(stg_storage_init, stg_storage, stg__v_storage)
STG__DEFINE_INIT(stg_integration_state_init, stg_integration_state, stg__v_integration_state)
STG__DEFINE_INIT(stg_job_result_init, stg_job_result, stg__v_result)
STG__DEFINE_INIT(stg_transport_init, stg_transport, stg__v_transport)
STG__DEFINE_INIT(stg_clock_init, stg_clock, stg__v_clock)
STG__DEFINE_INIT(stg_events_init, stg_events, stg__v_events)
STG__DEFINE_INIT(stg_log_options_init, stg_log_options, stg__v_log_options)
STG__DEFINE_INIT(stg_submit_init, stg_submit, stg__v_submit)
STG__DEFINE_INIT(stg_query_init, stg_query, stg__v_query)
STG__DEFINE_INIT(stg_message_rule_init, stg_message_rule, stg__v_message_rule)
STG__DEFINE_INIT(stg_observation_init, stg_observation, stg__v_observation)
