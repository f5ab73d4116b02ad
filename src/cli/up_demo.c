/* up_demo: see up_demo.h. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "agent/config.h"
#include "cli/client.h"
#include "cli/up_demo.h"
#include "demo/demo.h"
#include "util/log.h"

#define DEMO_STOP_WAIT_MS 3000 /* after SIGTERM, before SIGKILL */
#define DEMO_ROLE_FD	  3    /* where a role finds its listening socket */
#define DEMO_ARG_BYTES	  32

/* The demo's policies: "3 of the last 5 seconds" everywhere, thresholds far
 * from what the calm demo does (and PROCESS_CPU low enough for two burning
 * threads on a busy two-core machine). */
#define DEMO_WINDOW_PERIOD_S	5
#define DEMO_WINDOW_COUNT	3
#define DEMO_CPU_THRESHOLD	20  /* % of the CPUs */
#define DEMO_ERROR_THRESHOLD	20  /* % of /api/checkout answers */
#define DEMO_LATENCY_THRESHOLD	100 /* ms, mean */
#define DEMO_THREADS_THRESHOLD	30  /* backend threads (about 8 when calm) */
#define DEMO_TASK_DURATION_MIN	10  /* s */
#define DEMO_TASK_DURATION_MAX	60  /* s */
#define DEMO_CHECKOUT_URI_REGEX "^/api/checkout"

enum {
	ROLE_BACKEND,
	ROLE_FRONTEND,
	ROLE_LOAD,
	N_ROLES
};

static const char *const role_names[N_ROLES] = {"demo-backend", "demo-frontend", "demo-load"};
static const char *const role_services[N_ROLES] = {"backend", "frontend", "demo-load"};

struct up_demo {
	struct demo_schedule schedule;
	char schedule_text[64];
	char config_path[PATH_MAX];
	char exe[PATH_MAX];
	int listen_fd[2]; /* backend, frontend */
	unsigned port[2];
	pid_t pid[N_ROLES];
	int64_t start_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *config_yaml(pid_t up_pid)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f,
		"# contprof up --demo: the demo's processes (children of contprof up, pid %d)\n"
		"# as services, then every other process of the host by its comm.\n"
		"instance: \"" CONFIG_DEFAULT_INSTANCE "\"\n"
		"processes:\n",
		(int)up_pid);
	for (int r = 0; r < N_ROLES; r++)
		fprintf(f,
			"  - match: {cmdline: \"^contprof %s --up-pid %d \"}\n"
			"    service: %s\n"
			"    process: %s\n"
			"    labels: {demo: \"true\"}\n",
			role_names[r], (int)up_pid, role_services[r], role_names[r]);
	fprintf(f, "  - match: {comm: \"^\"}\n"
		   "    service: \"{comm}\"\n"
		   "    process: \"{comm}\"\n");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

int up_demo_prepare(const char *data_dir, const char *schedule, struct up_demo **ret,
		    struct config **ret_cfg)
{
	struct config_errors errors = {0};
	struct up_demo *d = calloc(1, sizeof(*d));
	char *yaml = NULL;
	FILE *f = NULL;
	ssize_t n;
	int err = -ENOMEM;

	if (!d)
		goto fail;
	d->listen_fd[0] = d->listen_fd[1] = -1;
	if (!schedule)
		schedule = getenv(DEMO_SCHEDULE_ENV);
	if (!schedule || !schedule[0])
		schedule = DEMO_SCHEDULE_DEFAULT;
	if (demo_schedule_parse(schedule, &d->schedule) < 0) {
		fprintf(stderr,
			"contprof up: bad demo schedule '%s': want WARMUP,TROUBLE,CALM seconds "
			"(trouble >= 1, each <= %d), e.g. %s\n",
			schedule, DEMO_SCHEDULE_MAX_S, DEMO_SCHEDULE_DEFAULT);
		err = -EINVAL;
		goto fail;
	}
	snprintf(d->schedule_text, sizeof(d->schedule_text), "%u,%u,%u", d->schedule.warmup_s,
		 d->schedule.trouble_s, d->schedule.calm_s);
	n = readlink("/proc/self/exe", d->exe, sizeof(d->exe) - 1);
	if (n <= 0) {
		err = -errno;
		fprintf(stderr, "contprof up: cannot find my own binary: %s\n", strerror(errno));
		goto fail;
	}
	d->exe[n] = '\0';
	yaml = config_yaml(getpid());
	if (!yaml)
		goto fail;
	if (snprintf(d->config_path, sizeof(d->config_path), "%s/demo-agent.yaml", data_dir) >=
	    (int)sizeof(d->config_path)) {
		err = -ENAMETOOLONG;
		fprintf(stderr, "contprof up: data directory path too long\n");
		goto fail;
	}
	f = fopen(d->config_path, "we");
	if (!f || fputs(yaml, f) < 0 || fclose(f) != 0) {
		err = -errno;
		fprintf(stderr, "contprof up: cannot write %s: %s\n", d->config_path,
			strerror(errno));
		goto fail;
	}
	err = config_parse(yaml, strlen(yaml), d->config_path, ret_cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		fprintf(stderr, "contprof up: %s\n", errors.messages[i]);
	config_errors_clear(&errors);
	if (err)
		goto fail;
	free(yaml);
	*ret = d;
	return 0;
fail:
	free(yaml);
	free(d);
	return err;
}

static json_t *item(const char *monitor, int threshold, const char *uri_regex)
{
	json_t *i = json_pack("{s:s, s:i, s:i, s:i}", "monitor", monitor, "threshold", threshold,
			      "period", DEMO_WINDOW_PERIOD_S, "count", DEMO_WINDOW_COUNT);

	if (i && uri_regex && json_object_set_new(i, "uri_regex", json_string(uri_regex)) < 0)
		i = (json_decref(i), NULL);
	return i;
}

/* One target with one item; duration and silence fit the schedule: a task
 * covers most of its misbehaviour, and the same one is caught again next
 * cycle, never twice in one. */
static json_t *target(const struct up_demo *d, const char *name, json_t *check)
{
	int64_t cycle_s = demo_cycle_ms(&d->schedule) / 1000;
	int64_t duration = d->schedule.trouble_s, silence = cycle_s - d->schedule.trouble_s;

	if (duration < DEMO_TASK_DURATION_MIN)
		duration = DEMO_TASK_DURATION_MIN;
	if (duration > DEMO_TASK_DURATION_MAX)
		duration = DEMO_TASK_DURATION_MAX;
	if (silence < 1)
		silence = 1;
	if (!check)
		return NULL;
	return json_pack("{s:s, s:[o], s:I, s:I}", "target", name, "items", check, "duration",
			 (json_int_t)duration, "silence", (json_int_t)silence);
}

static json_t *policy_doc(const struct up_demo *d, const char *service)
{
	if (strcmp(service, "frontend") == 0)
		return json_pack(
		    "{s:s, s:[o,o]}", "service", service, "targets",
		    target(d, "NETWORK",
			   item("HTTP_ERROR_RATE", DEMO_ERROR_THRESHOLD, DEMO_CHECKOUT_URI_REGEX)),
		    target(d, "OFF_CPU",
			   item("HTTP_AVG_RESPONSE_TIME", DEMO_LATENCY_THRESHOLD, NULL)));
	return json_pack(
	    "{s:s, s:[o,o]}", "service", service, "targets",
	    target(d, "ON_CPU", item("PROCESS_CPU", DEMO_CPU_THRESHOLD, NULL)),
	    target(d, "OFF_CPU", item("PROCESS_THREAD_COUNT", DEMO_THREADS_THRESHOLD, NULL)));
}

int up_demo_install_policies(struct up_demo *d, const char *server_url)
{
	static const char *const services[] = {"frontend", "backend"};
	struct client_options copts = {.server_url = server_url};
	struct client *c = client_new();
	int err = -ENOMEM;

	if (!c)
		goto out;
	err = client_configure(c, &copts);
	for (size_t i = 0; !err && i < sizeof(services) / sizeof(services[0]); i++) {
		char path[128];
		json_t *doc = NULL, *have = NULL;

		snprintf(path, sizeof(path), "/api/v1/services/%s/policy", services[i]);
		err = client_request_json(c, "GET", path, NULL, &have);
		json_decref(have);
		if (err == 0) {
			log_info("up: demo: keeping the policy of service %s as it is",
				 services[i]);
			continue;
		}
		if (err != -ENOENT)
			break;
		doc = policy_doc(d, services[i]);
		err = doc ? client_request_json(c, "PUT", path, doc, &have) : -ENOMEM;
		if (err == 0)
			json_decref(have);
		json_decref(doc);
	}
out:
	if (err && c)
		client_report(c, "contprof up: demo policies", stderr);
	else if (err)
		fprintf(stderr, "contprof up: demo policies: %s\n", strerror(-err));
	client_free(c);
	return err;
}

static int listen_loopback(unsigned *ret_port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*ret_port = ntohs(addr.sin_port);
	return fd;
}

/* Forks and executes one role; the child gets SIGTERM when we die, our
 * blocked signals unblocked, and listen_fd (or none) as DEMO_ROLE_FD. */
static pid_t spawn_role(struct up_demo *d, int role, int listen_fd, unsigned peer_port)
{
	char up_pid[DEMO_ARG_BYTES], start[DEMO_ARG_BYTES], peer[DEMO_ARG_BYTES];
	char fd_arg[DEMO_ARG_BYTES];
	char *argv[16];
	pid_t parent = getpid(), pid;
	sigset_t none;
	int n = 0;

	snprintf(up_pid, sizeof(up_pid), "%d", (int)parent);
	snprintf(start, sizeof(start), "%" PRId64, d->start_ms);
	snprintf(peer, sizeof(peer), "%u", peer_port);
	snprintf(fd_arg, sizeof(fd_arg), "%d", DEMO_ROLE_FD);
	/* The config's rules match this prefix: "contprof ROLE --up-pid PID ". */
	argv[n++] = "contprof";
	argv[n++] = (char *)role_names[role];
	argv[n++] = "--up-pid";
	argv[n++] = up_pid;
	argv[n++] = "--start-ms";
	argv[n++] = start;
	argv[n++] = "--schedule";
	argv[n++] = d->schedule_text;
	if (peer_port) {
		argv[n++] = "--peer-port";
		argv[n++] = peer;
	}
	if (listen_fd >= 0) {
		argv[n++] = "--listen-fd";
		argv[n++] = fd_arg;
	}
	argv[n] = NULL;
	sigemptyset(&none);
	pid = fork();
	if (pid != 0)
		return pid < 0 ? -errno : pid;
	/* Child of a threaded process: async-signal-safe calls only. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent)
		_exit(127);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (listen_fd >= 0 && dup2(listen_fd, DEMO_ROLE_FD) < 0)
		_exit(127);
	execv(d->exe, argv);
	_exit(127);
}

int up_demo_start(struct up_demo *d)
{
	int err;

	for (int i = 0; i < 2; i++) {
		d->listen_fd[i] = listen_loopback(&d->port[i]);
		if (d->listen_fd[i] < 0) {
			err = d->listen_fd[i];
			fprintf(stderr, "contprof up: demo: cannot listen on 127.0.0.1: %s\n",
				strerror(-err));
			return err;
		}
	}
	d->start_ms = now_ms();
	d->pid[ROLE_BACKEND] = spawn_role(d, ROLE_BACKEND, d->listen_fd[0], 0);
	d->pid[ROLE_FRONTEND] = spawn_role(d, ROLE_FRONTEND, d->listen_fd[1], d->port[0]);
	d->pid[ROLE_LOAD] = spawn_role(d, ROLE_LOAD, -1, d->port[1]);
	for (int r = 0; r < N_ROLES; r++) {
		if (d->pid[r] > 0)
			continue;
		err = d->pid[r];
		fprintf(stderr, "contprof up: demo: cannot start %s: %s\n", role_names[r],
			strerror(-err));
		return err;
	}
	return 0;
}

void up_demo_print(const struct up_demo *d, const char *server_url, FILE *out)
{
	const struct demo_schedule *s = &d->schedule;
	char server_opt[320] = "";

	if (strcmp(server_url, CLIENT_DEFAULT_SERVER) != 0)
		snprintf(server_opt, sizeof(server_opt), " --server %s", server_url);
	fprintf(out,
		"  demo:        a shop on 127.0.0.1: frontend http://127.0.0.1:%u calls backend\n"
		"               http://127.0.0.1:%u; demo-load sends it up to %d requests/s\n"
		"  schedule:    calm for %u s, then in turn, %u s each with %u s of calm between\n"
		"               and again every %" PRId64 " s: a CPU spike in the backend, 5xx on\n"
		"               /api/checkout, slow responses, backend threads piling up\n"
		"  policies:    services frontend and backend, editable in the UI (or\n"
		"               contprof policy get backend%s)\n"
		"  agent config: %s\n"
		"  look at:     %s/ui/services/backend and .../frontend: tasks, their\n"
		"               causes, flame graphs, topology (the first task in ~%u s)\n"
		"               contprof tasks%s\n"
		"               contprof flame TASK_ID --format svg -o flame.svg%s\n",
		d->port[1], d->port[0], DEMO_LOAD_CONNS * 1000 / DEMO_LOAD_PAUSE_MS, s->warmup_s,
		s->trouble_s, s->calm_s, demo_cycle_ms(s) / 1000, server_opt, d->config_path,
		server_url, s->warmup_s + DEMO_WINDOW_PERIOD_S, server_opt, server_opt);
}

struct up_demo *up_demo_stop(struct up_demo *d)
{
	int64_t deadline;
	int left = 0;

	if (!d)
		return NULL;
	for (int r = 0; r < N_ROLES; r++)
		if (d->pid[r] > 0 && kill(d->pid[r], SIGTERM) == 0)
			left++;
	deadline = now_ms() + DEMO_STOP_WAIT_MS;
	while (left > 0) {
		struct timespec pause = {.tv_nsec = 20 * 1000000L};

		for (int r = 0; r < N_ROLES; r++) {
			int status;

			if (d->pid[r] <= 0 || waitpid(d->pid[r], &status, WNOHANG) == 0)
				continue;
			d->pid[r] = 0;
			left--;
		}
		if (left > 0 && now_ms() > deadline) {
			for (int r = 0; r < N_ROLES; r++) {
				if (d->pid[r] <= 0)
					continue;
				log_warn("up: demo: %s did not stop, killing it", role_names[r]);
				kill(d->pid[r], SIGKILL);
				waitpid(d->pid[r], NULL, 0);
				d->pid[r] = 0;
			}
			break;
		}
		if (left > 0)
			nanosleep(&pause, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (d->listen_fd[i] >= 0)
			close(d->listen_fd[i]);
	free(d);
	return NULL;
}
