/* Init functions of the host-filled structs: each equals its _INIT macro. */
#include "internal.h"
#include "stockguard/log.h"

STG__DEFINE_INIT(stg_storage_init, stg_storage, STG_STORAGE_VERSION, STG_STORAGE_INIT)
STG__DEFINE_INIT(stg_transport_init, stg_transport, STG_TRANSPORT_VERSION, STG_TRANSPORT_INIT)
STG__DEFINE_INIT(stg_result_init, stg_result, STG_RESULT_VERSION, STG_RESULT_INIT)
STG__DEFINE_INIT(stg_clock_init, stg_clock, STG_CLOCK_VERSION, STG_CLOCK_INIT)
STG__DEFINE_INIT(stg_events_init, stg_events, STG_EVENTS_VERSION, STG_EVENTS_INIT)
STG__DEFINE_INIT(stg_log_options_init, stg_log_options, STG_LOG_OPTIONS_VERSION, STG_LOG_OPTIONS_INIT)
STG__DEFINE_INIT(stg_submit_init, stg_submit, STG_SUBMIT_VERSION, STG_SUBMIT_INIT)
STG__DEFINE_INIT(stg_query_init, stg_query, STG_QUERY_VERSION, STG_QUERY_INIT)
