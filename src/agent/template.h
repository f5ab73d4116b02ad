/* template: the agent config's name templates — "{comm}", "{hostname}-{pid}" —
 * compiled once when the config loads and expanded per process.
 *
 * Placeholders: {hostname} {pid} {comm} {exe} {cgroup}; "{{" and "}}" stand for
 * literal braces. An unknown placeholder or an unbalanced brace is a compile
 * error, so a config with a typo is refused at load, not at the first match.
 * Expansion is bounded: at most TEMPLATE_MAX_OUTPUT - 1 bytes, control
 * characters replaced by '?'. This module owns no I/O; the caller supplies the
 * values. */
#ifndef CONTPROF_AGENT_TEMPLATE_H
#define CONTPROF_AGENT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

/* Longest expanded name, NUL included (service, instance, process, label value). */
#define TEMPLATE_MAX_OUTPUT 256
/* Longest template source text accepted by template_compile(). */
#define TEMPLATE_MAX_SOURCE 1024

struct template;

/* The values a template may refer to; NULL strings expand to "". */
struct template_vars {
	const char *hostname;
	uint32_t pid;
	const char *comm;
	const char *exe;
	const char *cgroup;
};

/* Compiles text. Returns 0 and *ret (caller frees with template_free), or
 * -EINVAL with a one-line reason in err (errlen bytes, may be 0), or -ENOMEM. */
int template_compile(const char *text, struct template **ret, char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
struct template *template_free(struct template *t);
/* The source text the template was compiled from. */
const char *template_source(const struct template *t);
/* True when the expansion depends on {pid} (a name that changes on restart). */
int template_uses_pid(const struct template *t);
/* Expands into buf (size >= 1; always NUL-terminated). Returns the length
 * written, or -E2BIG when the output was cut at size - 1 bytes (buf still holds
 * the truncated, valid string). */
int template_expand(const struct template *t, const struct template_vars *vars, char *buf,
		    size_t size);

#endif
