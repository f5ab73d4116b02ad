/* config: the agent's YAML config (DESIGN.md section 7) — server, instance
 * template, process rules, profiling defaults, token file, TLS files, spool
 * directory and
 * the agent's own metrics address — parsed with libyaml into an immutable
 * struct config. Regexes and templates are compiled once here.
 *
 * Every problem is collected with its line ("agent.yaml:7: unknown key
 * 'servr'"), not just the first, and the config is refused whole. Every
 * default and bound lives below, named, with its unit. Owns no process state;
 * matching a process against the rules is discover's job. */
#ifndef CONTPROF_AGENT_CONFIG_H
#define CONTPROF_AGENT_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/template.h"

/* Defaults. */
#define CONFIG_DEFAULT_SERVER		  "http://127.0.0.1:8080"
#define CONFIG_DEFAULT_INSTANCE		  "{hostname}"
#define CONFIG_DEFAULT_PROCESS		  "{comm}"
#define CONFIG_DEFAULT_ONCPU_HZ		  99
#define CONFIG_DEFAULT_MIN_BLOCK_US	  0 /* OFF_CPU: every block counted */
#define CONFIG_DEFAULT_STACK_MAP_ENTRIES  0 /* the profilers' own (profiler.h) */
#define CONFIG_DEFAULT_DURATION_S	  600
#define CONFIG_DEFAULT_SILENCE_S	  1200
#define CONFIG_DEFAULT_FLUSH_INTERVAL_S	  5
#define CONFIG_DEFAULT_TOKEN_FILE	  ""	 /* no token */
#define CONFIG_DEFAULT_LISTEN		  ""	 /* no agent metrics endpoint */
#define CONFIG_DEFAULT_SPOOL_MAX_MB	  256	 /* uplink: durable messages on disk */
#define CONFIG_DEFAULT_METRICS_MAX_POINTS 200000 /* uplink: metric points in memory */
#define CONFIG_DEFAULT_RETRY_MAX_S	  30	 /* uplink: longest wait between retries */

/* Bounds (inclusive). */
#define CONFIG_ONCPU_HZ_MIN	      1
#define CONFIG_ONCPU_HZ_MAX	      1000
#define CONFIG_MIN_BLOCK_US_MAX	      10000000 /* 10 s */
#define CONFIG_STACK_MAP_ENTRIES_MIN  1024
#define CONFIG_STACK_MAP_ENTRIES_MAX  65536 /* ~1 KiB of kernel memory each, 4 maps */
#define CONFIG_DURATION_S_MIN	      1
#define CONFIG_DURATION_S_MAX	      86400
#define CONFIG_SILENCE_S_MAX	      (7 * 86400)
#define CONFIG_FLUSH_INTERVAL_S_MIN   1
#define CONFIG_FLUSH_INTERVAL_S_MAX   60
#define CONFIG_SPOOL_MAX_MB_MAX	      (64 * 1024)
#define CONFIG_METRICS_MAX_POINTS_MIN 10
#define CONFIG_RULE_PREFIX_MAX	      256 /* bytes of a pattern's literal prefix kept, NUL included */
#define CONFIG_METRICS_MAX_POINTS_MAX 10000000
#define CONFIG_RETRY_MAX_S_MAX	      600
#define CONFIG_MAX_FILE_BYTES	      (1024 * 1024)
#define CONFIG_MAX_RULES	      1024
#define CONFIG_MAX_LABELS	      64   /* per rule */
#define CONFIG_MAX_LABEL_KEY	      64   /* bytes */
#define CONFIG_MAX_STRING	      4096 /* bytes: server, paths, listen, regexes */
#define CONFIG_MAX_KEYS		      256  /* per mapping (bounds the duplicate check) */
#define CONFIG_MAX_ERRORS	      50   /* collected; the rest are counted */

enum config_match_field {
	CONFIG_MATCH_CMDLINE,
	CONFIG_MATCH_EXE,
	CONFIG_MATCH_COMM,
};

struct config_label {
	char *key;
	struct template *value;
};

/* One `processes:` entry. */
struct config_rule {
	int line; /* 1-based line of the entry in the source */
	enum config_match_field field;
	char *pattern;
	regex_t regex; /* POSIX ERE, REG_NOSUB */
	char *prefix;  /* what every match starts with ("" none); see config_rule_matches */
	size_t prefix_len;
	struct template *service;
	struct template *process;
	struct config_label *labels;
	size_t n_labels;
};

struct config_profiling {
	uint32_t oncpu_hz;
	uint32_t duration_s;
	uint32_t silence_s;
	uint32_t flush_interval_s;
	bool frame_pointers_only;     /* unwind: frame_pointers (default cfi) */
	uint32_t offcpu_min_block_us; /* OFF_CPU: shorter blocks are not counted */
	uint32_t stack_map_entries;   /* per stack map; 0: the profilers' default */
};

/* `uplink:` — what is kept while the server is away, and how often it is
 * tried again. */
struct config_uplink {
	uint32_t spool_max_mb;
	uint32_t metrics_max_points;
	uint32_t retry_max_s;
};

struct config {
	char *source_name; /* file name, or "<built-in>" */
	char *server;
	struct template *instance;
	struct config_rule **rules; /* first match wins */
	size_t n_rules;
	struct config_profiling profiling;
	struct config_uplink uplink;
	char *token_file; /* "" = none */
	char *tls_ca;	  /* "" = the system's CAs (https server URLs) */
	char *tls_cert;	  /* "" = no client certificate */
	char *tls_key;
	char *spool_dir;
	char *listen; /* "" = no metrics endpoint */
};

/* Every reason a config was refused, "NAME:LINE: message", in source order. */
struct config_errors {
	char **messages;
	size_t count;
	size_t dropped; /* beyond CONFIG_MAX_ERRORS */
};

/* Parses text (len bytes) named name (used in messages). Returns 0 and *ret,
 * or -EINVAL with every reason in *errors (the caller clears it with
 * config_errors_clear; it may already hold messages), or -ENOMEM. */
int config_parse(const char *text, size_t len, const char *name, struct config **ret,
		 struct config_errors *errors);
/* Reads and parses a file of at most CONFIG_MAX_FILE_BYTES. Errors as
 * config_parse; an unreadable file is -errno with one message. */
int config_load_file(const char *path, struct config **ret, struct config_errors *errors);
/* The built-in config of `contprof up`: every process on the host by its comm
 * as a service of its own (kernel threads are never discovered). */
int config_load_default(struct config **ret);
/* The YAML text of the built-in config. */
const char *config_default_yaml(void);
/* Accepts NULL; returns NULL. */
struct config *config_free(struct config *c);
void config_errors_clear(struct config_errors *errors);
const char *config_match_field_name(enum config_match_field field);

/* True when rule's pattern matches subject. A subject that does not start
 * with the pattern's anchored literal prefix ("^sleep 77" of "^sleep 77[0-9]$")
 * is refused without regexec(): a busy host's new processes mostly fail a
 * rule at its first characters. */
bool config_rule_matches(const struct config_rule *rule, const char *subject);

#endif
