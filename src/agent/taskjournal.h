/* taskjournal: the agent's on-disk list of the tasks it is running, so an
 * agent that was killed (SIGKILL, OOM, crash) learns at its next start which
 * tasks it left behind and reports them FAILED instead of leaving them
 * RUNNING on the server forever.
 *
 * Layout: DIR/<task id>.task, one small JSON object per running task
 * ({id, target, manual, start_time, duration}), written to a temporary file,
 * fsync'd and renamed into place when the task starts; unlinked when it
 * ends. Owns only these files; reporting is the caller's. Not thread-safe:
 * the agent loop's thread only.
 */
#ifndef CONTPROF_AGENT_TASKJOURNAL_H
#define CONTPROF_AGENT_TASKJOURNAL_H

#include <stddef.h>

#include "agent/tasks.h"

#define TASKJOURNAL_MAX_FILES	1024 /* entries read back at most per start */
#define TASKJOURNAL_MAX_BYTES	4096 /* one entry */
#define TASKJOURNAL_FILE_SUFFIX ".task"

struct taskjournal;

/* Opens (creating DIR 0700 if needed). 0 and *ret, or -errno. */
int taskjournal_open(const char *dir, struct taskjournal **ret);
struct taskjournal *taskjournal_close(struct taskjournal *tj);

/* Records a running task durably. 0 or -errno (-EINVAL for an id that is
 * not a plain file name). */
int taskjournal_add(struct taskjournal *tj, const struct task_info *task);
/* Forgets a task (it ended). 0, or -errno other than -ENOENT. */
int taskjournal_remove(struct taskjournal *tj, const char *task_id);

/* Called once per task left behind by an earlier run of the agent: `task`
 * holds its id, target, manual flag, start time and duration (status
 * TASK_RUNNING, decision.duration_s set); the entry is removed after the
 * call. Returns the number of entries handed over; unreadable entries are
 * removed and counted in *ret_bad. */
typedef void (*taskjournal_fn)(void *ctx, const struct task_info *task);
size_t taskjournal_recover(struct taskjournal *tj, taskjournal_fn fn, void *ctx, size_t *ret_bad);

#endif
