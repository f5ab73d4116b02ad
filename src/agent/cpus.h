/* cpus: the online CPUs of the host, from /sys/devices/system/cpu/online
 * ("0-3,6,8-9"). */
#ifndef CONTPROF_AGENT_CPUS_H
#define CONTPROF_AGENT_CPUS_H

/* Parses a CPU list like "0-3,6". Returns the count and *ret (malloc'd ids,
 * ascending as written), or -EINVAL / -ENOMEM. */
int cpus_parse_list(const char *list, int **ret);
/* The online CPUs: count and *ret, or -errno. */
int cpus_online(int **ret);

#endif
