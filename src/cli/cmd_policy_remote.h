/* cmd_policy_remote: `contprof policy get | set | delete`, the policy
 * subcommands that talk to a server (see cmd_policy_remote.c). Each takes the
 * subcommand's argv (argv[0] is "get", "set" or "delete") and returns the
 * exit code: 0 ok, 1 invalid document or server/network failure (including
 * "no such policy"), 2 usage error. */
#ifndef CONTPROF_CLI_CMD_POLICY_REMOTE_H
#define CONTPROF_CLI_CMD_POLICY_REMOTE_H

int policy_remote_get(int argc, char **argv);
int policy_remote_set(int argc, char **argv);
int policy_remote_delete(int argc, char **argv);

#endif
