/* taskjournal: see taskjournal.h. */
#include "agent/taskjournal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/policy.h"
#include "util/fsutil.h"
#include "util/readfile.h"

struct taskjournal {
	char *dir;
};

int taskjournal_open(const char *dir, struct taskjournal **ret)
{
	struct taskjournal *tj;
	int err = fs_mkdir_p(dir, 0700);

	if (err)
		return err;
	tj = calloc(1, sizeof(*tj));
	if (!tj)
		return -ENOMEM;
	tj->dir = strdup(dir);
	if (!tj->dir) {
		free(tj);
		return -ENOMEM;
	}
	*ret = tj;
	return 0;
}

struct taskjournal *taskjournal_close(struct taskjournal *tj)
{
	if (tj) {
		free(tj->dir);
		free(tj);
	}
	return NULL;
}

/* A task id as a file name: non-empty, no '/', not starting with '.'. */
static bool id_is_name(const char *id)
{
	return id[0] && id[0] != '.' && !strchr(id, '/') && strlen(id) < TASK_ID_MAX;
}

static int entry_path(const struct taskjournal *tj, const char *id, const char *suffix, char *buf,
		      size_t len)
{
	int n = snprintf(buf, len, "%s/%s%s", tj->dir, id, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int taskjournal_add(struct taskjournal *tj, const struct task_info *t)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	json_t *doc;
	char *text;
	int fd, err;

	if (!id_is_name(t->id))
		return -EINVAL;
	err = entry_path(tj, t->id, TASKJOURNAL_FILE_SUFFIX, path, sizeof(path));
	if (!err)
		err = entry_path(tj, t->id, ".tmp", tmp, sizeof(tmp));
	if (err)
		return err;
	doc = json_pack("{s:s, s:s, s:b, s:I, s:i}", "id", t->id, "target",
			policy_target_name(t->decision.target), "manual", t->manual, "start_time",
			(json_int_t)t->start_wall_ms, "duration", (int)t->decision.duration_s);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		free(text);
		return err;
	}
	err = fs_write_all(fd, text, strlen(text));
	free(text);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int taskjournal_remove(struct taskjournal *tj, const char *task_id)
{
	char path[PATH_MAX];
	int err;

	if (!id_is_name(task_id))
		return -EINVAL;
	err = entry_path(tj, task_id, TASKJOURNAL_FILE_SUFFIX, path, sizeof(path));
	if (err)
		return err;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Reads one entry into *t. 0 or -EINVAL (unreadable or malformed). */
static int read_entry(const char *path, struct task_info *t)
{
	char buf[TASKJOURNAL_MAX_BYTES];
	ssize_t n = readfile(path, buf, sizeof(buf));
	json_t *doc, *v;
	const char *id, *target;
	int target_no, r = -EINVAL;

	if (n <= 0)
		return -EINVAL;
	doc = json_loadb(buf, (size_t)n, 0, NULL);
	id = json_string_value(json_object_get(doc, "id"));
	target = json_string_value(json_object_get(doc, "target"));
	target_no = target ? policy_target_from_name(target) : -1;
	v = json_object_get(doc, "start_time");
	if (id && id_is_name(id) && target_no >= 0 && json_is_integer(v)) {
		memset(t, 0, sizeof(*t));
		snprintf(t->id, sizeof(t->id), "%s", id);
		t->decision.target = (enum policy_target)target_no;
		t->manual = json_is_true(json_object_get(doc, "manual"));
		t->start_wall_ms = json_integer_value(v);
		v = json_object_get(doc, "duration");
		if (json_is_integer(v) && json_integer_value(v) > 0 &&
		    json_integer_value(v) <= POLICY_DURATION_MAX_S)
			t->decision.duration_s = (uint32_t)json_integer_value(v);
		t->status = TASK_RUNNING;
		r = 0;
	}
	json_decref(doc);
	return r;
}

size_t taskjournal_recover(struct taskjournal *tj, taskjournal_fn fn, void *ctx, size_t *ret_bad)
{
	size_t suffix_len = strlen(TASKJOURNAL_FILE_SUFFIX), handed = 0, bad = 0, seen = 0;
	DIR *d = opendir(tj->dir);
	struct dirent *e;

	if (!d) {
		*ret_bad = 0;
		return 0;
	}
	while ((e = readdir(d)) && seen < TASKJOURNAL_MAX_FILES) {
		size_t len = strlen(e->d_name);
		char path[PATH_MAX];
		struct task_info t;
		bool is_tmp = len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0;

		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", tj->dir, e->d_name) >= (int)sizeof(path))
			continue;
		seen++;
		if (is_tmp) {
			unlink(path); /* a start cut short before its rename */
			continue;
		}
		if (len <= suffix_len ||
		    strcmp(e->d_name + len - suffix_len, TASKJOURNAL_FILE_SUFFIX) != 0)
			continue;
		if (read_entry(path, &t) == 0) {
			fn(ctx, &t);
			handed++;
		} else {
			bad++;
		}
		unlink(path);
	}
	closedir(d);
	*ret_bad = bad;
	return handed;
}
