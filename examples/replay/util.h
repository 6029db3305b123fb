/*
 * What every part of stockguard-replay shares: its messages
 * ("stockguard-replay: ..."), exit codes, and the parsers of numbers and
 * names that the feed and the options both use.
 */
#ifndef REPLAY_UTIL_H
#define REPLAY_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROG "stockguard-replay"

#if defined(__GNUC__)
#  define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#  define PRINTF_LIKE(f, a)
#endif

enum { EXIT_BAD = 2, EXIT_INTERNAL = 1 };

/*
 * Write @p s (@p len bytes) for a message: at most 64 bytes, control bytes
 * and quotes escaped, so a long or binary value cannot flood the terminal.
 */
void put_quoted(FILE *f, const char *s, size_t len);
/* "stockguard-replay: <message>\n" */
void PRINTF_LIKE(1, 2) errorf(const char *fmt, ...);
/* "stockguard-replay: <message> '<value>'<tail>\n" -- @p fmt ends where the value goes. */
void PRINTF_LIKE(4, 5) errorq(const char *v, size_t vlen, const char *tail, const char *fmt, ...);
/* "Try 'stockguard-replay --help' ..." after a bad option. */
void usage_hint(void);

enum { NUM_OK, NUM_SYNTAX, NUM_RANGE };
/* A whole decimal integer, with an optional sign when @p allow_sign: a NUM_ value. */
int parse_int64(const char *s, size_t len, int allow_sign, int64_t *out);
/*
 * Text (integration, SKU, one entry of fields): NULL when fine, else what
 * is wrong. @p max: at most that many bytes (0: no limit).
 */
const char *check_text(const char *s, size_t len, size_t max);

#endif
