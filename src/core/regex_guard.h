/* regex_guard: what makes a POSIX ERE too costly to compile or to match with
 * glibc, checked before regcomp() sees it (pure C, no I/O).
 *
 * glibc expands interval repetitions ({m,n}) at compile time, so nested ones
 * multiply: "((a{1,255}){1,255}){1,255}" takes gigabytes and minutes. Back-
 * references (\1..\9, a glibc extension to ERE) can make matching take
 * exponential time. Both policies' uri_regex (core/policy.h) and the agent
 * config's process patterns (agent/config.h) are refused when they hold
 * either; this module only measures. It also finds the literal text every
 * match of an anchored ERE starts with, so that a caller can reject most
 * subjects with a compare instead of a regexec().
 */
#ifndef CONTPROF_CORE_REGEX_GUARD_H
#define CONTPROF_CORE_REGEX_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/* Largest product of interval bounds a caller should accept. */
#define REGEX_GUARD_REPEAT_MAX 1000

/* Weight of a regex holding a repetition of a repetition ("a**", "(a+)*",
 * "a*{2}"): regcomp's cost per copy grows with the nesting. */
#define REGEX_GUARD_NESTED_WEIGHT 20
/* Copies regcomp makes of closures over something that matches empty
 * ("a**", "(a|b*)*", "(a?)*"), counting intervals and '+' over them: more
 * is refused (saturated product). Their cost grows as 2^copies when the
 * ERE holds an anchor: "^a**{0,8}" 2 ms, "^a**{0,20}" 11 s. */
#define REGEX_GUARD_NULLABLE_CLOSURES_MAX 8
/* Groups tracked for nesting; deeper ones count as nested. */
#define REGEX_GUARD_GROUP_DEPTH 64

/* Product of the bounds of the interval expressions ({m}, {m,}, {m,n}, {,n})
 * of the ERE `re`, each counted as max(m, n, 1); a '+' applied to a
 * repetition or to a group holding one counts as 2 (regcomp copies what it
 * repeats); the whole times REGEX_GUARD_NESTED_WEIGHT when any repetition
 * applies to another; saturating at REGEX_GUARD_REPEAT_MAX + 1. Counting
 * repetitions in sequence as if nested overestimates, never underestimates,
 * the copies regcomp makes. REGEX_GUARD_REPEAT_MAX + 1 as well when closures
 * over something that matches empty make more than
 * REGEX_GUARD_NULLABLE_CLOSURES_MAX copies. Sets *backreference (never
 * clears it) when `re` holds \1..\9. */
unsigned long regex_guard_repeat_product(const char *re, bool *backreference);

/* The literal text every string the ERE `re` matches (whole-string subject,
 * no REG_NEWLINE, no REG_ICASE) starts with: re must start with '^' and hold
 * no '|'; the prefix is the run of plain ASCII characters after it, less the
 * last one when a repetition follows it ("^ab*" gives "a"). Written to buf
 * (NUL-terminated, cut to size - 1); returns its length, 0 for none. */
size_t regex_guard_anchored_prefix(const char *re, char *buf, size_t size);

#endif
