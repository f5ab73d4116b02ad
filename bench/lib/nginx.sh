# bench/lib/nginx.sh — sourced by the nginx benchmarks (httpmon.sh, netprof.sh):
# a one-process nginx serving a small static file on loopback, a policy with
# an HTTP item for the monitor under test, and the BPF run-time counters of a
# set of programs (kernel.bpf_stats_enabled must be on for them to move).

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
			kill -0 "$nginx_pid" 2>/dev/null && return 0
			break
		fi
		sleep 0.1
	done
	echo "bench: nginx did not answer on 127.0.0.1:$port" >&2
	return 1
}

# Ids of every BPF program loaded on the host, space-separated.
prog_ids() { bpftool prog show -j | python3 -c 'import json,sys; print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))'; }

# prog_stats ID...: the summed run_time_ns and run_cnt of those programs.
prog_stats() {
	bpftool prog show -j | python3 -c '
import json, sys
ids = set(int(x) for x in sys.argv[1:])
t = c = 0
for p in json.load(sys.stdin):
    if p["id"] in ids:
        t += p.get("run_time_ns", 0); c += p.get("run_cnt", 0)
print(t, c)' "$@"
}
