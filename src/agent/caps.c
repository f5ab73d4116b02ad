/* caps: see caps.h. Uses the capget/capset system calls directly (the
 * version 3, 64-bit interface), so no libcap is needed. */
#include "agent/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#define CAPS_MAX 64 /* the v3 interface holds 64 bits */

uint64_t caps_agent_mask(void)
{
	return 1ULL << CAP_BPF | 1ULL << CAP_PERFMON | 1ULL << CAP_SYS_PTRACE |
	       1ULL << CAP_DAC_READ_SEARCH | 1ULL << CAP_SYS_RESOURCE;
}

struct capsets {
	uint64_t effective, permitted, inheritable;
};

static int caps_get(struct capsets *ret)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	ret->effective = data[0].effective | (uint64_t)data[1].effective << 32;
	ret->permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	ret->inheritable = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

static int caps_set(const struct capsets *c)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		data[i].effective = (uint32_t)(c->effective >> (32 * i));
		data[i].permitted = (uint32_t)(c->permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(c->inheritable >> (32 * i));
	}
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

int caps_effective(uint64_t *ret)
{
	struct capsets c;
	int r = caps_get(&c);

	if (r == 0)
		*ret = c.effective;
	return r;
}

int caps_drop_agent(uint64_t *ret_kept, char *err, size_t errlen)
{
	uint64_t keep = caps_agent_mask();
	struct capsets now, want;
	int r = caps_get(&now);

	if (r < 0) {
		snprintf(err, errlen, "cannot read the capabilities: %s", strerror(-r));
		return r;
	}
	if (!(now.permitted & keep))
		return 1;
	if (prctl(PR_CAPBSET_READ, CAP_BPF, 0, 0, 0) < 0) {
		snprintf(err, errlen, "this kernel has no CAP_BPF; keeping every capability");
		return -EOPNOTSUPP;
	}
	/* The bounding set first: dropping from it needs CAP_SETPCAP, which
	 * goes with the capset below. Unknown capabilities end the walk. */
	for (int cap = 0; cap < CAPS_MAX; cap++) {
		if (keep & (1ULL << cap))
			continue;
		r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r < 0)
			break;
		if (r == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EPERM) {
			r = -errno;
			snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s",
				 cap, strerror(-r));
			return r;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		r = -errno;
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(-r));
		return r;
	}
	want.permitted = now.permitted & keep;
	want.effective = want.permitted;
	want.inheritable = 0;
	r = caps_set(&want);
	if (r < 0) {
		snprintf(err, errlen, "cannot set the capabilities: %s", strerror(-r));
		return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(-r));
		return r;
	}
	if (ret_kept)
		*ret_kept = want.effective;
	return 0;
}
