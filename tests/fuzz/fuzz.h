/*
 * Shared by the fuzz targets (tests/fuzz/fuzz_*.c) and the standalone
 * driver (replay_main.c). A target defines LLVMFuzzerTestOneInput(); it is
 * linked either with libFuzzer (tools/fuzz.sh, clang) or with replay_main.c
 * (meson test, any compiler), which feeds it every file of a directory.
 */
#ifndef STOCKGUARD_FUZZ_H
#define STOCKGUARD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A violated property: say which, then abort so that libFuzzer (or the
 * driver's exit status) reports the input. The format must be a literal.
 */
#define FUZZ_CHECK(cond, ...)                                                            \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "FUZZ CHECK FAILED %s:%d: %s\n  ", __FILE__,     \
			        __LINE__, #cond);                                        \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                             \
			fflush(stderr);                                                  \
			abort();                                                         \
		}                                                                        \
	} while (0)

#endif
