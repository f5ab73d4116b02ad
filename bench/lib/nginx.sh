# bench/lib/nginx.sh — sourced by the nginx benchmarks (httpmon.sh, netprof.sh):
# a one-process nginx serving a small static file on loopback, a policy with
# an HTTP item for the monitor under test, and the BPF run-time counters of
# the programs a process holds, per program (kernel.bpf_stats_enabled must be
# on for them to move).

# nginx_start WORK PORT CPU: writes WORK/html, WORK/nginx.conf and
# WORK/policy.json, starts nginx pinned to CPU in the background, sets
# nginx_pid and returns once it answers on 127.0.0.1:PORT.
nginx_start() {
	local work=$1 port=$2 cpu=$3
	mkdir -p "$work/html" "$work/tmp"
	head -c 612 /dev/zero | tr '\0' 'x' >"$work/html/index.html"
	cat >"$work/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
error_log stderr error; pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$port; root $work/html; }
}
CONF
	cat >"$work/policy.json" <<'JSON'
{"service":"bench","targets":[{"target":"NETWORK","items":[
  {"monitor":"HTTP_ERROR_RATE","threshold":50,"period":10,"count":5}]}]}
JSON
	# Another benchmark's nginx on the port (another run on this host, or
	# one left behind) would answer for ours, which fails to bind and exits.
	if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
		echo "bench: 127.0.0.1:$port is already in use (another nginx benchmark running? PORT=N picks another)" >&2
		return 1
	fi
	taskset -c "$cpu" nginx -p "$work" -c "$work/nginx.conf" &
	nginx_pid=$!
	for _ in $(seq 50); do
		if curl -sf -o /dev/null "http://127.0.0.1:$port/"; then
			# Another benchmark's nginx on the same port would answer too
			# (and ours would fail to bind): the listener must be ours.
			kill -0 "$nginx_pid" 2>/dev/null || break
			ss -Hltnp "sport = :$port" | grep -q "pid=$nginx_pid," && return 0
			echo "bench: 127.0.0.1:$port is another process's; set PORT" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "bench: nginx did not answer on 127.0.0.1:$port" >&2
	return 1
}

# prog_ids_of PID: ids of the BPF programs process PID holds (its program
# and link fds), space-separated. Programs other engineers load meanwhile
# are not among them, as they would be in a before/after diff of the host's.
prog_ids_of() { grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un | tr '\n' ' '; }

# prog_snapshot FILE ID...: run_time_ns, run_cnt and name of those programs.
prog_snapshot() {
	local out=$1
	shift
	bpftool prog show -j | python3 -c '
import json, sys
ids = set(int(x) for x in sys.argv[1:])
for p in json.load(sys.stdin):
    if p["id"] in ids:
        print(p["id"], p.get("run_time_ns", 0), p.get("run_cnt", 0), p.get("name", "?"))' "$@" >"$out"
}

# prog_table BEFORE AFTER REQUESTS: per program that ran, its runs per
# request, ns per run and us per request, between two prog_snapshot files.
prog_table() {
	python3 - "$@" <<'PY'
import sys
def load(f):
    return {l.split()[0]: l.split() for l in open(f) if l.strip()}
a, b, n = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
for i, (_, t, c, name) in sorted(b.items(), key=lambda kv: kv[1][3]):
    t0, c0 = (int(a[i][1]), int(a[i][2])) if i in a else (0, 0)
    dt, dc = int(t) - t0, int(c) - c0
    if dc and n:
        print(f"    {name:18s} {dc / n:6.3f} runs/request {dt / dc:7.0f} ns/run {dt / n / 1000:7.3f} us/request")
PY
}
