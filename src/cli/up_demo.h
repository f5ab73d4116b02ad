/* up_demo: what `contprof up --demo` adds to `contprof up` — the demo's
 * schedule, its agent config (demo processes as services frontend and
 * backend, then every other process by its comm), its policies installed
 * through the server's API, and its three processes (the hidden roles of
 * this binary, see demo/demo.h), started as children that die with us.
 * Called from cmd_up on the main thread only. */
#ifndef CONTPROF_CLI_UP_DEMO_H
#define CONTPROF_CLI_UP_DEMO_H

#include <stdio.h>

struct config;
struct up_demo;

/* The schedule from `schedule` (NULL: $CONTPROF_DEMO_SCHEDULE, else the
 * default), the agent config written to DATA_DIR/demo-agent.yaml and parsed
 * into *ret_cfg. 0, or -errno with the reason printed on stderr. */
int up_demo_prepare(const char *data_dir, const char *schedule, struct up_demo **ret,
		    struct config **ret_cfg);
/* Installs the policies of services frontend and backend through the API at
 * server_url, unless the service already has one (a user's edit is kept).
 * 0, or -errno with the reason printed. */
int up_demo_install_policies(struct up_demo *d, const char *server_url);
/* Binds the frontend's and backend's sockets and starts the three roles;
 * the schedule starts now. 0, or -errno printed (nothing left running). */
int up_demo_start(struct up_demo *d);
/* What the user should look at, for a server at server_url. */
void up_demo_print(const struct up_demo *d, const char *server_url, FILE *out);
/* SIGTERM to every role, waits, then SIGKILL what is left; frees. NULL-safe. */
struct up_demo *up_demo_stop(struct up_demo *d);

#endif
