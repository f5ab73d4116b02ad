/* utf8: repairing text that must be valid UTF-8 before it goes into JSON.
 *
 * Messages built with snprintf quote what a client sent and are cut at a
 * byte limit; a cut in the middle of a character, or a client's invalid
 * bytes, make jansson refuse the string, and the message would be lost.
 * Owns only that validation and repair; pure C, no allocation, no I/O.
 */
#ifndef CONTPROF_CORE_UTF8_H
#define CONTPROF_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence (1-4 bytes, no overlong forms, no
 * surrogates, at most U+10FFFF) at the start of `s` (`len` bytes), or 0. */
size_t utf8_sequence_len(const char *s, size_t len);

/* True when the NUL-terminated `s` is valid UTF-8. */
bool utf8_valid(const char *s);

/* Rewrites the NUL-terminated `s` in place into valid UTF-8: each byte that
 * does not start a valid sequence becomes '?', except an incomplete sequence
 * at the very end (a cut), which is dropped. Returns the new length. */
size_t utf8_repair(char *s);

#endif
