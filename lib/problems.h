/*
 * Problem records (failure details, wide values) and the interned
 * marketplace messages they point at. Never installed.
 */
#ifndef STOCKGUARD_PROBLEMS_H
#define STOCKGUARD_PROBLEMS_H

#include "log_state.h"

int stg__probs_reserve(stg_log *log, uint32_t n);
/* The entry's problem record, taking a reserved one if it has none. */
stg__prob *stg__prob_need(stg_log *log, uint32_t idx);
/* Drop the entry's problem record (the message is released). */
void stg__prob_drop(stg_log *log, uint32_t idx);
/* Drop it when it holds nothing (no failure, no wide value): after a success. */
void stg__prob_settle(stg_log *log, uint32_t idx);
void stg__probs_trim(stg_log *log);
void stg__probs_free(stg_log *log);
/* Intern a message (cut at STG_MESSAGE_MAX): its id, or 0 for NULL, "" or no memory. */
uint32_t stg__msg_intern(stg_log *log, const char *text);
void stg__msg_release(stg_log *log, uint32_t id);
void stg__msgs_free(stg_log *log);

#endif
