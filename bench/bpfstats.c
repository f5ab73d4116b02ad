/* bpfstats: the run time of BPF programs a tool loads while it runs, for
 * bench/profilers.sh (kernel.bpf_stats_enabled must be 1).
 *
 *   bpfstats NAME_REGEX STOP_FILE
 *
 * Notes the highest program id at start, then every 50 ms reads the run time
 * and run count of every newer program whose name matches NAME_REGEX (POSIX
 * ERE), keeping each program's last value (a program that is unloaded keeps
 * what was read last), until STOP_FILE exists; prints "RUN_TIME_NS RUN_CNT".
 * Built and run by the benchmark only. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define PROGS_MAX 4096

struct seen {
	__u32 id;
	__u64 run_time_ns, run_cnt;
};

static __u32 highest_id(void)
{
	__u32 id = 0, next;

	while (bpf_prog_get_next_id(id, &next) == 0)
		id = next;
	return id;
}

static void poll_once(__u32 after, const regex_t *names, struct seen *seen, size_t *n_seen)
{
	__u32 id = after, next;

	while (bpf_prog_get_next_id(id, &next) == 0) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd;
		size_t i;

		id = next;
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    regexec(names, info.name, 0, NULL, 0) == 0) {
			for (i = 0; i < *n_seen && seen[i].id != id; i++)
				;
			if (i == *n_seen && *n_seen < PROGS_MAX)
				seen[(*n_seen)++].id = id;
			if (i < PROGS_MAX) {
				seen[i].run_time_ns = info.run_time_ns;
				seen[i].run_cnt = info.run_cnt;
			}
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	static struct seen seen[PROGS_MAX];
	struct timespec tick = {0, 50 * 1000 * 1000};
	unsigned long long ns = 0, cnt = 0;
	size_t n_seen = 0;
	regex_t names;
	__u32 after;
	int stats_fd;

	if (argc != 3 || regcomp(&names, argv[1], REG_EXTENDED | REG_NOSUB) != 0) {
		fprintf(stderr, "usage: bpfstats NAME_REGEX STOP_FILE\n");
		return 2;
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "bpfstats: cannot enable BPF run-time statistics: %s\n",
			strerror(-stats_fd));
		return 1;
	}
	after = highest_id();
	while (access(argv[2], F_OK) != 0) {
		poll_once(after, &names, seen, &n_seen);
		nanosleep(&tick, NULL);
	}
	for (size_t i = 0; i < n_seen; i++) {
		ns += seen[i].run_time_ns;
		cnt += seen[i].run_cnt;
	}
	printf("%llu %llu\n", ns, cnt);
	regfree(&names);
	close(stats_fd);
	return 0;
}
