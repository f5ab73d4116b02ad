/* config: see config.h. libyaml's document API builds the node graph; the
 * walkers below check each section against its schema and keep going after a
 * problem so that every reason is reported in one pass. */
#include "agent/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "core/regex_guard.h"
#include "util/parse.h"

static const char default_yaml[] =
    "# contprof up: every process on this host, by its comm, as a service of its own.\n"
    "instance: \"" CONFIG_DEFAULT_INSTANCE "\"\n"
    "processes:\n"
    "  - match: {comm: \"^\"}\n"
    "    service: \"{comm}\"\n"
    "    process: \"{comm}\"\n";

struct parser {
	yaml_document_t *doc;
	const char *name;
	struct config *config;
	struct config_errors *errors;
	size_t n_errors; /* added by this parse */
	int oom;
};

const char *config_default_yaml(void)
{
	return default_yaml;
}

const char *config_match_field_name(enum config_match_field field)
{
	switch (field) {
	case CONFIG_MATCH_CMDLINE:
		return "cmdline";
	case CONFIG_MATCH_EXE:
		return "exe";
	case CONFIG_MATCH_COMM:
		return "comm";
	}
	return "?";
}

void config_errors_clear(struct config_errors *errors)
{
	for (size_t i = 0; i < errors->count; i++)
		free(errors->messages[i]);
	free(errors->messages);
	errors->messages = NULL;
	errors->count = 0;
	errors->dropped = 0;
}

static void errors_add(struct config_errors *errors, int *oom, const char *name, int line,
		       const char *fmt, va_list ap)
{
	char msg[1024], *line_text, **grown;
	int n;

	if (errors->count >= CONFIG_MAX_ERRORS) {
		errors->dropped++;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One line per reason, whatever the quoted YAML text holds. */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (line > 0)
		n = asprintf(&line_text, "%s:%d: %s", name, line, msg);
	else
		n = asprintf(&line_text, "%s: %s", name, msg);
	if (n < 0) {
		*oom = 1;
		return;
	}
	grown = realloc(errors->messages, (errors->count + 1) * sizeof(*grown));
	if (!grown) {
		free(line_text);
		*oom = 1;
		return;
	}
	errors->messages = grown;
	errors->messages[errors->count++] = line_text;
}

__attribute__((format(printf, 3, 4))) static void fail(struct parser *p, const yaml_node_t *node,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errors_add(p->errors, &p->oom, p->name, node ? (int)node->start_mark.line + 1 : 0, fmt, ap);
	va_end(ap);
	p->n_errors++;
}

__attribute__((format(printf, 3, 4))) static void fail_line(struct parser *p, int line,
							    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errors_add(p->errors, &p->oom, p->name, line, fmt, ap);
	va_end(ap);
	p->n_errors++;
}

static void *oom_check(struct parser *p, void *ptr)
{
	if (!ptr)
		p->oom = 1;
	return ptr;
}

static const char *scalar_text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

/* The scalar's text, or NULL (with an error) when node is not a scalar, holds
 * a NUL or is longer than max bytes. */
static const char *expect_scalar(struct parser *p, const yaml_node_t *node, const char *what,
				 size_t max)
{
	if (node->type != YAML_SCALAR_NODE) {
		fail(p, node, "%s must be a single value, not a %s", what,
		     node->type == YAML_MAPPING_NODE ? "mapping" : "list");
		return NULL;
	}
	if (strlen(scalar_text(node)) != node->data.scalar.length) {
		fail(p, node, "%s holds a NUL byte", what);
		return NULL;
	}
	if (node->data.scalar.length > max) {
		fail(p, node, "%s is longer than %zu bytes", what, max);
		return NULL;
	}
	return scalar_text(node);
}

static void set_string(struct parser *p, const yaml_node_t *node, const char *what, char **field,
		       int may_be_empty)
{
	const char *s = expect_scalar(p, node, what, CONFIG_MAX_STRING);

	if (!s)
		return;
	if (!may_be_empty && !*s) {
		fail(p, node, "%s must not be empty", what);
		return;
	}
	free(*field);
	*field = oom_check(p, strdup(s));
}

static struct template *compile_template(struct parser *p, const yaml_node_t *node,
					 const char *what)
{
	const char *s = expect_scalar(p, node, what, TEMPLATE_MAX_SOURCE);
	struct template *t = NULL;
	char reason[256];
	int r;

	if (!s)
		return NULL;
	if (!*s) {
		fail(p, node, "%s must not be empty", what);
		return NULL;
	}
	r = template_compile(s, &t, reason, sizeof(reason));
	if (r == -ENOMEM)
		p->oom = 1;
	else if (r < 0)
		fail(p, node, "%s: %s", what, reason);
	return t;
}

/* A whole number of seconds or a duration ("90s", "10m") within [min, max]. */
static void set_seconds(struct parser *p, const yaml_node_t *node, const char *what,
			uint32_t *field, uint32_t min, uint32_t max)
{
	const char *s = expect_scalar(p, node, what, CONFIG_MAX_STRING);
	int64_t ms;

	if (!s)
		return;
	if (parse_duration_ms(s, &ms) < 0 || ms / 1000 < min || ms / 1000 > max) {
		fail(p, node, "%s: '%s' is not a number of seconds between %u and %u", what, s, min,
		     max);
		return;
	}
	*field = (uint32_t)(ms / 1000);
}

static void set_u32(struct parser *p, const yaml_node_t *node, const char *what, uint32_t *field,
		    uint32_t min, uint32_t max)
{
	const char *s = expect_scalar(p, node, what, CONFIG_MAX_STRING);
	uint32_t v;

	if (!s)
		return;
	if (parse_u32(s, &v) < 0 || v < min || v > max) {
		fail(p, node, "%s: '%s' is not a whole number between %u and %u", what, s, min,
		     max);
		return;
	}
	*field = v;
}

/* Walks a mapping: calls fn(key, value) for each pair with a unique string
 * key. Returns 0, or -1 when node is not a mapping (already reported). */
typedef void (*pair_fn)(struct parser *p, const char *key, yaml_node_t *key_node,
			yaml_node_t *value, void *ctx);

/* A plain YAML null ("key:" with nothing, "~", "null"). */
static int is_null(const yaml_node_t *node)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(scalar_text(node), nulls[i]) == 0)
			return 1;
	return 0;
}

/* A null stands for an empty mapping ("labels:" with nothing under it). */
static int walk_mapping(struct parser *p, yaml_node_t *node, const char *what, pair_fn fn,
			void *ctx)
{
	if (is_null(node))
		return 0;
	if (node->type != YAML_MAPPING_NODE) {
		fail(p, node, "%s must be a mapping (key: value)", what);
		return -1;
	}
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		int duplicate = 0;

		if (!k || !v)
			continue;
		if (pair - node->data.mapping.pairs.start >= CONFIG_MAX_KEYS) {
			fail(p, k, "more than %d keys in %s", CONFIG_MAX_KEYS, what);
			return 0;
		}
		if (k->type != YAML_SCALAR_NODE) {
			fail(p, k, "keys in %s must be plain strings", what);
			continue;
		}
		for (yaml_node_pair_t *prev = node->data.mapping.pairs.start; prev < pair; prev++) {
			yaml_node_t *pk = yaml_document_get_node(p->doc, prev->key);

			if (pk && pk->type == YAML_SCALAR_NODE &&
			    strcmp(scalar_text(pk), scalar_text(k)) == 0)
				duplicate = 1;
		}
		if (duplicate) {
			fail(p, k, "duplicate key '%s' in %s", scalar_text(k), what);
			continue;
		}
		fn(p, scalar_text(k), k, v, ctx);
	}
	return 0;
}

static void profiling_pair(struct parser *p, const char *key, yaml_node_t *key_node,
			   yaml_node_t *value, void *ctx)
{
	struct config_profiling *pr = ctx;

	if (strcmp(key, "oncpu_hz") == 0)
		set_u32(p, value, "profiling.oncpu_hz", &pr->oncpu_hz, CONFIG_ONCPU_HZ_MIN,
			CONFIG_ONCPU_HZ_MAX);
	else if (strcmp(key, "duration") == 0)
		set_seconds(p, value, "profiling.duration", &pr->duration_s, CONFIG_DURATION_S_MIN,
			    CONFIG_DURATION_S_MAX);
	else if (strcmp(key, "silence") == 0)
		set_seconds(p, value, "profiling.silence", &pr->silence_s, 0, CONFIG_SILENCE_S_MAX);
	else if (strcmp(key, "flush_interval") == 0)
		set_seconds(p, value, "profiling.flush_interval", &pr->flush_interval_s,
			    CONFIG_FLUSH_INTERVAL_S_MIN, CONFIG_FLUSH_INTERVAL_S_MAX);
	else if (strcmp(key, "offcpu_min_block_us") == 0)
		set_u32(p, value, "profiling.offcpu_min_block_us", &pr->offcpu_min_block_us, 0,
			CONFIG_MIN_BLOCK_US_MAX);
	else if (strcmp(key, "stack_map_entries") == 0)
		set_u32(p, value, "profiling.stack_map_entries", &pr->stack_map_entries,
			CONFIG_STACK_MAP_ENTRIES_MIN, CONFIG_STACK_MAP_ENTRIES_MAX);
	else if (strcmp(key, "unwind") == 0) {
		const char *s = expect_scalar(p, value, "profiling.unwind", CONFIG_MAX_STRING);

		if (s && strcmp(s, "cfi") == 0)
			pr->frame_pointers_only = false;
		else if (s && strcmp(s, "frame_pointers") == 0)
			pr->frame_pointers_only = true;
		else if (s)
			fail(p, value, "profiling.unwind: '%s' is cfi or frame_pointers", s);
	} else
		fail(p, key_node,
		     "unknown key '%s' in profiling (known: oncpu_hz, duration, silence, "
		     "flush_interval, unwind, offcpu_min_block_us, stack_map_entries)",
		     key);
}

static void uplink_pair(struct parser *p, const char *key, yaml_node_t *key_node,
			yaml_node_t *value, void *ctx)
{
	struct config_uplink *u = ctx;

	if (strcmp(key, "spool_max_mb") == 0)
		set_u32(p, value, "uplink.spool_max_mb", &u->spool_max_mb, 1,
			CONFIG_SPOOL_MAX_MB_MAX);
	else if (strcmp(key, "metrics_max_points") == 0)
		set_u32(p, value, "uplink.metrics_max_points", &u->metrics_max_points,
			CONFIG_METRICS_MAX_POINTS_MIN, CONFIG_METRICS_MAX_POINTS_MAX);
	else if (strcmp(key, "retry_max") == 0)
		set_seconds(p, value, "uplink.retry_max", &u->retry_max_s, 1,
			    CONFIG_RETRY_MAX_S_MAX);
	else
		fail(p, key_node,
		     "unknown key '%s' in uplink (known: spool_max_mb, metrics_max_points, "
		     "retry_max)",
		     key);
}

struct match_ctx {
	struct config_rule *rule;
	int fields_seen;
};

static void match_pair(struct parser *p, const char *key, yaml_node_t *key_node, yaml_node_t *value,
		       void *ctx)
{
	struct match_ctx *m = ctx;
	enum config_match_field field;
	const char *pattern;
	char reason[256];
	bool backreference = false;
	int r;

	if (strcmp(key, "cmdline") == 0)
		field = CONFIG_MATCH_CMDLINE;
	else if (strcmp(key, "exe") == 0)
		field = CONFIG_MATCH_EXE;
	else if (strcmp(key, "comm") == 0)
		field = CONFIG_MATCH_COMM;
	else {
		fail(p, key_node, "unknown key '%s' in match (known: cmdline, exe, comm)", key);
		return;
	}
	if (++m->fields_seen > 1) {
		fail(p, key_node, "match takes exactly one of cmdline, exe, comm; '%s' is a second",
		     key);
		return;
	}
	pattern = expect_scalar(p, value, "match pattern", CONFIG_MAX_STRING);
	if (!pattern)
		return;
	/* glibc's regcomp expands nested {m,n} (gigabytes for three levels) and
	 * back-references match in exponential time: refuse both up front. */
	if (regex_guard_repeat_product(pattern, &backreference) > REGEX_GUARD_REPEAT_MAX) {
		fail(p, value,
		     "regular expression for %s: too costly to compile: its repetitions make more "
		     "than %d copies (nested ones and loops over what matches empty count extra)",
		     key, REGEX_GUARD_REPEAT_MAX);
		return;
	}
	if (backreference) {
		fail(p, value,
		     "regular expression for %s: back-references (\\1 to \\9) are not allowed",
		     key);
		return;
	}
	r = regcomp(&m->rule->regex, pattern, REG_EXTENDED | REG_NOSUB);
	if (r != 0) {
		regerror(r, &m->rule->regex, reason, sizeof(reason));
		fail(p, value, "bad regular expression '%s' for %s: %s", pattern, key, reason);
		return;
	}
	m->rule->field = field;
	m->rule->pattern = oom_check(p, strdup(pattern));
	if (!m->rule->pattern) {
		regfree(&m->rule->regex);
		return;
	}
	{
		char prefix[CONFIG_RULE_PREFIX_MAX];

		m->rule->prefix_len = regex_guard_anchored_prefix(pattern, prefix, sizeof(prefix));
		m->rule->prefix = oom_check(p, strdup(prefix));
	}
}

bool config_rule_matches(const struct config_rule *rule, const char *subject)
{
	if (rule->prefix_len && strncmp(subject, rule->prefix, rule->prefix_len) != 0)
		return false;
	return regexec(&rule->regex, subject, 0, NULL, 0) == 0;
}

static int label_key_ok(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > CONFIG_MAX_LABEL_KEY)
		return 0;
	for (const char *c = key; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return 0;
	return 1;
}

struct labels_ctx {
	struct config_rule *rule;
	int overflow_reported;
};

static void label_pair(struct parser *p, const char *key, yaml_node_t *key_node, yaml_node_t *value,
		       void *ctx)
{
	struct labels_ctx *lc = ctx;
	struct config_rule *rule = lc->rule;
	struct config_label *grown, *label;
	struct template *t;

	if (!label_key_ok(key)) {
		fail(p, key_node, "label name '%s' must be 1 to %d printable bytes", key,
		     CONFIG_MAX_LABEL_KEY);
		return;
	}
	if (rule->n_labels >= CONFIG_MAX_LABELS) {
		if (!lc->overflow_reported++)
			fail(p, key_node, "more than %d labels in one rule", CONFIG_MAX_LABELS);
		return;
	}
	t = compile_template(p, value, "label value");
	if (!t)
		return;
	grown = oom_check(p, realloc(rule->labels, (rule->n_labels + 1) * sizeof(*grown)));
	if (!grown) {
		template_free(t);
		return;
	}
	rule->labels = grown;
	label = &rule->labels[rule->n_labels];
	label->key = oom_check(p, strdup(key));
	label->value = t;
	if (!label->key) {
		template_free(t);
		return;
	}
	rule->n_labels++;
}

struct rule_ctx {
	struct config_rule *rule;
	int has_match;
};

static void rule_pair(struct parser *p, const char *key, yaml_node_t *key_node, yaml_node_t *value,
		      void *ctx)
{
	struct rule_ctx *rc = ctx;
	struct config_rule *rule = rc->rule;

	if (strcmp(key, "match") == 0) {
		struct match_ctx m = {.rule = rule};

		rc->has_match = 1;
		if (walk_mapping(p, value, "match", match_pair, &m) == 0 && m.fields_seen == 0)
			fail(p, value, "match needs one of cmdline, exe, comm");
	} else if (strcmp(key, "service") == 0) {
		template_free(rule->service);
		rule->service = compile_template(p, value, "service");
	} else if (strcmp(key, "process") == 0) {
		template_free(rule->process);
		rule->process = compile_template(p, value, "process");
	} else if (strcmp(key, "labels") == 0) {
		struct labels_ctx lc = {.rule = rule};

		walk_mapping(p, value, "labels", label_pair, &lc);
	} else {
		fail(p, key_node,
		     "unknown key '%s' in a processes entry (known: match, service, process, "
		     "labels)",
		     key);
	}
}

static void rule_free(struct config_rule *rule)
{
	if (!rule)
		return;
	if (rule->pattern)
		regfree(&rule->regex);
	free(rule->pattern);
	free(rule->prefix);
	template_free(rule->service);
	template_free(rule->process);
	for (size_t i = 0; i < rule->n_labels; i++) {
		free(rule->labels[i].key);
		template_free(rule->labels[i].value);
	}
	free(rule->labels);
	free(rule);
}

static void parse_rule(struct parser *p, yaml_node_t *node)
{
	struct config_rule *rule = oom_check(p, calloc(1, sizeof(*rule)));
	struct rule_ctx rc = {.rule = rule};
	struct config_rule **grown;
	size_t errors_before = p->n_errors;
	char reason[256];

	if (!rule)
		return;
	rule->line = (int)node->start_mark.line + 1;
	if (walk_mapping(p, node, "a processes entry", rule_pair, &rc) < 0)
		goto drop;
	if (!rc.has_match)
		fail(p, node, "processes entry without match");
	if (!rule->service && p->n_errors == errors_before)
		fail(p, node, "processes entry without service");
	if (!rule->process && p->n_errors == errors_before &&
	    template_compile(CONFIG_DEFAULT_PROCESS, &rule->process, reason, sizeof(reason)) < 0)
		p->oom = 1;
	if (p->n_errors != errors_before || p->oom)
		goto drop;
	grown = oom_check(p, realloc(p->config->rules, (p->config->n_rules + 1) * sizeof(*grown)));
	if (!grown)
		goto drop;
	p->config->rules = grown;
	p->config->rules[p->config->n_rules++] = rule;
	return;
drop:
	rule_free(rule);
}

static void top_pair(struct parser *p, const char *key, yaml_node_t *key_node, yaml_node_t *value,
		     void *ctx)
{
	struct config *c = p->config;

	(void)ctx;
	if (strcmp(key, "server") == 0) {
		set_string(p, value, "server", &c->server, 0);
		if (c->server && strncmp(c->server, "http://", 7) != 0 &&
		    strncmp(c->server, "https://", 8) != 0)
			fail(p, value, "server '%s' must be an http:// or https:// URL", c->server);
	} else if (strcmp(key, "instance") == 0) {
		struct template *t = compile_template(p, value, "instance");

		if (t) {
			template_free(c->instance);
			c->instance = t;
		}
	} else if (strcmp(key, "processes") == 0) {
		if (is_null(value))
			return; /* "processes:" with nothing: no rules */
		if (value->type != YAML_SEQUENCE_NODE) {
			fail(p, value, "processes must be a list of entries");
			return;
		}
		for (yaml_node_item_t *item = value->data.sequence.items.start;
		     item < value->data.sequence.items.top; item++) {
			yaml_node_t *entry = yaml_document_get_node(p->doc, *item);

			if (!entry)
				continue;
			if (item - value->data.sequence.items.start >= CONFIG_MAX_RULES) {
				fail(p, entry, "more than %d processes entries", CONFIG_MAX_RULES);
				break;
			}
			parse_rule(p, entry);
		}
	} else if (strcmp(key, "profiling") == 0) {
		walk_mapping(p, value, "profiling", profiling_pair, &c->profiling);
	} else if (strcmp(key, "uplink") == 0) {
		walk_mapping(p, value, "uplink", uplink_pair, &c->uplink);
	} else if (strcmp(key, "token_file") == 0) {
		set_string(p, value, "token_file", &c->token_file, 1);
	} else if (strcmp(key, "tls_ca") == 0) {
		set_string(p, value, "tls_ca", &c->tls_ca, 1);
	} else if (strcmp(key, "tls_cert") == 0) {
		set_string(p, value, "tls_cert", &c->tls_cert, 1);
	} else if (strcmp(key, "tls_key") == 0) {
		set_string(p, value, "tls_key", &c->tls_key, 1);
	} else if (strcmp(key, "spool_dir") == 0) {
		set_string(p, value, "spool_dir", &c->spool_dir, 0);
	} else if (strcmp(key, "listen") == 0) {
		set_string(p, value, "listen", &c->listen, 1);
	} else {
		fail(p, key_node,
		     "unknown key '%s' (known: server, instance, processes, profiling, "
		     "uplink, token_file, tls_ca, tls_cert, tls_key, spool_dir, listen)",
		     key);
	}
}

struct config *config_free(struct config *c)
{
	if (!c)
		return NULL;
	free(c->source_name);
	free(c->server);
	template_free(c->instance);
	for (size_t i = 0; i < c->n_rules; i++)
		rule_free(c->rules[i]);
	free(c->rules);
	free(c->token_file);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->spool_dir);
	free(c->listen);
	free(c);
	return NULL;
}

static struct config *config_new_defaults(const char *name)
{
	struct config *c = calloc(1, sizeof(*c));
	char reason[256];

	if (!c)
		return NULL;
	c->profiling.oncpu_hz = CONFIG_DEFAULT_ONCPU_HZ;
	c->profiling.duration_s = CONFIG_DEFAULT_DURATION_S;
	c->profiling.silence_s = CONFIG_DEFAULT_SILENCE_S;
	c->profiling.flush_interval_s = CONFIG_DEFAULT_FLUSH_INTERVAL_S;
	c->profiling.offcpu_min_block_us = CONFIG_DEFAULT_MIN_BLOCK_US;
	c->profiling.stack_map_entries = CONFIG_DEFAULT_STACK_MAP_ENTRIES;
	c->uplink.spool_max_mb = CONFIG_DEFAULT_SPOOL_MAX_MB;
	c->uplink.metrics_max_points = CONFIG_DEFAULT_METRICS_MAX_POINTS;
	c->uplink.retry_max_s = CONFIG_DEFAULT_RETRY_MAX_S;
	c->source_name = strdup(name);
	c->server = strdup(CONFIG_DEFAULT_SERVER);
	c->token_file = strdup(CONFIG_DEFAULT_TOKEN_FILE);
	c->tls_ca = strdup("");
	c->tls_cert = strdup("");
	c->tls_key = strdup("");
	c->spool_dir = strdup(""); /* "": STATE/spool, under the agent's --state-dir */
	c->listen = strdup(CONFIG_DEFAULT_LISTEN);
	if (!c->source_name || !c->server || !c->token_file || !c->tls_ca || !c->tls_cert ||
	    !c->tls_key || !c->spool_dir || !c->listen ||
	    template_compile(CONFIG_DEFAULT_INSTANCE, &c->instance, reason, sizeof(reason)) < 0)
		return config_free(c);
	return c;
}

int config_parse(const char *text, size_t len, const char *name, struct config **ret,
		 struct config_errors *errors)
{
	struct parser p = {.name = name, .errors = errors};
	yaml_parser_t yp;
	yaml_document_t doc;
	yaml_node_t *root;
	int r = 0;

	if (len > CONFIG_MAX_FILE_BYTES) {
		fail(&p, NULL, "larger than %d bytes", CONFIG_MAX_FILE_BYTES);
		return -EINVAL;
	}
	p.config = config_new_defaults(name);
	if (!p.config)
		return -ENOMEM;
	if (!yaml_parser_initialize(&yp)) {
		config_free(p.config);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	if (!yaml_parser_load(&yp, &doc)) {
		if (yp.error == YAML_MEMORY_ERROR) {
			r = -ENOMEM;
		} else {
			fail_line(&p, (int)yp.problem_mark.line + 1, "YAML syntax error: %s%s%s",
				  yp.problem ? yp.problem : "malformed", yp.context ? " " : "",
				  yp.context ? yp.context : "");
			r = -EINVAL;
		}
		yaml_parser_delete(&yp);
		config_free(p.config);
		return r;
	}
	p.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root)
		walk_mapping(&p, root, "the config", top_pair, NULL);
	yaml_document_delete(&doc);
	if (yaml_parser_load(&yp, &doc)) {
		root = yaml_document_get_root_node(&doc);
		if (root)
			fail_line(&p, (int)root->start_mark.line + 1,
				  "a second YAML document; the config is one document");
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&yp);
	if (p.oom) {
		config_free(p.config);
		return -ENOMEM;
	}
	if (p.n_errors) {
		config_free(p.config);
		return -EINVAL;
	}
	*ret = p.config;
	return 0;
}

int config_load_file(const char *path, struct config **ret, struct config_errors *errors)
{
	struct parser p = {.name = path, .errors = errors};
	char *text = NULL;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		fail_line(&p, 0, "cannot open: %s", strerror(-r));
		return r;
	}
	text = malloc(CONFIG_MAX_FILE_BYTES + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, text + len, CONFIG_MAX_FILE_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			fail_line(&p, 0, "cannot read: %s", strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_FILE_BYTES)
			break;
	}
	r = config_parse(text, len, path, ret, errors);
out:
	free(text);
	close(fd);
	return r;
}

int config_load_default(struct config **ret)
{
	struct config_errors errors = {0};
	int r = config_parse(default_yaml, strlen(default_yaml), "<built-in>", ret, &errors);

	config_errors_clear(&errors);
	return r;
}
