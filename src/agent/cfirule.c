/* cfirule: see cfirule.h. The table is open addressing with linear probing
 * over `struct rule`, keyed by the looked-up address; it doubles from
 * CFIRULE_SLOTS_MIN while half full and starts over when CFIRULE_SLOTS_MAX
 * is half full. A rule is read off libdw's Dwarf_Frame through the public
 * API (dwarf_frame_info, dwarf_frame_cfa, dwarf_frame_register) and accepted
 * only in the shapes whose evaluation by libdw's frame_unwind.c (expr_eval:
 * DW_OP_call_frame_cfa, DW_OP_plus_uconst, DW_OP_stack_value, a final
 * memory read for a location) the walk below repeats step for step:
 *   - CFA: one DW_OP_bregx / DW_OP_bregN on rsp or rbp; unset base register:
 *     the return address cannot be computed, libdw ends the stack there;
 *   - rsp, rbp, rip (the return address): undefined, same value, at CFA+K
 *     (read from the copy: a failed read leaves the register unset) or
 *     CFA+K as a value;
 *   - an unset or zero return address ends the stack (libdw: pc undefined);
 *     an undefined one ends it at the thread's entry (unwind.c's
 *     cfi_marks_outermost() test on the same frame).
 * The other registers are not tracked: no accepted rule reads them. */
#include "agent/cfirule.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* x86-64 DWARF register numbers. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RIP 16

enum rule_kind {
	RULE_EMPTY = 0, /* free slot */
	RULE_FRAME,	/* the shapes above */
	RULE_GENERAL,	/* anything else: libdw's general unwinder */
};

enum reg_rule {
	REG_SAME = 0,	/* the caller's value is the callee's */
	REG_UNDEFINED,	/* unset in the caller */
	REG_AT_CFA,	/* read from CFA + offset */
	REG_CFA_OFFSET, /* the value CFA + offset */
};

/* Tracked registers, in this order in struct rule and in the walk. */
enum {
	TRACK_RSP,
	TRACK_RBP,
	TRACK_RIP,
	TRACKED
};

static const int tracked_regno[TRACKED] = {REG_RSP, REG_RBP, REG_RIP};

struct rule {
	uint64_t addr;
	int32_t cfa_off; /* added modulo 2^64, as libdw does */
	int32_t off[TRACKED];
	uint8_t kind;	      /* enum rule_kind */
	uint8_t cfa_rbp;      /* CFA based on rbp (else rsp) */
	uint8_t reg[TRACKED]; /* enum reg_rule */
};

struct cfirule_table {
	struct rule *slots;
	size_t n_slots, n_used;
};

struct cfirule_table *cfirule_table_new(void)
{
	struct cfirule_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->slots = calloc(CFIRULE_SLOTS_MIN, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->n_slots = CFIRULE_SLOTS_MIN;
	return t;
}

struct cfirule_table *cfirule_table_free(struct cfirule_table *t)
{
	if (!t)
		return NULL;
	free(t->slots);
	free(t);
	return NULL;
}

void cfirule_table_clear(struct cfirule_table *t)
{
	memset(t->slots, 0, t->n_slots * sizeof(*t->slots));
	t->n_used = 0;
}

static size_t slot_of(uint64_t addr, size_t n_slots)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ULL) >> 32) & (n_slots - 1);
}

static struct rule *slot_find(struct rule *slots, size_t n_slots, uint64_t addr)
{
	size_t i = slot_of(addr, n_slots);

	while (slots[i].kind != RULE_EMPTY && slots[i].addr != addr)
		i = (i + 1) & (n_slots - 1);
	return &slots[i];
}

/* Makes room for one more rule: doubles the table, or empties it at its
 * largest. 0 or -ENOMEM (the table is unchanged then). */
static int table_reserve(struct cfirule_table *t)
{
	struct rule *bigger;
	size_t n;

	if ((t->n_used + 1) * 2 <= t->n_slots)
		return 0;
	if (t->n_slots >= CFIRULE_SLOTS_MAX) {
		cfirule_table_clear(t);
		return 0;
	}
	n = t->n_slots * 2;
	bigger = calloc(n, sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_slots; i++)
		if (t->slots[i].kind != RULE_EMPTY)
			*slot_find(bigger, n, t->slots[i].addr) = t->slots[i];
	free(t->slots);
	t->slots = bigger;
	t->n_slots = n;
	return 0;
}

/* One register's rule from dwarf_frame_register's answer; false for shapes
 * the walk does not repeat. */
static bool reg_rule_of(Dwarf_Frame *frame, int regno, uint8_t *ret_rule, int32_t *ret_off)
{
	Dwarf_Op mem[3], *ops = NULL;
	size_t nops = 0, i = 1;
	uint64_t off = 0;

	if (dwarf_frame_register(frame, regno, mem, &ops, &nops) != 0)
		return false;
	if (nops == 0) {
		if (ops == mem) {
			*ret_rule = REG_UNDEFINED;
			return true;
		}
		if (ops == NULL) {
			*ret_rule = REG_SAME;
			return true;
		}
		return false;
	}
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (i < nops && ops[i].atom == DW_OP_plus_uconst)
		off = ops[i++].number;
	if ((int64_t)off != (int32_t)off)
		return false;
	if (i == nops) {
		*ret_rule = REG_AT_CFA;
	} else if (i + 1 == nops && ops[i].atom == DW_OP_stack_value) {
		*ret_rule = REG_CFA_OFFSET;
	} else {
		return false;
	}
	*ret_off = (int32_t)off;
	return true;
}

/* Fills r (address already in) from libdw's frame state at that address. */
static void rule_of_frame(Dwarf_Frame *frame, struct rule *r)
{
	Dwarf_Op *ops = NULL;
	size_t nops = 0;
	bool signal = false;
	uint64_t base, off;

	r->kind = RULE_GENERAL;
	if (dwarf_frame_info(frame, NULL, NULL, &signal) != REG_RIP || signal)
		return;
	if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops != 1 || !ops)
		return;
	if (ops[0].atom == DW_OP_bregx) {
		base = ops[0].number;
		off = ops[0].number2;
	} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		base = ops[0].atom - DW_OP_breg0;
		off = ops[0].number;
	} else {
		return;
	}
	if ((base != REG_RSP && base != REG_RBP) || (int64_t)off != (int32_t)off)
		return;
	r->cfa_off = (int32_t)off;
	r->cfa_rbp = base == REG_RBP;
	for (int k = 0; k < TRACKED; k++)
		if (!reg_rule_of(frame, tracked_regno[k], &r->reg[k], &r->off[k]))
			return;
	r->kind = RULE_FRAME;
}

/* The rule at `addr` as libdw's __libdwfl_frame_unwind finds it: the
 * module's .eh_frame first, then its .debug_frame. */
static void rule_compute(Dwfl *dwfl, uint64_t addr, struct rule *r)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);

	r->kind = RULE_GENERAL;
	if (!mod)
		return;
	for (int which = 0; which < 2; which++) {
		Dwarf_Addr bias = 0;
		Dwarf_CFI *cfi =
		    which ? dwfl_module_dwarf_cfi(mod, &bias) : dwfl_module_eh_cfi(mod, &bias);
		Dwarf_Frame *frame = NULL;

		if (!cfi || dwarf_cfi_addrframe(cfi, addr - bias, &frame) != 0)
			continue;
		rule_of_frame(frame, r);
		free(frame);
		return;
	}
}

static const struct rule *rule_get(struct cfirule_table *t, Dwfl *dwfl, uint64_t addr,
				   struct cfirule_stats *stats)
{
	struct rule *r = slot_find(t->slots, t->n_slots, addr);

	if (r->kind != RULE_EMPTY)
		return r;
	if (table_reserve(t) != 0)
		return NULL;
	r = slot_find(t->slots, t->n_slots, addr);
	*r = (struct rule){.addr = addr};
	rule_compute(dwfl, addr, r);
	t->n_used++;
	stats->computed++;
	return r;
}

/* unwind.c's memory callback: one word of the copied stack. */
static bool stack_read(const struct unwind_snapshot *s, uint64_t addr, uint64_t *ret)
{
	uint64_t sp = s->regs[UNWIND_REG_SP], off;

	if (addr < sp)
		return false;
	off = addr - sp;
	if (off > s->stack_len || s->stack_len - off < sizeof(*ret))
		return false;
	memcpy(ret, s->stack + off, sizeof(*ret));
	return true;
}

int cfirule_walk(struct cfirule_table *t, Dwfl *dwfl, const struct unwind_snapshot *s,
		 uint64_t *pcs, size_t max, size_t *ret_n, bool *ret_complete,
		 struct cfirule_stats *stats)
{
	/* rsp, rbp, rip of the frame being unwound; all set in the first. */
	uint64_t val[TRACKED] = {s->regs[UNWIND_REG_SP], s->regs[REG_RBP], s->regs[UNWIND_REG_IP]};
	bool set[TRACKED] = {true, true, true};
	bool complete = false;
	size_t n = 0;

	for (;;) {
		uint64_t next[TRACKED] = {0}, pc = val[TRACK_RIP], cfa;
		bool next_set[TRACKED] = {false};
		const struct rule *r;

		if (n == max)
			break; /* unwind.c's frame callback stops the walk: incomplete */
		r = rule_get(t, dwfl, n == 0 ? pc : pc - 1, stats);
		if (!r)
			return -ENOMEM;
		if (r->kind != RULE_FRAME) {
			stats->general++;
			return -EAGAIN;
		}
		pcs[n++] = pc;
		if (r->reg[TRACK_RIP] == REG_UNDEFINED) {
			complete = true;
			break;
		}
		if (!set[r->cfa_rbp ? TRACK_RBP : TRACK_RSP])
			break; /* no CFA, so no return address */
		cfa = val[r->cfa_rbp ? TRACK_RBP : TRACK_RSP] + (uint64_t)(int64_t)r->cfa_off;
		for (int k = 0; k < TRACKED; k++) {
			switch (r->reg[k]) {
			case REG_SAME:
				next[k] = val[k];
				next_set[k] = set[k];
				break;
			case REG_UNDEFINED:
				break;
			case REG_AT_CFA:
				next_set[k] =
				    stack_read(s, cfa + (uint64_t)(int64_t)r->off[k], &next[k]);
				break;
			case REG_CFA_OFFSET:
				next[k] = cfa + (uint64_t)(int64_t)r->off[k];
				next_set[k] = true;
				break;
			}
		}
		if (!next_set[TRACK_RIP] || next[TRACK_RIP] == 0)
			break; /* libdw: the caller's pc is undefined, the stack ends */
		memcpy(val, next, sizeof(val));
		memcpy(set, next_set, sizeof(set));
	}
	stats->walks++;
	*ret_n = n;
	*ret_complete = complete;
	return 0;
}
