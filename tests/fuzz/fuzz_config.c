/* fuzz_config: the agent's YAML config (agent/config.h) from untrusted bytes.
 *
 * Parses the input as an agent.yaml. A refused config must give at least one
 * reason, each a single line naming the source; an accepted one must expand
 * every template of every rule within its bound and match its regexes
 * against a fixed process without fault.
 */
#include <errno.h>
#include <regex.h>
#include <string.h>

#include "agent/config.h"
#include "fuzz.h"

static const struct template_vars vars = {
    .hostname = "host-1",
    .pid = 4242,
    .comm = "nginx",
    .exe = "/usr/sbin/nginx",
    .cgroup = "/system.slice/nginx.service",
};

static void expand_checked(const struct template *t)
{
	char buf[TEMPLATE_MAX_OUTPUT];
	int n;

	if (!t)
		return;
	n = template_expand(t, &vars, buf, sizeof(buf));
	FUZZ_CHECK(n == -E2BIG || (n >= 0 && (size_t)n == strlen(buf)));
	FUZZ_CHECK(strlen(buf) < sizeof(buf));
}

static void check_valid(const struct config *c)
{
	FUZZ_CHECK(c->server && c->spool_dir && c->token_file && c->listen);
	FUZZ_CHECK(c->n_rules <= CONFIG_MAX_RULES);
	expand_checked(c->instance);
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct config_rule *rule = c->rules[i];

		FUZZ_CHECK(rule->n_labels <= CONFIG_MAX_LABELS);
		regexec(&rule->regex, "/usr/sbin/nginx -g daemon off;", 0, NULL, 0);
		expand_checked(rule->service);
		expand_checked(rule->process);
		for (size_t l = 0; l < rule->n_labels; l++) {
			FUZZ_CHECK(strlen(rule->labels[l].key) <= CONFIG_MAX_LABEL_KEY);
			expand_checked(rule->labels[l].value);
		}
	}
	FUZZ_CHECK(c->profiling.oncpu_hz >= CONFIG_ONCPU_HZ_MIN &&
		   c->profiling.oncpu_hz <= CONFIG_ONCPU_HZ_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errors = {0};
	struct config *c = NULL;
	int r;

	if (size > CONFIG_MAX_FILE_BYTES)
		return 0;
	r = config_parse((const char *)data, size, "fuzz.yaml", &c, &errors);
	if (r == 0) {
		FUZZ_CHECK(c);
		check_valid(c);
	} else {
		FUZZ_CHECK(r == -EINVAL && !c);
		FUZZ_CHECK(errors.count >= 1 && errors.count <= CONFIG_MAX_ERRORS);
		for (size_t i = 0; i < errors.count; i++) {
			FUZZ_CHECK(strncmp(errors.messages[i], "fuzz.yaml", 9) == 0);
			FUZZ_CHECK(!strchr(errors.messages[i], '\n'));
		}
	}
	config_free(c);
	config_errors_clear(&errors);
	return 0;
}
