/* Unit tests of agent/caps: in a forked child (the drop is for good), the
 * effective, permitted and bounding sets end as exactly the agent's set (of
 * what the test holds), no_new_privs is on, and a capability outside the set
 * (CAP_SYS_ADMIN: unshare of a mount namespace) is really gone. Without
 * privileges the drop reports nothing to do. */
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/caps.h"
#include "harness.h"

/* Child exit codes, one per check, so the parent can name the failure. */
enum {
	CHILD_OK,
	CHILD_DROP_FAILED,
	CHILD_WRONG_EFFECTIVE,
	CHILD_BOUNDING_KEPT,
	CHILD_NO_NNP,
	CHILD_SYS_ADMIN_KEPT,
	CHILD_NOT_PRIVILEGED,
};

static int child(uint64_t before)
{
	uint64_t kept = 0, now = 0, want = caps_agent_mask() & before;
	char err[256];
	int r = caps_drop_agent(&kept, err, sizeof(err));

	if (r == 1)
		return CHILD_NOT_PRIVILEGED;
	if (r != 0) {
		fprintf(stderr, "caps_drop_agent: %s\n", err);
		return CHILD_DROP_FAILED;
	}
	if (caps_effective(&now) < 0 || now != want || kept != want)
		return CHILD_WRONG_EFFECTIVE;
	for (int cap = 0; cap < 64; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (in < 0)
			break;
		if (in == 1 && !(caps_agent_mask() & (1ULL << cap)))
			return CHILD_BOUNDING_KEPT;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return CHILD_NO_NNP;
	if (unshare(CLONE_NEWNS) == 0 || errno != EPERM)
		return CHILD_SYS_ADMIN_KEPT;
	return CHILD_OK;
}

TEST(drop_keeps_exactly_the_agent_set)
{
	uint64_t before = 0;
	int status = 0;
	pid_t pid;

	CHECK_INT_EQ(caps_effective(&before), 0);
	if (!(before & (1ULL << CAP_SYS_ADMIN))) {
		/* Unprivileged: nothing of the set to keep or to drop. */
		if (!(before & caps_agent_mask())) {
			uint64_t kept;
			char err[256];

			CHECK_INT_EQ(caps_drop_agent(&kept, err, sizeof(err)), 1);
		}
		return;
	}
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child(before));
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_INT_EQ(WEXITSTATUS(status), CHILD_OK);
	/* The parent is untouched: the drop acts on the calling process only. */
	uint64_t after = 0;
	CHECK_INT_EQ(caps_effective(&after), 0);
	CHECK(after == before);
}

TEST(agent_set_is_the_documented_five)
{
	uint64_t m = caps_agent_mask();

	CHECK(m & (1ULL << 39)); /* CAP_BPF */
	CHECK(m & (1ULL << 38)); /* CAP_PERFMON */
	CHECK(m & (1ULL << CAP_SYS_PTRACE));
	CHECK(m & (1ULL << CAP_DAC_READ_SEARCH));
	CHECK(m & (1ULL << CAP_SYS_RESOURCE));
	CHECK_INT_EQ(__builtin_popcountll(m), 5);
	CHECK(!(m & (1ULL << CAP_SYS_ADMIN)));
	CHECK(!(m & (1ULL << CAP_DAC_OVERRIDE)));
	CHECK(!(m & (1ULL << CAP_SETUID)));
}

int main(void)
{
	RUN(drop_keeps_exactly_the_agent_set);
	RUN(agent_set_is_the_documented_five);
	return harness_finish();
}
