/* bpfcost (user side, bench/bpfcost.sh): loads bench/bpfcost.bpf.c, calls
 * getppid(2) N times per round on the CPU it is pinned to, and prints each
 * program's run time per run (kernel.bpf_stats_enabled must be 1) for each
 * of ROUNDS rounds: "ROUND NAME NS_PER_RUN". Built and run by the benchmark
 * only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfcost.skel.h"

#define PROGS_MAX 64

static char user_buf[4096] = "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

static int snapshot(struct bpfcost_bpf *skel, __u64 *run_ns, __u64 *runs)
{
	struct bpf_program *p;
	int i = 0;

	bpf_object__for_each_program(p, skel->obj)
	{
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		if (i == PROGS_MAX)
			break;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			return -errno;
		run_ns[i] = info.run_time_ns;
		runs[i] = info.run_cnt;
		i++;
	}
	return i;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? strtol(argv[1], NULL, 10) : 300000;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	__u64 ns0[PROGS_MAX], n0[PROGS_MAX], ns1[PROGS_MAX], n1[PROGS_MAX];
	struct bpfcost_bpf *skel = bpfcost_bpf__open();
	__u64 key = 7, value = 1;
	__u32 index = 7;
	int err = 1;

	if (!skel) {
		fprintf(stderr, "bpfcost: cannot open the BPF object\n");
		return 1;
	}
	skel->bss->uaddr = (unsigned long)user_buf;
	if (bpfcost_bpf__load(skel)) {
		fprintf(stderr, "bpfcost: cannot load the BPF object\n");
		goto out;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.hash), &key, &value, 0) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.lru), &key, &value, 0) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.array), &index, &value, 0) ||
	    bpfcost_bpf__attach(skel)) {
		fprintf(stderr, "bpfcost: cannot fill the maps or attach\n");
		goto out;
	}
	for (int r = 1; r <= rounds; r++) {
		struct bpf_program *p;
		int n, i = 0;

		if (snapshot(skel, ns0, n0) < 0)
			goto out;
		for (long c = 0; c < calls; c++)
			syscall(SYS_getppid);
		n = snapshot(skel, ns1, n1);
		if (n < 0)
			goto out;
		bpf_object__for_each_program(p, skel->obj)
		{
			__u64 runs;

			if (i == n)
				break;
			runs = n1[i] - n0[i];
			printf("%d %s %.1f\n", r, bpf_program__name(p),
			       runs ? (double)(ns1[i] - ns0[i]) / runs : 0.0);
			i++;
		}
	}
	err = fflush(stdout) || ferror(stdout);
out:
	bpfcost_bpf__destroy(skel);
	return err;
}
