/* httpmon_parse: the pure byte tests of the HTTP monitor, shared by the
 * kernel side (httpmon.bpf.c, which runs them on each watched socket buffer)
 * and user space (the unit tests and tests/fuzz/fuzz_http.c, which run them
 * on known and random bytes). No helpers, no maps, no state: each function
 * reads a fixed number of bytes at the pointer it gets and nothing else.
 *
 * Both read at most their first 16 bytes (parse_method up to b[8],
 * parse_status up to b[12]); callers guarantee 16 readable bytes.
 * The includer needs the __u8/__u16/__u32 types: the BPF side has them from
 * vmlinux.h, user space gets them from <linux/types.h> here.
 */
#ifndef CONTPROF_AGENT_HTTPMON_PARSE_H
#define CONTPROF_AGENT_HTTPMON_PARSE_H

#ifndef __bpf__
#include <linux/types.h>
#include <sys/cdefs.h> /* __always_inline, as bpf_helpers.h has it */
#endif

#include "agent/httpmon_abi.h"

/* Method at the start of `b` (16 readable bytes): its enum and, in *len, the
 * length of the method token. The token must be followed by a space and the
 * start of a request target. */
static __always_inline __u8 parse_method(const __u8 *b, __u32 *len)
{
	__u8 m = HTTPMON_METHOD_UNKNOWN;
	__u32 n = 0;

	switch (b[0]) {
	case 'G':
		if (b[1] == 'E' && b[2] == 'T')
			m = HTTPMON_METHOD_GET, n = 3;
		break;
	case 'P':
		if (b[1] == 'O' && b[2] == 'S' && b[3] == 'T')
			m = HTTPMON_METHOD_POST, n = 4;
		else if (b[1] == 'U' && b[2] == 'T')
			m = HTTPMON_METHOD_PUT, n = 3;
		else if (b[1] == 'A' && b[2] == 'T' && b[3] == 'C' && b[4] == 'H')
			m = HTTPMON_METHOD_PATCH, n = 5;
		break;
	case 'H':
		if (b[1] == 'E' && b[2] == 'A' && b[3] == 'D')
			m = HTTPMON_METHOD_HEAD, n = 4;
		break;
	case 'D':
		if (b[1] == 'E' && b[2] == 'L' && b[3] == 'E' && b[4] == 'T' && b[5] == 'E')
			m = HTTPMON_METHOD_DELETE, n = 6;
		break;
	case 'O':
		if (b[1] == 'P' && b[2] == 'T' && b[3] == 'I' && b[4] == 'O' && b[5] == 'N' &&
		    b[6] == 'S')
			m = HTTPMON_METHOD_OPTIONS, n = 7;
		break;
	case 'C':
		if (b[1] == 'O' && b[2] == 'N' && b[3] == 'N' && b[4] == 'E' && b[5] == 'C' &&
		    b[6] == 'T')
			m = HTTPMON_METHOD_CONNECT, n = 7;
		break;
	case 'T':
		if (b[1] == 'R' && b[2] == 'A' && b[3] == 'C' && b[4] == 'E')
			m = HTTPMON_METHOD_TRACE, n = 5;
		break;
	}
	if (m == HTTPMON_METHOD_UNKNOWN)
		return m;
	n &= 7;
	if (b[n] != ' ' || b[n + 1] <= ' ' || b[n + 1] >= 0x7f)
		return HTTPMON_METHOD_UNKNOWN;
	if (m != HTTPMON_METHOD_CONNECT && b[n + 1] != '/' && b[n + 1] != '*' && b[n + 1] != 'h')
		return HTTPMON_METHOD_UNKNOWN;
	*len = n;
	return m;
}

/* Status of a status line at the start of `b` (16 readable bytes), 0 if the
 * bytes are not "HTTP/1.x NNN" followed by a space or CR. */
static __always_inline __u16 parse_status(const __u8 *b)
{
	if (b[0] != 'H' || b[1] != 'T' || b[2] != 'T' || b[3] != 'P' || b[4] != '/' ||
	    b[5] != '1' || b[6] != '.' || (b[7] != '0' && b[7] != '1') || b[8] != ' ')
		return 0;
	if (b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' || b[11] < '0' || b[11] > '9' ||
	    (b[12] != ' ' && b[12] != '\r'))
		return 0;
	return (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
}

#endif
