/* schedule: which misbehaviour of the demo runs when (see demo.h). Pure:
 * every role computes the phase from the shared start time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "demo/demo.h"
#include "util/parse.h"

int demo_schedule_parse(const char *text, struct demo_schedule *ret)
{
	uint32_t v[3];
	char buf[64];
	char *save = NULL, *tok;
	size_t n = 0;

	if (!text || strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == 3 || parse_u32(tok, &v[n]) < 0 || v[n] > DEMO_SCHEDULE_MAX_S)
			return -EINVAL;
		n++;
	}
	if (n != 3 || v[1] == 0)
		return -EINVAL;
	ret->warmup_s = v[0];
	ret->trouble_s = v[1];
	ret->calm_s = v[2];
	return 0;
}

int64_t demo_cycle_ms(const struct demo_schedule *s)
{
	return (int64_t)DEMO_TROUBLE_PHASES * ((int64_t)s->trouble_s + s->calm_s) * 1000;
}

enum demo_phase demo_phase_at(const struct demo_schedule *s, int64_t elapsed_ms,
			      int64_t *ret_end_ms)
{
	int64_t warmup_ms = (int64_t)s->warmup_s * 1000, trouble_ms = (int64_t)s->trouble_s * 1000;
	int64_t slot_ms = trouble_ms + (int64_t)s->calm_s * 1000;
	int64_t cycle_start, in_cycle, slot, in_slot;

	if (elapsed_ms < warmup_ms) {
		if (ret_end_ms)
			*ret_end_ms = warmup_ms;
		return DEMO_PHASE_CALM;
	}
	in_cycle = (elapsed_ms - warmup_ms) % demo_cycle_ms(s);
	cycle_start = elapsed_ms - in_cycle;
	slot = in_cycle / slot_ms;
	in_slot = in_cycle % slot_ms;
	if (in_slot < trouble_ms) {
		if (ret_end_ms)
			*ret_end_ms = cycle_start + slot * slot_ms + trouble_ms;
		return (enum demo_phase)(DEMO_PHASE_CPU + slot);
	}
	if (ret_end_ms)
		*ret_end_ms = cycle_start + (slot + 1) * slot_ms;
	return DEMO_PHASE_CALM;
}

const char *demo_phase_name(enum demo_phase phase)
{
	switch (phase) {
	case DEMO_PHASE_CALM:
		return "calm";
	case DEMO_PHASE_CPU:
		return "cpu";
	case DEMO_PHASE_ERRORS:
		return "errors";
	case DEMO_PHASE_SLOW:
		return "slow";
	case DEMO_PHASE_THREADS:
		return "threads";
	}
	return "?";
}
