/* fuzz: what every libFuzzer target under tests/fuzz/ shares.
 *
 * Each fuzz_NAME.c defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize); `make fuzz-NAME` builds it in the FUZZ=1 flavour
 * (clang, ASan + UBSan, libFuzzer) and scripts/fuzz.sh runs it on its
 * committed corpus tests/fuzz/corpus/NAME/. A target checks the properties
 * the module promises (round trips, bounds) with FUZZ_CHECK, which aborts so
 * libFuzzer saves the input; crashes, leaks and UB abort through the
 * sanitizers.
 */
#ifndef CONTPROF_TESTS_FUZZ_H
#define CONTPROF_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__,      \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
