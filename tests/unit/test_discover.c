/* Unit tests for discover on a fixture /proc: rule matching (first match
 * wins), names and labels, kernel threads and zombies skipped, identity kept
 * across a restart (by events and by rescans), "#N" ordinals, the changes
 * reported, and matching from what an exec record carries. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/discover.h"
#include "fixture.h"
#include "harness.h"

#define MAX_SEEN 64

struct seen {
	int n;
	enum discover_change change[MAX_SEEN];
	uint32_t pid[MAX_SEEN];
	char id[MAX_SEEN][DISCOVER_ID_LEN + 1];
	char name[MAX_SEEN][DISCOVER_NAME_MAX + 16];
};

static void record(enum discover_change change, const struct discover_proc *p, void *ctx)
{
	struct seen *s = ctx;

	if (s->n >= MAX_SEEN)
		return;
	s->change[s->n] = change;
	s->pid[s->n] = p->pid;
	memcpy(s->id[s->n], p->id, sizeof(s->id[0]));
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", p->name);
	s->n++;
}

/* Index of the first recorded change of pid, or -1. */
static int seen_find(const struct seen *s, enum discover_change change, uint32_t pid)
{
	for (int i = 0; i < s->n; i++)
		if (s->change[i] == change && s->pid[i] == pid)
			return i;
	return -1;
}

/* A process in the fixture: stat, cmdline (args separated by '|'), exe, cgroup. */
static void add_proc(struct fixture *f, uint32_t pid, const char *comm, const char *args,
		     const char *exe, unsigned flags, char state, unsigned long long start)
{
	char path[64], text[512], cmdline[512];
	size_t len = strlen(args);

	snprintf(path, sizeof(path), "proc/%u/stat", pid);
	snprintf(text, sizeof(text),
		 "%u (%s) %c 1 %u %u 0 -1 %u 0 0 0 0 5 5 0 0 20 0 1 0 %llu 1000 100 0\n", pid, comm,
		 state, pid, pid, flags, start);
	CHECK(fixture_write(f, path, text) == 0);
	snprintf(cmdline, sizeof(cmdline), "%s", args);
	for (char *c = cmdline; *c; c++)
		if (*c == '|')
			*c = '\0';
	snprintf(path, sizeof(path), "proc/%u/cmdline", pid);
	CHECK(fixture_write_bytes(f, path, cmdline, len ? len + 1 : 0) == 0);
	snprintf(path, sizeof(path), "proc/%u/exe", pid);
	if (exe)
		CHECK(fixture_symlink(f, path, exe) == 0);
	snprintf(path, sizeof(path), "proc/%u/cgroup", pid);
	CHECK(fixture_write(f, path, "1:name=systemd:/\n0::/system.slice/app.service\n") == 0);
}

static void remove_proc(struct fixture *f, uint32_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "proc/%u", pid);
	fixture_remove(f, path);
}

static struct config *load(const char *yaml)
{
	struct config_errors e = {0};
	struct config *c = NULL;

	if (!CHECK(config_parse(yaml, strlen(yaml), "test.yaml", &c, &e) == 0))
		for (size_t i = 0; i < e.count; i++)
			fprintf(stderr, "       %s\n", e.messages[i]);
	config_errors_clear(&e);
	return c;
}

static struct discover *open_discover(struct fixture *f, const struct config *c, struct seen *s)
{
	struct discover_options o = {.root = f->root, .hostname = "h1"};
	struct discover *d = NULL;

	CHECK(discover_new(c, &o, record, s, &d) == 0);
	return d;
}

/* A bare record (no details): discover reads the process from /proc. */
static void event(struct procevent_record *r, enum procevent_kind kind, uint32_t pid)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->pid = pid;
}

/* An exec record as the kernel sends it (procevent.bpf.c): the start time,
 * the comm and, unless args is NULL (not copied), the argument area (args
 * separated by '|'), built in buf. */
static const struct procevent_record *exec_event(void *buf, size_t size, uint32_t pid,
						 const char *comm, const char *args,
						 unsigned long long start_ticks)
{
	struct procevent_record *r = buf;
	size_t len = args ? strlen(args) + 1 : 0;

	memset(buf, 0, size);
	r->kind = PROCEVENT_EXEC;
	r->pid = pid;
	r->ppid = 1;
	snprintf(r->comm, sizeof(r->comm), "%s", comm);
	r->flags = PROCEVENT_F_DETAILS;
	r->start_boottime_ns =
	    start_ticks * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
	r->cmdline_len = (uint32_t)len;
	if (args && CHECK(sizeof(*r) + len <= size)) {
		memcpy(r->cmdline, args, len);
		for (size_t i = 0; i < len; i++)
			if (r->cmdline[i] == '|')
				r->cmdline[i] = '\0';
		r->cmdline_copied = (uint32_t)len;
		r->flags |= PROCEVENT_F_CMDLINE;
	}
	return r;
}

static const char *rules_yaml = "instance: \"{hostname}-i\"\n"
				"processes:\n"
				"  - match: {cmdline: \"nginx: worker\"}\n"
				"    service: web\n"
				"    process: worker\n"
				"    labels: {tier: front, exe: \"{exe}\", cg: \"{cgroup}\"}\n"
				"  - match: {exe: \"^/usr/bin/python3\"}\n"
				"    service: \"py\"\n"
				"  - match: {comm: \"^nginx$\"}\n"
				"    service: web\n"
				"    process: \"{comm}-{pid}\"\n";

TEST(discover_scan_matches_first_rule_and_names)
{
	struct config *c = load(rules_yaml);
	struct fixture f;
	struct seen s = {0};
	struct discover *d;
	const struct discover_proc *p;
	char want_id[DISCOVER_ID_LEN + 1];

	CHECK(fixture_init(&f) == 0);
	add_proc(&f, 10, "nginx", "nginx: master process|-g|daemon off;", "/usr/sbin/nginx", 0, 'S',
		 100);
	add_proc(&f, 11, "nginx", "nginx: worker process", "/usr/sbin/nginx", 0, 'S', 101);
	add_proc(&f, 12, "python3", "python3|app.py", "/usr/bin/python3.11", 0, 'R', 102);
	add_proc(&f, 13, "bash", "bash", "/usr/bin/bash", 0, 'S', 103);
	add_proc(&f, 2, "kthreadd", "", NULL, 0x00208040, 'S', 0);     /* kernel thread */
	add_proc(&f, 14, "nginx", "", "/usr/sbin/nginx", 0, 'Z', 104); /* zombie */
	d = open_discover(&f, c, &s);
	CHECK_INT_EQ(discover_scan(d), 3);
	CHECK_INT_EQ(discover_count(d), 3);
	CHECK_INT_EQ(s.n, 3);

	p = discover_find_pid(d, 10);
	CHECK(p && p->rule_index == 2);
	CHECK_STR_EQ(p->service, "web");
	CHECK_STR_EQ(p->instance, "h1-i");
	CHECK_STR_EQ(p->name, "nginx-10");
	CHECK_STR_EQ(p->cmdline, "nginx: master process -g daemon off;");
	CHECK_STR_EQ(p->exe, "/usr/sbin/nginx");
	CHECK_STR_EQ(p->cgroup, "/system.slice/app.service");
	discover_identity("h1", "web", "h1-i", "nginx-10", want_id);
	CHECK_STR_EQ(p->id, want_id);

	p = discover_find_pid(d, 11);
	CHECK(p && p->rule_index == 0); /* first match wins over the comm rule */
	CHECK_STR_EQ(p->name, "worker");
	CHECK_INT_EQ(p->n_labels, 3);
	CHECK_STR_EQ(p->labels[0].key, "tier");
	CHECK_STR_EQ(p->labels[0].value, "front");
	CHECK_STR_EQ(p->labels[1].value, "/usr/sbin/nginx");
	CHECK_STR_EQ(p->labels[2].value, "/system.slice/app.service");

	p = discover_find_pid(d, 12);
	CHECK(p && p->rule_index == 1);
	CHECK_STR_EQ(p->service, "py");
	CHECK_STR_EQ(p->name, "python3");
	CHECK(discover_find_id(d, p->id) == p);

	CHECK(discover_find_pid(d, 13) == NULL); /* no rule */
	CHECK(discover_find_pid(d, 2) == NULL);	 /* kernel thread */
	CHECK(discover_find_pid(d, 14) == NULL); /* zombie */
	CHECK(discover_at(d, 0)->pid == 10 && discover_at(d, 2)->pid == 12);
	CHECK(discover_at(d, 3) == NULL);
	/* A second scan of an unchanged host reports nothing. */
	CHECK_INT_EQ(discover_scan(d), 0);
	CHECK_INT_EQ(s.n, 3);
	discover_free(d);
	config_free(c);
	fixture_cleanup(&f);
}

static const char *app_yaml = "processes:\n"
			      "  - match: {comm: \"^app$\"}\n"
			      "    service: svc\n";

TEST(discover_restart_by_events_keeps_identity)
{
	struct config *c = load(app_yaml);
	struct procevent_record ev;
	struct fixture f;
	struct seen s = {0};
	struct discover *d;
	char first_id[DISCOVER_ID_LEN + 1];

	CHECK(fixture_init(&f) == 0);
	add_proc(&f, 100, "app", "./app", "/opt/app", 0, 'S', 500);
	d = open_discover(&f, c, &s);
	CHECK_INT_EQ(discover_scan(d), 1);
	snprintf(first_id, sizeof(first_id), "%s", discover_find_pid(d, 100)->id);
	/* The process dies and is started again under a new pid. */
	event(&ev, PROCEVENT_EXIT, 100);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 1);
	remove_proc(&f, 100);
	CHECK_INT_EQ(discover_count(d), 0);
	add_proc(&f, 230, "app", "./app", "/opt/app", 0, 'S', 900);
	event(&ev, PROCEVENT_EXEC, 230);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 1);
	CHECK_INT_EQ(discover_count(d), 1);
	CHECK_STR_EQ(discover_find_pid(d, 230)->id, first_id);
	CHECK_STR_EQ(discover_find_pid(d, 230)->name, "app");
	CHECK(seen_find(&s, DISCOVER_GONE, 100) >= 0);
	CHECK(seen_find(&s, DISCOVER_ADDED, 230) > seen_find(&s, DISCOVER_GONE, 100));
	/* Events for processes that do not match change nothing. */
	add_proc(&f, 231, "other", "other", "/bin/other", 0, 'S', 901);
	event(&ev, PROCEVENT_EXEC, 231);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 0);
	event(&ev, PROCEVENT_EXIT, 231);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 0);
	/* An exec of a process already gone is harmless. */
	event(&ev, PROCEVENT_EXEC, 999);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 0);
	discover_free(d);
	config_free(c);
	fixture_cleanup(&f);
}

TEST(discover_restart_by_rescan_keeps_identity)
{
	struct config *c = load(app_yaml);
	struct fixture f;
	struct seen s = {0};
	struct discover *d;
	char first_id[DISCOVER_ID_LEN + 1];

	CHECK(fixture_init(&f) == 0);
	add_proc(&f, 100, "app", "./app", "/opt/app", 0, 'S', 500);
	d = open_discover(&f, c, &s);
	CHECK_INT_EQ(discover_scan(d), 1);
	snprintf(first_id, sizeof(first_id), "%s", discover_find_pid(d, 100)->id);
	/* Missed events: the next scan sees the old pid gone and the new one. */
	remove_proc(&f, 100);
	add_proc(&f, 300, "app", "./app", "/opt/app", 0, 'S', 700);
	CHECK_INT_EQ(discover_scan(d), 2);
	CHECK_STR_EQ(discover_find_pid(d, 300)->id, first_id);
	/* Pid reuse: same pid, other start time = another process, same name. */
	add_proc(&f, 300, "app", "./app", "/opt/app", 0, 'S', 800);
	CHECK_INT_EQ(discover_scan(d), 2);
	CHECK(seen_find(&s, DISCOVER_GONE, 300) >= 0);
	CHECK_INT_EQ(discover_find_pid(d, 300)->start_time_ticks, 800);
	CHECK_STR_EQ(discover_find_pid(d, 300)->id, first_id);
	discover_free(d);
	config_free(c);
	fixture_cleanup(&f);
}

TEST(discover_same_name_gets_ordinals_stable_across_restart)
{
	struct config *c = load(app_yaml);
	struct procevent_record ev;
	struct fixture f;
	struct seen s = {0};
	struct discover *d;
	char id1[DISCOVER_ID_LEN + 1], id2[DISCOVER_ID_LEN + 1], id3[DISCOVER_ID_LEN + 1];

	CHECK(fixture_init(&f) == 0);
	/* pid order and start order differ: start order decides. */
	add_proc(&f, 50, "app", "./app", "/opt/app", 0, 'S', 600);
	add_proc(&f, 40, "app", "./app", "/opt/app", 0, 'S', 700);
	add_proc(&f, 60, "app", "./app", "/opt/app", 0, 'S', 500);
	d = open_discover(&f, c, &s);
	CHECK_INT_EQ(discover_scan(d), 3);
	CHECK_STR_EQ(discover_find_pid(d, 60)->name, "app");
	CHECK_STR_EQ(discover_find_pid(d, 50)->name, "app#2");
	CHECK_STR_EQ(discover_find_pid(d, 40)->name, "app#3");
	snprintf(id1, sizeof(id1), "%s", discover_find_pid(d, 60)->id);
	snprintf(id2, sizeof(id2), "%s", discover_find_pid(d, 50)->id);
	snprintf(id3, sizeof(id3), "%s", discover_find_pid(d, 40)->id);
	CHECK(strcmp(id1, id2) != 0 && strcmp(id2, id3) != 0 && strcmp(id1, id3) != 0);
	/* The first dies and comes back: it takes the plain name back, the
	 * others keep theirs. */
	event(&ev, PROCEVENT_EXIT, 60);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 1);
	remove_proc(&f, 60);
	add_proc(&f, 70, "app", "./app", "/opt/app", 0, 'S', 900);
	event(&ev, PROCEVENT_EXEC, 70);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 1);
	CHECK_STR_EQ(discover_find_pid(d, 70)->name, "app");
	CHECK_STR_EQ(discover_find_pid(d, 70)->id, id1);
	CHECK_STR_EQ(discover_find_pid(d, 50)->id, id2);
	CHECK_STR_EQ(discover_find_pid(d, 40)->id, id3);
	/* A fourth takes the next free ordinal; a rescan changes nothing. */
	add_proc(&f, 80, "app", "./app", "/opt/app", 0, 'S', 950);
	event(&ev, PROCEVENT_EXEC, 80);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 1);
	CHECK_STR_EQ(discover_find_pid(d, 80)->name, "app#4");
	CHECK_INT_EQ(discover_scan(d), 0);
	CHECK_STR_EQ(discover_find_pid(d, 40)->name, "app#3");
	discover_free(d);
	config_free(c);
	fixture_cleanup(&f);
}

TEST(discover_exec_changes_attributes_or_identity)
{
	struct config *c = load(rules_yaml);
	struct procevent_record ev;
	struct fixture f;
	struct seen s = {0};
	struct discover *d;
	char id[DISCOVER_ID_LEN + 1];
	int gone, added;

	CHECK(fixture_init(&f) == 0);
	add_proc(&f, 11, "nginx", "nginx: worker process", "/usr/sbin/nginx", 0, 'S', 101);
	d = open_discover(&f, c, &s);
	CHECK_INT_EQ(discover_scan(d), 1);
	snprintf(id, sizeof(id), "%s", discover_find_pid(d, 11)->id);
	/* Same name, other command line: CHANGED, same id. */
	add_proc(&f, 11, "nginx", "nginx: worker process is shutting down", "/usr/sbin/nginx", 0,
		 'S', 101);
	CHECK_INT_EQ(discover_scan(d), 1);
	CHECK_INT_EQ(s.change[s.n - 1], DISCOVER_CHANGED);
	CHECK_STR_EQ(discover_find_pid(d, 11)->id, id);
	CHECK_STR_EQ(discover_find_pid(d, 11)->cmdline, "nginx: worker process is shutting down");
	/* exec into python: another rule, another name: GONE then ADDED. */
	add_proc(&f, 11, "python3", "python3|x.py", "/usr/bin/python3", 0, 'S', 101);
	event(&ev, PROCEVENT_EXEC, 11);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 2);
	gone = seen_find(&s, DISCOVER_GONE, 11);
	added = s.n - 1;
	CHECK(gone >= 0 && s.change[added] == DISCOVER_ADDED && added > gone);
	CHECK_STR_EQ(s.id[gone], id);
	CHECK_STR_EQ(discover_find_pid(d, 11)->service, "py");
	CHECK(strcmp(discover_find_pid(d, 11)->id, id) != 0);
	/* exec into something no rule matches: GONE. */
	add_proc(&f, 11, "bash", "bash", "/usr/bin/bash", 0, 'S', 101);
	event(&ev, PROCEVENT_EXEC, 11);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 1);
	CHECK_INT_EQ(s.change[s.n - 1], DISCOVER_GONE);
	CHECK_INT_EQ(discover_count(d), 0);
	discover_free(d);
	config_free(c);
	fixture_cleanup(&f);
}

TEST(discover_rescans_reuse_cgroup_until_a_full_probe)
{
	struct config *c = load(
	    "processes:\n  - match: {comm: app}\n    service: s\n    labels: {cg: \"{cgroup}\"}\n");
	struct procevent_record ev;
	struct fixture f;
	struct seen s = {0};
	struct discover *d;
	int i;

	CHECK(fixture_init(&f) == 0);
	add_proc(&f, 7, "app", "app", "/opt/app", 0, 'S', 1);
	d = open_discover(&f, c, &s);
	CHECK_INT_EQ(discover_scan(d), 1);
	CHECK_STR_EQ(discover_find_pid(d, 7)->cgroup, "/system.slice/app.service");
	/* Moved to another cgroup: light rescans keep the known one... */
	CHECK(fixture_write(&f, "proc/7/cgroup", "0::/moved\n") == 0);
	for (i = 1; i < DISCOVER_FULL_PROBE_EVERY; i++)
		CHECK_INT_EQ(discover_scan(d), 0);
	/* ...the periodic full probe sees the move. */
	CHECK_INT_EQ(discover_scan(d), 1);
	CHECK_INT_EQ(s.change[s.n - 1], DISCOVER_CHANGED);
	CHECK_STR_EQ(discover_find_pid(d, 7)->cgroup, "/moved");
	CHECK_STR_EQ(discover_find_pid(d, 7)->labels[0].value, "/moved");
	/* An exec probes in full at once. */
	CHECK(fixture_write(&f, "proc/7/cgroup", "0::/again\n") == 0);
	event(&ev, PROCEVENT_EXEC, 7);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 1);
	CHECK_STR_EQ(discover_find_pid(d, 7)->cgroup, "/again");
	/* A command line change is seen by every scan. */
	add_proc(&f, 7, "app", "app|--renamed", "/opt/app", 0, 'S', 1);
	CHECK_INT_EQ(discover_scan(d), 1);
	CHECK_STR_EQ(discover_find_pid(d, 7)->cmdline, "app --renamed");
	discover_free(d);
	config_free(c);
	fixture_cleanup(&f);
}

/* With trusted exec/exit events a partial scan reads nothing of the pids it
 * knows (matched, unmatched, kernel threads), probes new pids, trusts exits
 * to free a pid for reuse, and still sees a process vanish; a full scan reads
 * everything again. */
TEST(discover_trusted_events_skip_known_pids)
{
	struct config *c = load("processes:\n  - match: {comm: \"^app$\"}\n    service: s\n");
	struct procevent_record ev;
	struct fixture f;
	struct seen s = {0};
	struct discover *d;

	CHECK(fixture_init(&f) == 0);
	add_proc(&f, 100, "app", "app", "/opt/app", 0, 'S', 10);
	add_proc(&f, 200, "other", "other", "/bin/other", 0, 'S', 20);
	add_proc(&f, 300, "kworker", "", NULL, 0x00200000, 'I', 5);
	d = open_discover(&f, c, &s);
	discover_trust_events(d, true);
	CHECK_INT_EQ(discover_scan(d), 1); /* the first scan is full */
	/* Known pids are not read: stat unreadable, a rename, a kernel thread
	 * turned "app" — all unseen by a partial scan. */
	fixture_remove(&f, "proc/100/stat");
	add_proc(&f, 200, "app", "app", "/opt/app", 0, 'S', 20);
	add_proc(&f, 300, "app", "", NULL, 0x00200000, 'I', 5);
	CHECK_INT_EQ(discover_scan(d), 0);
	CHECK_INT_EQ(discover_count(d), 1);
	CHECK(discover_find_pid(d, 100) != NULL);
	/* A new pid (fork without exec) is probed. */
	add_proc(&f, 400, "app", "app", "/opt/app", 0, 'S', 40);
	CHECK_INT_EQ(discover_scan(d), 1);
	CHECK(discover_find_pid(d, 400) != NULL);
	/* An exit frees the pid: its next process is probed. */
	event(&ev, PROCEVENT_EXIT, 200);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 0);
	add_proc(&f, 200, "app", "app", "/opt/app", 0, 'S', 50);
	CHECK_INT_EQ(discover_scan(d), 1);
	CHECK_INT_EQ(discover_find_pid(d, 200)->start_time_ticks, 50);
	/* A process an exec event found unmatched is not probed again. */
	add_proc(&f, 500, "tool", "tool", "/bin/tool", 0, 'S', 60);
	event(&ev, PROCEVENT_EXEC, 500);
	CHECK_INT_EQ(discover_handle_event(d, &ev), 0);
	add_proc(&f, 500, "app", "app", "/opt/app", 0, 'S', 60);
	CHECK_INT_EQ(discover_scan(d), 0);
	CHECK(discover_find_pid(d, 500) == NULL);
	/* A vanished pid is gone without any read. */
	remove_proc(&f, 400);
	CHECK_INT_EQ(discover_scan(d), 1);
	CHECK(seen_find(&s, DISCOVER_GONE, 400) >= 0);
	/* The full scan reads everything: 100 is unreadable now (gone). */
	CHECK_INT_EQ(discover_scan_full(d), 2);
	CHECK(discover_find_pid(d, 100) == NULL);
	CHECK(discover_find_pid(d, 300) == NULL); /* still a kernel thread */
	CHECK(discover_find_pid(d, 500) != NULL); /* renamed: seen in full */
	discover_free(d);
	config_free(c);
	fixture_cleanup(&f);
}

/* An exec record that carries the command line decides the match: a process
 * no rule matches is not read at all (and is remembered as unmatched), one
 * that matches is matched by the command line of its exec even when
 * /proc/PID/cmdline says otherwise by now; /proc/PID/cmdline is read only
 * when the record could not carry it. */
TEST(discover_exec_event_matches_by_its_cmdline)
{
	struct config *c = load("processes:\n"
				"  - match: {cmdline: \"^sleep 77[0-9]+$\"}\n"
				"    service: s\n"
				"  - match: {comm: \"^app$\"}\n"
				"    service: a\n");
	_Alignas(8) unsigned char buf[sizeof(struct procevent_record) + 256];
	struct fixture f;
	struct seen s = {0};
	struct discover *d;

	CHECK(fixture_init(&f) == 0);
	add_proc(&f, 1, "init", "/sbin/init", "/sbin/init", 0, 'S', 1);
	d = open_discover(&f, c, &s);
	discover_trust_events(d, true);
	CHECK_INT_EQ(discover_scan(d), 0);
	/* No rule matches what the event carries: nothing is read (there is
	 * nothing in /proc to read), and a partial scan does not probe the pid
	 * (its /proc entry now claims comm "app": a rename, seen in full). */
	CHECK_INT_EQ(
	    discover_handle_event(d, exec_event(buf, sizeof(buf), 300, "bash", "bash|-c|x", 30)),
	    0);
	add_proc(&f, 300, "app", "app", "/opt/app", 0, 'S', 30);
	CHECK_INT_EQ(discover_scan(d), 0);
	CHECK(discover_find_pid(d, 300) == NULL);
	CHECK_INT_EQ(discover_scan_full(d), 1);
	CHECK(discover_find_pid(d, 300) != NULL);
	/* Matched by the command line of the exec alone: the process rewrote
	 * its arguments since (its /proc/PID/cmdline would match no rule). */
	add_proc(&f, 400, "sleep", "sleep|1", "/usr/bin/sleep", 0, 'S', 40);
	CHECK_INT_EQ(
	    discover_handle_event(d, exec_event(buf, sizeof(buf), 400, "sleep", "sleep|7712", 40)),
	    1);
	CHECK(discover_find_pid(d, 400) != NULL);
	CHECK_STR_EQ(discover_find_pid(d, 400)->service, "s");
	CHECK_STR_EQ(discover_find_pid(d, 400)->cmdline, "sleep 7712");
	CHECK_STR_EQ(discover_find_pid(d, 400)->exe, "/usr/bin/sleep");
	CHECK_STR_EQ(discover_find_pid(d, 400)->cgroup, "/system.slice/app.service");
	/* A matching process already gone by the time the record is read
	 * (no /proc entry) is not added. */
	CHECK_INT_EQ(
	    discover_handle_event(d, exec_event(buf, sizeof(buf), 401, "sleep", "sleep|7713", 41)),
	    0);
	CHECK(discover_find_pid(d, 401) == NULL);
	/* No command line in the record: /proc/PID/cmdline decides. */
	add_proc(&f, 402, "sleep", "sleep|7714", "/usr/bin/sleep", 0, 'S', 42);
	CHECK_INT_EQ(discover_handle_event(d, exec_event(buf, sizeof(buf), 402, "sleep", NULL, 42)),
		     1);
	CHECK_STR_EQ(discover_find_pid(d, 402)->cmdline, "sleep 7714");
	/* A matched process executes a program no rule matches: GONE from the
	 * record alone. */
	CHECK_INT_EQ(discover_handle_event(
			 d, exec_event(buf, sizeof(buf), 400, "cat", "cat|/etc/hosts", 40)),
		     1);
	CHECK_INT_EQ(s.change[s.n - 1], DISCOVER_GONE);
	CHECK(discover_find_pid(d, 400) == NULL);
	discover_free(d);
	config_free(c);
	fixture_cleanup(&f);
}

TEST(discover_empty_expansion_falls_back_to_comm)
{
	struct config *c = load("processes:\n  - match: {comm: x}\n    service: \"{exe}\"\n");
	struct fixture f;
	struct seen s = {0};
	struct discover *d;

	CHECK(fixture_init(&f) == 0);
	add_proc(&f, 5, "xd", "xd", NULL, 0, 'S', 1); /* exe unreadable */
	d = open_discover(&f, c, &s);
	CHECK_INT_EQ(discover_scan(d), 1);
	CHECK_STR_EQ(discover_find_pid(d, 5)->exe, "");
	CHECK_STR_EQ(discover_find_pid(d, 5)->service, "xd");
	discover_free(d);
	config_free(c);
	fixture_cleanup(&f);
}

TEST(discover_scan_fails_without_proc)
{
	struct config *c = load(app_yaml);
	struct fixture f;
	struct seen s = {0};
	struct discover *d;

	CHECK(fixture_init(&f) == 0);
	d = open_discover(&f, c, &s);
	CHECK_INT_EQ(discover_scan(d), -ENOENT);
	discover_free(d);
	CHECK(discover_free(NULL) == NULL);
	config_free(c);
	fixture_cleanup(&f);
}

TEST(discover_identity_and_cgroup_name)
{
	char a[DISCOVER_ID_LEN + 1], b[DISCOVER_ID_LEN + 1], c[DISCOVER_ID_LEN + 1];

	discover_identity("h", "ab", "i", "c", a);
	discover_identity("h", "a", "i", "bc", b);
	discover_identity("h", "ab", "i", "c", c);
	CHECK_INT_EQ(strlen(a), DISCOVER_ID_LEN);
	CHECK(strcmp(a, b) != 0);
	CHECK_STR_EQ(a, c);
	discover_identity("h2", "ab", "i", "c", c);
	CHECK(strcmp(a, c) != 0);
	CHECK_STR_EQ(discover_cgroup_name("/a", "/s", "/c"), "/a");
	CHECK_STR_EQ(discover_cgroup_name("/", "/s", "/c"), "/s");
	CHECK_STR_EQ(discover_cgroup_name("/", "", "/c"), "/c");
	CHECK_STR_EQ(discover_cgroup_name("", "", ""), "/");
	CHECK_STR_EQ(discover_cgroup_name("/", "", ""), "/");
}

int main(void)
{
	RUN(discover_scan_matches_first_rule_and_names);
	RUN(discover_restart_by_events_keeps_identity);
	RUN(discover_restart_by_rescan_keeps_identity);
	RUN(discover_same_name_gets_ordinals_stable_across_restart);
	RUN(discover_exec_changes_attributes_or_identity);
	RUN(discover_rescans_reuse_cgroup_until_a_full_probe);
	RUN(discover_empty_expansion_falls_back_to_comm);
	RUN(discover_trusted_events_skip_known_pids);
	RUN(discover_exec_event_matches_by_its_cmdline);
	RUN(discover_scan_fails_without_proc);
	RUN(discover_identity_and_cgroup_name);
	return harness_finish();
}
