/* util/fnv: 64-bit FNV-1a over NUL-terminated strings, for the agent's
 * process identities (discover) and its metric series table (metricbuf).
 * Chain fnv_add from FNV_OFFSET; each string's NUL is hashed too, so
 * ("ab", "c") and ("a", "bc") differ. */
#ifndef CONTPROF_UTIL_FNV_H
#define CONTPROF_UTIL_FNV_H

#include <stdint.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static inline uint64_t fnv_add(uint64_t h, const char *s)
{
	do {
		h ^= (unsigned char)*s;
		h *= FNV_PRIME;
	} while (*s++);
	return h;
}

#endif
