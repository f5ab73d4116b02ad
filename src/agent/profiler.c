/* profiler: the registry of profilers by target (see profiler.h). Each
 * profiler module adds its ops here when it lands; a target with none is
 * reported honestly as not available, so its tasks fail with that reason. */
#include "agent/profiler.h"

#include <stdio.h>

static const struct profiler_ops *const registry[POLICY_TARGET_COUNT] = {
    [POLICY_TARGET_ON_CPU] = NULL,
    [POLICY_TARGET_OFF_CPU] = NULL,
    [POLICY_TARGET_NETWORK] = NULL,
};

const struct profiler_ops *profiler_for(enum policy_target target, char *reason, size_t reason_len)
{
	if ((unsigned)target >= POLICY_TARGET_COUNT) {
		snprintf(reason, reason_len, "unknown target");
		return NULL;
	}
	if (!registry[target])
		snprintf(reason, reason_len, "%s profiler not available in this build",
			 policy_target_name(target));
	return registry[target];
}
