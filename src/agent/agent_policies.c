/* agent_policies: the agent's policies — applied from the server's sync
 * answers, kept on disk (one JSON file per service under STATE/policies) and
 * applied again at start, so a restart with the server away still watches
 * and triggers with the last known policies. See agent_impl.h. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_impl.h"
#include "core/policy.h"
#include "util/log.h"

/* ---- policies on disk ---- */

/* File name of a service's policy: the service name hex-encoded, so any
 * name maps to a safe, unique file. */
static void policy_path(const struct agent *a, const char *service, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "%s/", a->policy_dir);

	for (const unsigned char *s = (const unsigned char *)service; *s && used + 3 < len; s++)
		used += (size_t)snprintf(buf + used, len - used, "%02x", *s);
	snprintf(buf + used, len - used, ".json");
}

static void persist_policy(struct agent *a, const char *service, const json_t *policy)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];

	policy_path(a, service, path, sizeof(path));
	if (!policy) {
		unlink(path);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(policy, tmp, JSON_COMPACT) != 0 || rename(tmp, path) != 0)
		log_warn("agent: cannot keep the policy of %s on disk (%s)", service, path);
}

/* ---- policies and manual tasks from the server ---- */

void agent_apply_policy(struct agent *a, const char *service, const char *version,
			const json_t *doc, bool persist)
{
	struct policy_errors errors = {0};
	struct policy *policy = NULL;

	if (!version || !doc) {
		engine_remove_policy(a->engine, service);
		json_object_del(a->versions, service);
		if (persist)
			persist_policy(a, service, NULL);
		log_info("agent: policy of %s removed", service);
	} else if (policy_from_json(doc, &policy, &errors) != 0) {
		log_warn("agent: policy of %s refused: %s", service,
			 errors.n ? errors.reasons[0] : "out of memory");
		policy_errors_clear(&errors);
		return;
	} else {
		char local_version[POLICY_VERSION_HEX_LEN + 1] = "";

		policy_version(policy, local_version);
		if (engine_set_policy(a->engine, policy) < 0) {
			log_error("agent: cannot apply the policy of %s", service);
			return;
		}
		json_object_set_new(a->versions, service, json_string(local_version));
		if (persist) {
			json_t *saved = json_pack("{s:s, s:O}", "service", service, "policy", doc);

			persist_policy(a, service, saved);
			json_decref(saved);
		}
		log_info("agent: policy of %s applied (version %.12s)", service, local_version);
	}
	agent_rewatch_all(a);
	a->processes_changed = true;
}

void agent_load_persisted_policies(struct agent *a)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(a->policy_dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		json_t *saved;

		if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->policy_dir, e->d_name);
		saved = json_load_file(path, 0, NULL);
		if (saved && json_is_string(json_object_get(saved, "service")))
			agent_apply_policy(a, json_string_value(json_object_get(saved, "service")),
					   "", json_object_get(saved, "policy"), false);
		else
			log_warn("agent: ignoring unreadable kept policy %s", path);
		json_decref(saved);
	}
	closedir(d);
}

void agent_on_policy(void *ctx, const char *service, const char *version, const json_t *doc)
{
	agent_apply_policy(ctx, service, version, doc, true);
}
