/* Unit tests for the agent config: a full valid file, defaults, the built-in
 * config, and every class of error with its line, all collected at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/config.h"
#include "harness.h"

static int parse(const char *yaml, struct config **c, struct config_errors *e)
{
	return config_parse(yaml, strlen(yaml), "agent.yaml", c, e);
}

static int has_error(const struct config_errors *e, const char *text)
{
	for (size_t i = 0; i < e->count; i++)
		if (strstr(e->messages[i], text))
			return 1;
	return 0;
}

static void dump_errors(const struct config_errors *e)
{
	for (size_t i = 0; i < e->count; i++)
		fprintf(stderr, "       error: %s\n", e->messages[i]);
}

#define CHECK_ERROR(e, text)                                                                       \
	do {                                                                                       \
		if (!CHECK(has_error((e), (text))))                                                \
			dump_errors(e);                                                            \
	} while (0)

TEST(config_full_file)
{
	const char *yaml =
	    "server: https://prof.example:8443\n"
	    "instance: \"{hostname}-blue\"\n"
	    "processes:\n"
	    "  - match: {cmdline: \"nginx: worker\"}\n"
	    "    service: web\n"
	    "    process: \"{comm}\"\n"
	    "    labels: {tier: frontend, pid: \"{pid}\"}\n"
	    "  - match:\n"
	    "      exe: ^/usr/bin/python3\n"
	    "    service: \"py-{comm}\"\n"
	    "profiling: {oncpu_hz: 49, duration: 10m, silence: 0, flush_interval: 2,\n"
	    "            unwind: frame_pointers}\n"
	    "token_file: /etc/contprof/token\n"
	    "spool_dir: /var/tmp/spool\n"
	    "listen: 127.0.0.1:9400\n";
	struct config_errors e = {0};
	struct config *c = NULL;

	if (!CHECK_INT_EQ(parse(yaml, &c, &e), 0)) {
		dump_errors(&e);
		return;
	}
	CHECK_STR_EQ(c->server, "https://prof.example:8443");
	CHECK_STR_EQ(template_source(c->instance), "{hostname}-blue");
	CHECK_INT_EQ(c->n_rules, 2);
	CHECK_INT_EQ(c->rules[0]->field, CONFIG_MATCH_CMDLINE);
	CHECK_STR_EQ(c->rules[0]->pattern, "nginx: worker");
	CHECK_INT_EQ(c->rules[0]->line, 4);
	CHECK_STR_EQ(template_source(c->rules[0]->service), "web");
	CHECK_INT_EQ(c->rules[0]->n_labels, 2);
	CHECK_STR_EQ(c->rules[0]->labels[0].key, "tier");
	CHECK_STR_EQ(template_source(c->rules[0]->labels[1].value), "{pid}");
	CHECK(regexec(&c->rules[0]->regex, "nginx: worker process", 0, NULL, 0) == 0);
	CHECK(regexec(&c->rules[0]->regex, "nginx: master process", 0, NULL, 0) != 0);
	CHECK_INT_EQ(c->rules[1]->field, CONFIG_MATCH_EXE);
	CHECK_INT_EQ(c->rules[1]->line, 8);
	CHECK_STR_EQ(template_source(c->rules[1]->process), CONFIG_DEFAULT_PROCESS);
	CHECK_INT_EQ(c->profiling.oncpu_hz, 49);
	CHECK_INT_EQ(c->profiling.duration_s, 600);
	CHECK_INT_EQ(c->profiling.silence_s, 0);
	CHECK_INT_EQ(c->profiling.flush_interval_s, 2);
	CHECK(c->profiling.frame_pointers_only);
	CHECK_STR_EQ(c->token_file, "/etc/contprof/token");
	CHECK_STR_EQ(c->spool_dir, "/var/tmp/spool");
	CHECK_STR_EQ(c->listen, "127.0.0.1:9400");
	CHECK_INT_EQ(e.count, 0);
	config_free(c);
}

TEST(config_empty_file_gives_defaults)
{
	struct config_errors e = {0};
	struct config *c = NULL;

	CHECK_INT_EQ(parse("", &c, &e), 0);
	CHECK_STR_EQ(c->server, CONFIG_DEFAULT_SERVER);
	CHECK_STR_EQ(template_source(c->instance), CONFIG_DEFAULT_INSTANCE);
	CHECK_INT_EQ(c->n_rules, 0);
	CHECK_INT_EQ(c->profiling.oncpu_hz, CONFIG_DEFAULT_ONCPU_HZ);
	CHECK_INT_EQ(c->profiling.duration_s, CONFIG_DEFAULT_DURATION_S);
	CHECK_INT_EQ(c->profiling.silence_s, CONFIG_DEFAULT_SILENCE_S);
	CHECK_INT_EQ(c->profiling.flush_interval_s, CONFIG_DEFAULT_FLUSH_INTERVAL_S);
	CHECK(!c->profiling.frame_pointers_only);
	CHECK_INT_EQ(c->profiling.offcpu_min_block_us, CONFIG_DEFAULT_MIN_BLOCK_US);
	CHECK_INT_EQ(c->profiling.stack_map_entries, CONFIG_DEFAULT_STACK_MAP_ENTRIES);
	CHECK_STR_EQ(c->spool_dir, "");
	CHECK_STR_EQ(c->token_file, "");
	CHECK_STR_EQ(c->listen, "");
	config_free(c);
	c = NULL;
	CHECK_INT_EQ(parse("# only a comment\nprocesses:\n", &c, &e), 0);
	CHECK_INT_EQ(c->n_rules, 0);
	config_free(c);
	c = NULL;
	CHECK_INT_EQ(parse("processes: ~\nprofiling:\n", &c, &e), 0);
	CHECK_INT_EQ(c->profiling.oncpu_hz, CONFIG_DEFAULT_ONCPU_HZ);
	config_free(c);
	c = NULL;
	CHECK_INT_EQ(
	    parse("processes:\n  - match: {comm: a}\n    service: s\n    labels:\n", &c, &e), 0);
	CHECK_INT_EQ(c->rules[0]->n_labels, 0);
	config_free(c);
	/* A quoted "null" is a string, not a null. */
	CHECK_INT_EQ(parse("profiling: \"null\"\n", &c, &e), -EINVAL);
	CHECK_ERROR(&e, "agent.yaml:1: profiling must be a mapping");
	config_errors_clear(&e);
}

TEST(config_builtin_default_matches_every_comm)
{
	struct config *c = NULL;

	CHECK_INT_EQ(config_load_default(&c), 0);
	CHECK_INT_EQ(c->n_rules, 1);
	CHECK_INT_EQ(c->rules[0]->field, CONFIG_MATCH_COMM);
	CHECK(regexec(&c->rules[0]->regex, "bash", 0, NULL, 0) == 0);
	CHECK_STR_EQ(template_source(c->rules[0]->service), "{comm}");
	CHECK_STR_EQ(template_source(c->rules[0]->process), "{comm}");
	CHECK_STR_EQ(c->source_name, "<built-in>");
	CHECK(strstr(config_default_yaml(), "processes:") != NULL);
	config_free(c);
}

/* A rule's literal prefix refuses subjects before regexec() and never
 * changes an answer: every subject gets regexec()'s own. */
TEST(config_rule_matches_as_regexec_does)
{
	static const char *subjects[] = {"sleep 7712", "sleep 771", "sleep 77",	   "sleep 7",
					 "bash -c x",  "",	    "xsleep 7712", "sleep 7712 "};
	struct config_errors e = {0};
	struct config *c = NULL;

	CHECK_INT_EQ(parse("processes:\n"
			   "  - match: {cmdline: \"^sleep 77[0-9]+$\"}\n    service: a\n"
			   "  - match: {cmdline: \"^sleep 7*\"}\n    service: b\n"
			   "  - match: {cmdline: \"sleep\"}\n    service: c\n",
			   &c, &e),
		     0);
	CHECK_STR_EQ(c->rules[0]->prefix, "sleep 77");
	CHECK_STR_EQ(c->rules[1]->prefix, "sleep ");
	CHECK_STR_EQ(c->rules[2]->prefix, "");
	for (size_t r = 0; r < c->n_rules; r++)
		for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
			harness_context("rule %zu, subject '%s'", r, subjects[i]);
			CHECK_INT_EQ(config_rule_matches(c->rules[r], subjects[i]),
				     regexec(&c->rules[r]->regex, subjects[i], 0, NULL, 0) == 0);
		}
	CHECK(config_rule_matches(c->rules[0], "sleep 7712"));
	CHECK(!config_rule_matches(c->rules[0], "bash"));
	config_free(c);
	config_errors_clear(&e);
}

TEST(config_yaml_syntax_error_has_line)
{
	struct config_errors e = {0};
	struct config *c = NULL;

	CHECK_INT_EQ(parse("server: a\nprocesses: [\n  - x\n", &c, &e), -EINVAL);
	CHECK(c == NULL);
	CHECK_INT_EQ(e.count, 1);
	CHECK_ERROR(&e, "YAML syntax error");
	CHECK(strncmp(e.messages[0], "agent.yaml:", 11) == 0);
	config_errors_clear(&e);
	CHECK_INT_EQ(parse("a: 1\n---\nb: 2\n", &c, &e), -EINVAL);
	CHECK_ERROR(&e, "agent.yaml:3: a second YAML document");
	config_errors_clear(&e);
}

TEST(config_collects_every_error_with_lines)
{
	const char *yaml = "servr: http://x\n"			    /* 1 */
			   "server: ftp://x\n"			    /* 2 */
			   "instance: \"{host}\"\n"		    /* 3 */
			   "processes:\n"			    /* 4 */
			   "  - match: {cmdline: \"([a-z\"}\n"	    /* 5 */
			   "    service: a\n"			    /* 6 */
			   "  - match: {comm: a, exe: b}\n"	    /* 7 */
			   "    service: b\n"			    /* 8 */
			   "  - match: {pid: 1}\n"		    /* 9 */
			   "    service: c\n"			    /* 10 */
			   "  - match: {comm: x}\n"		    /* 11 */
			   "    colour: red\n"			    /* 12 */
			   "  - service: nomatch\n"		    /* 13 */
			   "  - match: {comm: x}\n"		    /* 14 */
			   "  - match: {comm: x}\n"		    /* 15 */
			   "    service: \"{nope}\"\n"		    /* 16 */
			   "    labels: {\"\": x, ok: \"{bad}\"}\n" /* 17 */
			   "  - match: {}\n"			    /* 18 */
			   "    service: e\n"			    /* 19 */
			   "profiling:\n"			    /* 20 */
			   "  oncpu_hz: 0\n"			    /* 21 */
			   "  duration: ten\n"			    /* 22 */
			   "  silence: -5\n"			    /* 23 */
			   "  flush_interval: 61\n"		    /* 24 */
			   "  jitter: 1\n"			    /* 25 */
			   "spool_dir: \"\"\n"			    /* 26 */
			   "listen: [a, b]\n"			    /* 27 */
			   "server: http://dup\n";		    /* 28 */
	struct config_errors e = {0};
	struct config *c = NULL;

	CHECK_INT_EQ(parse(yaml, &c, &e), -EINVAL);
	CHECK(c == NULL);
	CHECK_ERROR(&e, "agent.yaml:1: unknown key 'servr'");
	CHECK_ERROR(&e, "agent.yaml:2: server 'ftp://x' must be an http:// or https:// URL");
	CHECK_ERROR(&e, "agent.yaml:3: instance: unknown placeholder {host}");
	CHECK_ERROR(&e, "agent.yaml:5: bad regular expression '([a-z'");
	CHECK_ERROR(&e, "agent.yaml:7: match takes exactly one of cmdline, exe, comm");
	CHECK_ERROR(&e, "agent.yaml:9: unknown key 'pid' in match");
	CHECK_ERROR(&e, "agent.yaml:12: unknown key 'colour' in a processes entry");
	CHECK_ERROR(&e, "agent.yaml:13: processes entry without match");
	CHECK_ERROR(&e, "agent.yaml:14: processes entry without service");
	CHECK_ERROR(&e, "agent.yaml:16: service: unknown placeholder {nope}");
	CHECK_ERROR(&e, "agent.yaml:17: label name '' must be");
	CHECK_ERROR(&e, "agent.yaml:17: label value: unknown placeholder {bad}");
	CHECK_ERROR(&e, "agent.yaml:18: match needs one of cmdline, exe, comm");
	CHECK_ERROR(&e, "agent.yaml:21: profiling.oncpu_hz: '0' is not a whole number between 1 "
			"and 1000");
	CHECK_ERROR(&e, "agent.yaml:22: profiling.duration: 'ten'");
	CHECK_ERROR(&e, "agent.yaml:23: profiling.silence: '-5'");
	CHECK_ERROR(&e, "agent.yaml:24: profiling.flush_interval: '61'");
	CHECK_ERROR(&e, "agent.yaml:25: unknown key 'jitter' in profiling");
	CHECK_ERROR(&e, "agent.yaml:26: spool_dir must not be empty");
	CHECK_ERROR(&e, "agent.yaml:27: listen must be a single value, not a list");
	CHECK_ERROR(&e, "agent.yaml:28: duplicate key 'server'");
	CHECK_INT_EQ(e.count, 22);
	config_errors_clear(&e);
	CHECK_INT_EQ(e.count, 0);
}

/* The off-CPU minimum block time (µs) and the stack maps' size: whole
 * numbers within their bounds, each limit accepted, one past it refused. */
TEST(config_profiling_min_block_and_stack_map)
{
	struct config_errors e = {0};
	struct config *c = NULL;

	if (!CHECK_INT_EQ(parse("profiling:\n"
				"  offcpu_min_block_us: 1000\n"
				"  stack_map_entries: 16384\n",
				&c, &e),
			  0)) {
		dump_errors(&e);
		return;
	}
	CHECK_INT_EQ(c->profiling.offcpu_min_block_us, 1000);
	CHECK_INT_EQ(c->profiling.stack_map_entries, 16384);
	config_free(c);
	c = NULL;
	CHECK_INT_EQ(
	    parse("profiling: {offcpu_min_block_us: 0, stack_map_entries: 1024}\n", &c, &e), 0);
	CHECK_INT_EQ(c->profiling.offcpu_min_block_us, 0);
	CHECK_INT_EQ(c->profiling.stack_map_entries, CONFIG_STACK_MAP_ENTRIES_MIN);
	config_free(c);
	c = NULL;
	CHECK_INT_EQ(
	    parse("profiling: {offcpu_min_block_us: 10000000, stack_map_entries: 65536}\n", &c, &e),
	    0);
	CHECK_INT_EQ(c->profiling.offcpu_min_block_us, CONFIG_MIN_BLOCK_US_MAX);
	CHECK_INT_EQ(c->profiling.stack_map_entries, CONFIG_STACK_MAP_ENTRIES_MAX);
	config_free(c);
	c = NULL;
	CHECK_INT_EQ(parse("profiling:\n"
			   "  offcpu_min_block_us: 10000001\n"
			   "  stack_map_entries: 1023\n",
			   &c, &e),
		     -EINVAL);
	CHECK(c == NULL);
	CHECK_ERROR(&e, "agent.yaml:2: profiling.offcpu_min_block_us: '10000001' is not a whole "
			"number between 0 and 10000000");
	CHECK_ERROR(&e, "agent.yaml:3: profiling.stack_map_entries: '1023' is not a whole number "
			"between 1024 and 65536");
	CHECK_INT_EQ(e.count, 2);
	config_errors_clear(&e);
	CHECK_INT_EQ(parse("profiling:\n"
			   "  offcpu_min_block_us: 1ms\n"
			   "  stack_map_entries: -1\n"
			   "  offcpu_min_block: 5\n",
			   &c, &e),
		     -EINVAL);
	CHECK_ERROR(&e, "agent.yaml:2: profiling.offcpu_min_block_us: '1ms'");
	CHECK_ERROR(&e, "agent.yaml:3: profiling.stack_map_entries: '-1'");
	CHECK_ERROR(&e,
		    "agent.yaml:4: unknown key 'offcpu_min_block' in profiling (known: oncpu_hz, "
		    "duration, silence, flush_interval, unwind, offcpu_min_block_us, "
		    "stack_map_entries)");
	CHECK_INT_EQ(e.count, 3);
	config_errors_clear(&e);
}

TEST(config_wrong_shapes)
{
	struct config_errors e = {0};
	struct config *c = NULL;

	CHECK_INT_EQ(parse("- a\n- b\n", &c, &e), -EINVAL);
	CHECK_ERROR(&e, "agent.yaml:1: the config must be a mapping");
	config_errors_clear(&e);
	CHECK_INT_EQ(parse("processes: {a: 1}\nprofiling: 5\n", &c, &e), -EINVAL);
	CHECK_ERROR(&e, "agent.yaml:1: processes must be a list");
	CHECK_ERROR(&e, "agent.yaml:2: profiling must be a mapping");
	config_errors_clear(&e);
	CHECK_INT_EQ(parse("processes:\n  - 5\n", &c, &e), -EINVAL);
	CHECK_ERROR(&e, "agent.yaml:2: a processes entry must be a mapping");
	config_errors_clear(&e);
}

TEST(config_error_list_is_bounded)
{
	char yaml[8192];
	struct config_errors e = {0};
	struct config *c = NULL;
	size_t used = 0;

	for (int i = 0; i < CONFIG_MAX_ERRORS + 10; i++)
		used += (size_t)snprintf(yaml + used, sizeof(yaml) - used, "bad%d: 1\n", i);
	CHECK_INT_EQ(parse(yaml, &c, &e), -EINVAL);
	CHECK_INT_EQ(e.count, CONFIG_MAX_ERRORS);
	CHECK_INT_EQ(e.dropped, 10);
	config_errors_clear(&e);
}

TEST(config_mapping_size_is_bounded)
{
	struct config_errors e = {0};
	struct config *c = NULL;
	size_t size = (CONFIG_MAX_KEYS + 2) * 24, used;
	char *yaml = malloc(size);

	used = (size_t)snprintf(yaml, size,
				"processes:\n  - match: {comm: x}\n    service: s\n"
				"    labels:\n");
	for (int i = 0; i < CONFIG_MAX_KEYS + 1; i++)
		used += (size_t)snprintf(yaml + used, size - used, "      k%d: v\n", i);
	CHECK_INT_EQ(parse(yaml, &c, &e), -EINVAL);
	CHECK_ERROR(&e, "agent.yaml:69: more than 64 labels in one rule");
	CHECK_ERROR(&e, "agent.yaml:261: more than 256 keys in labels");
	CHECK_INT_EQ(e.count, 2);
	config_errors_clear(&e);
	free(yaml);
}

TEST(config_load_file_and_missing_file)
{
	char path[] = "/tmp/contprof-config-XXXXXX";
	const char *yaml = "processes:\n  - match: {comm: ^sleep$}\n    service: s\n";
	struct config_errors e = {0};
	struct config *c = NULL;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
	close(fd);
	CHECK_INT_EQ(config_load_file(path, &c, &e), 0);
	CHECK_INT_EQ(c->n_rules, 1);
	CHECK_STR_EQ(c->source_name, path);
	config_free(c);
	unlink(path);
	c = NULL;
	CHECK_INT_EQ(config_load_file(path, &c, &e), -ENOENT);
	CHECK(c == NULL);
	CHECK_ERROR(&e, "cannot open: No such file or directory");
	config_errors_clear(&e);
	CHECK(config_free(NULL) == NULL);
}

/* Found by fuzzing: nested intervals made regcomp run for minutes (glibc
 * expands them); back-references can match in exponential time. */
TEST(config_costly_regexes_refused)
{
	const char *yaml = "processes:\n"
			   "  - match: {comm: \"((a{1,255}){1,255}){1,255}\"}\n"
			   "    service: s\n"
			   "  - match: {cmdline: \"^(a+)\\\\1$\"}\n"
			   "    service: t\n"
			   "  - match: {exe: \"^/bin/[a-z]{1,100}$\"}\n"
			   "    service: u\n";
	struct config_errors e = {0};
	struct config *c = NULL;

	CHECK_INT_EQ(parse(yaml, &c, &e), -EINVAL);
	CHECK(c == NULL);
	CHECK_INT_EQ(e.count, 2);
	CHECK_ERROR(&e, "agent.yaml:2: regular expression for comm: too costly to compile: its "
			"repetitions make more than 1000 copies");
	CHECK_ERROR(&e, "agent.yaml:4: regular expression for cmdline: back-references");
	config_errors_clear(&e);
}

/* Found by fuzzing: a reason quoting YAML text with a line break. */
TEST(config_reasons_are_one_line)
{
	const char *yaml =
	    "\"ser\\nver\": x\nprocesses:\n  - match: {comm: \"(\\t\"}\n    service: s\n";
	struct config_errors e = {0};
	struct config *c = NULL;

	CHECK_INT_EQ(parse(yaml, &c, &e), -EINVAL);
	CHECK_INT_EQ(e.count, 2);
	CHECK_ERROR(&e, "agent.yaml:1: unknown key 'ser?ver'");
	CHECK_ERROR(&e, "agent.yaml:3: bad regular expression '(?'");
	for (size_t i = 0; i < e.count; i++)
		CHECK(strchr(e.messages[i], '\n') == NULL && strchr(e.messages[i], '\t') == NULL);
	config_errors_clear(&e);
}

TEST(config_uplink_bounds)
{
	struct config_errors e = {0};
	struct config *c = NULL;

	CHECK_INT_EQ(parse("", &c, &e), 0);
	CHECK_INT_EQ(c->uplink.spool_max_mb, CONFIG_DEFAULT_SPOOL_MAX_MB);
	CHECK_INT_EQ(c->uplink.metrics_max_points, CONFIG_DEFAULT_METRICS_MAX_POINTS);
	CHECK_INT_EQ(c->uplink.retry_max_s, CONFIG_DEFAULT_RETRY_MAX_S);
	config_free(c);
	c = NULL;
	CHECK_INT_EQ(
	    parse("uplink: {spool_max_mb: 8, metrics_max_points: 300, retry_max: 2m}\n", &c, &e),
	    0);
	CHECK_INT_EQ(c->uplink.spool_max_mb, 8);
	CHECK_INT_EQ(c->uplink.metrics_max_points, 300);
	CHECK_INT_EQ(c->uplink.retry_max_s, 120);
	config_free(c);
	c = NULL;
	CHECK_INT_EQ(parse("uplink:\n  spool_max_mb: 0\n  metrics_max_points: 5\n"
			   "  retry_max: 11m\n  backlog: 3\n",
			   &c, &e),
		     -EINVAL);
	CHECK_ERROR(&e, "agent.yaml:2: uplink.spool_max_mb");
	CHECK_ERROR(&e, "agent.yaml:3: uplink.metrics_max_points");
	CHECK_ERROR(&e, "agent.yaml:4: uplink.retry_max");
	CHECK_ERROR(&e, "agent.yaml:5: unknown key 'backlog' in uplink");
	config_errors_clear(&e);
}

int main(void)
{
	RUN(config_reasons_are_one_line);
	RUN(config_costly_regexes_refused);
	RUN(config_full_file);
	RUN(config_empty_file_gives_defaults);
	RUN(config_builtin_default_matches_every_comm);
	RUN(config_rule_matches_as_regexec_does);
	RUN(config_yaml_syntax_error_has_line);
	RUN(config_collects_every_error_with_lines);
	RUN(config_profiling_min_block_and_stack_map);
	RUN(config_wrong_shapes);
	RUN(config_error_list_is_bounded);
	RUN(config_mapping_size_is_bounded);
	RUN(config_load_file_and_missing_file);
	RUN(config_uplink_bounds);
	return harness_finish();
}
