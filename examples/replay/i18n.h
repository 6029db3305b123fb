/*
 * The words of the text summary and the HTML report in English, Portuguese
 * and Spanish. Reason, decision, warning and status names are not translated:
 * they are the names of the CSV (a contract) and of the library.
 */
#ifndef REPLAY_I18N_H
#define REPLAY_I18N_H

enum msg {
	MSG_SUMMARY,
	MSG_SETTINGS,
	MSG_MODE,
	MSG_WINDOW,
	MSG_CAP,
	MSG_NONE,
	MSG_MIN_STOCK,
	MSG_DEFAULT,
	MSG_NOT_IN_FEED,
	MSG_ROWS,
	MSG_INTEGRATION_1,
	MSG_INTEGRATION_N,
	MSG_PAIR_1,
	MSG_PAIR_N,
	MSG_EXPORTS,
	MSG_SKIPS,
	MSG_CALLS_SAVED,
	MSG_OF,
	MSG_CALLS_PER_ROW,
	MSG_WARN_ROW_1,
	MSG_WARN_ROW_N,
	MSG_LOG,
	MSG_LOG_ACCEPTS,
	MSG_LOG_LIMITED,
	MSG_CHANGES,
	MSG_ATTEMPTS,
	MSG_SUCCESSES,
	MSG_CHANGE_1,
	MSG_CHANGE_N,
	MSG_ENTRIES,
	MSG_LATENCY,
	MSG_MAX,
	MSG_ABNORMAL,
	MSG_LATER_THAN_HOUR,
	MSG_LATER_THAN,
	MSG_NONE_ACKED,
	MSG_MARKET,
	MSG_RATE,
	MSG_OTHERS,
	MSG_NO_LIMIT,
	MSG_ANSWERS_IN,
	MSG_LATE_AFTER,
	MSG_CALLS,
	MSG_BY_FILTER,
	MSG_BY_COALESCING,
	MSG_ZEROS,
	MSG_ZEROS_DETAIL,
	MSG_LATE,
	MSG_OF_THEM_ZEROS,
	MSG_DELAY,
	MSG_MEAN,
	MSG_FILTER_OFF,
	MSG_R_TITLE,
	MSG_R_FEED,
	MSG_R_SPAN,
	MSG_R_PER_HOUR,
	MSG_R_HOURS_PER_BAR,
	MSG_R_SAVED_TITLE,
	MSG_R_STOCKOUTS_TITLE,
	MSG_R_BLOCKED,
	MSG_R_LATE_TITLE,
	MSG_R_NO_MARKET,
	MSG_R_PER_INTEGRATION,
	MSG_R_TOP_SKUS,
	MSG_R_SWEEP_TITLE,
	MSG_R_SWEEP_TABLE,
	MSG_R_HOUR,
	MSG_R_SKU,
	MSG_R_FILTER_ON,
	MSG_R_WARNINGS,
	MSG_R_SHARE,
	MSG_COL_FILTER_OFF,
	MSG_WHATIF,
	MSG_COALESCED_ROWS,
	MSG_R_DELAY_TITLE,
	MSG_COUNT
};

enum lang { LANG_EN, LANG_PT, LANG_ES, LANG_COUNT };

/* The language named @p s ("en", "pt", "es"); -1 when unknown. */
int lang_parse(const char *s);
/* The language of the locale (LC_ALL, LC_MESSAGES, LANG, the first one set), else English. */
int lang_from_env(void);
/* The text of @p m in @p lang. */
const char *msg(int lang, enum msg m);
/* The first message missing from a language, as "pt: MSG_X"; NULL when all are there. */
const char *i18n_missing(void);

#endif
