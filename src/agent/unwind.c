/* unwind: see unwind.h. One `struct unwind_proc` per process: its Dwfl
 * (modules from /proc/PID/maps through libdw's own reader, ELF files found
 * by dwfl_linux_proc_find_elf, debug files under /usr/lib/debug by
 * build-id or debuglink), attached to the callbacks below; the snapshot
 * being unwound is pointed to while dwfl_getthread_frames() runs. The
 * process's rule table (cfirule.h) is emptied whenever its Dwfl is
 * replaced; without one (ENOMEM) every snapshot takes libdw's path. */
#include "agent/unwind.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct unwind_proc {
	pid_t pid;
	Dwfl *dwfl;
	struct cfirule_table *rules;
	bool attached;
	int64_t last_used_ms, last_refresh_ms;
	const struct unwind_snapshot *snap; /* during one unwinding only */
};

/* Each process on its own allocation: libdw holds its address (dwfl_arg). */
struct unwinder {
	struct unwind_proc *procs[UNWIND_PIDS_MAX];
	size_t n;
	bool no_rule_cache;
	struct cfirule_stats stats;
};

struct frame_walk {
	uint64_t *pcs;
	size_t n, max;
	bool last_is_activation;
};

static char *debuginfo_path;

static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct unwind_proc *p = arg;

	(void)dwfl;
	/* One thread per call: the snapshot's, handed out once. */
	if (*thread_argp)
		return 0;
	*thread_argp = p;
	return p->snap ? (pid_t)p->snap->tid : 0;
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct unwind_proc *p = arg;

	(void)dwfl;
	if (!p->snap || (pid_t)p->snap->tid != tid)
		return false;
	*thread_argp = p;
	return true;
}

/* Reads one word of the snapshot's stack; false outside the copied bytes
 * (the unwinding stops there). */
static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct unwind_proc *p = arg;
	const struct unwind_snapshot *s = p->snap;
	uint64_t sp, off;

	(void)dwfl;
	if (!s)
		return false;
	sp = s->regs[UNWIND_REG_SP];
	if (addr < sp)
		return false;
	off = addr - sp;
	if (off > s->stack_len || s->stack_len - off < sizeof(*result))
		return false;
	memcpy(result, s->stack + off, sizeof(*result));
	return true;
}

static bool cb_set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	struct unwind_proc *p = thread_arg;
	Dwarf_Word regs[UNWIND_REGS];

	for (size_t i = 0; i < UNWIND_REGS; i++)
		regs[i] = p->snap->regs[i];
	dwfl_thread_state_register_pc(thread, regs[UNWIND_REG_IP]);
	return dwfl_thread_state_registers(thread, 0, UNWIND_REGS - 1, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = cb_next_thread,
    .get_thread = cb_get_thread,
    .memory_read = cb_memory_read,
    .set_initial_registers = cb_set_initial_registers,
};

static void proc_close(struct unwind_proc *p)
{
	if (p->dwfl)
		dwfl_end(p->dwfl);
	cfirule_table_free(p->rules);
	*p = (struct unwind_proc){0};
}

/* Frees the process at index i and fills the hole with the last one. */
static void proc_remove(struct unwinder *u, size_t i)
{
	proc_close(u->procs[i]);
	free(u->procs[i]);
	u->procs[i] = u->procs[--u->n];
	u->procs[u->n] = NULL;
}

/* (Re)reads the process's modules into a fresh Dwfl. */
static int proc_open(struct unwind_proc *p, pid_t pid, int64_t now_ms)
{
	Dwfl *dwfl = dwfl_begin(&dwfl_callbacks);
	int err;

	if (!dwfl)
		return -ENOMEM;
	dwfl_report_begin(dwfl);
	err = dwfl_linux_proc_report(dwfl, pid);
	if (dwfl_report_end(dwfl, NULL, NULL) != 0 && !err)
		err = -1;
	if (err) {
		dwfl_end(dwfl);
		return err == ENOENT || err == ESRCH ? -ESRCH : -EIO;
	}
	if (p->dwfl)
		dwfl_end(p->dwfl);
	p->pid = pid;
	p->dwfl = dwfl;
	if (p->rules)
		cfirule_table_clear(p->rules);
	else
		p->rules = cfirule_table_new();
	p->attached = dwfl_attach_state(dwfl, NULL, pid, &thread_callbacks, p);
	p->last_refresh_ms = now_ms;
	p->last_used_ms = now_ms;
	return p->attached ? 0 : -EIO;
}

static struct unwind_proc *proc_get(struct unwinder *u, pid_t pid, int64_t now_ms, int *ret_err)
{
	size_t lru = 0;
	struct unwind_proc *p;

	*ret_err = 0;
	for (size_t i = 0; i < u->n; i++) {
		if (u->procs[i]->pid == pid)
			return u->procs[i];
		if (u->procs[i]->last_used_ms < u->procs[lru]->last_used_ms)
			lru = i;
	}
	if (u->n == UNWIND_PIDS_MAX)
		proc_remove(u, lru);
	p = calloc(1, sizeof(*p));
	if (!p) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	*ret_err = proc_open(p, pid, now_ms);
	if (*ret_err) {
		proc_close(p);
		free(p);
		return NULL;
	}
	u->procs[u->n++] = p;
	return p;
}

struct unwinder *unwinder_new(void)
{
	return calloc(1, sizeof(struct unwinder));
}

struct unwinder *unwinder_free(struct unwinder *u)
{
	if (!u)
		return NULL;
	while (u->n)
		proc_remove(u, u->n - 1);
	free(u);
	return NULL;
}

void unwinder_get_stats(const struct unwinder *u, struct cfirule_stats *ret)
{
	*ret = u->stats;
}

void unwinder_set_rule_cache(struct unwinder *u, bool on)
{
	u->no_rule_cache = !on;
}

void unwinder_expire(struct unwinder *u, int64_t now_ms)
{
	for (size_t i = 0; i < u->n;) {
		if (now_ms - u->procs[i]->last_used_ms < UNWIND_IDLE_MS)
			i++;
		else
			proc_remove(u, i);
	}
}

static int on_frame(Dwfl_Frame *frame, void *arg)
{
	struct frame_walk *w = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(frame, &pc, &activation))
		return DWARF_CB_ABORT;
	if (w->n == w->max)
		return DWARF_CB_ABORT;
	w->pcs[w->n++] = pc;
	w->last_is_activation = activation;
	return DWARF_CB_OK;
}

/* True when the CFI of the code at `pc` says its return address is
 * undefined: the outermost frame of a thread (_start, clone3). */
static bool cfi_marks_outermost(Dwfl *dwfl, uint64_t pc, bool activation)
{
	Dwarf_Addr lookup = activation ? pc : pc - 1, bias;
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, lookup);

	if (!mod)
		return false;
	for (int which = 0; which < 2; which++) {
		Dwarf_CFI *cfi =
		    which ? dwfl_module_dwarf_cfi(mod, &bias) : dwfl_module_eh_cfi(mod, &bias);
		Dwarf_Frame *frame = NULL;
		Dwarf_Op ops_mem[3], *ops = NULL;
		size_t nops = 1;
		bool undefined;
		int ra;

		if (!cfi || dwarf_cfi_addrframe(cfi, lookup - bias, &frame) != 0)
			continue;
		ra = dwarf_frame_info(frame, NULL, NULL, NULL);
		undefined = ra >= 0 && dwarf_frame_register(frame, ra, ops_mem, &ops, &nops) == 0 &&
			    nops == 0 && ops == ops_mem;
		free(frame);
		return undefined;
	}
	return false;
}

int unwinder_unwind(struct unwinder *u, const struct unwind_snapshot *s, int64_t now_ms,
		    uint64_t *pcs, size_t max, size_t *ret_n, bool *ret_complete)
{
	struct frame_walk w = {.pcs = pcs, .max = max};
	struct unwind_proc *p;
	int err, rc;

	*ret_n = 0;
	*ret_complete = false;
	p = proc_get(u, (pid_t)s->pid, now_ms, &err);
	if (!p)
		return err;
	/* A pc outside every module: the process mapped something new. */
	if (!dwfl_addrmodule(p->dwfl, s->regs[UNWIND_REG_IP]) &&
	    now_ms - p->last_refresh_ms >= UNWIND_REFRESH_MS) {
		err = proc_open(p, (pid_t)s->pid, now_ms);
		if (err) {
			for (size_t i = 0; i < u->n; i++)
				if (u->procs[i] == p)
					proc_remove(u, i);
			return err;
		}
	}
	p->last_used_ms = now_ms;
	/* The cached rules, unless a frame needs libdw (or memory ran out). */
	if (p->rules && !u->no_rule_cache &&
	    cfirule_walk(p->rules, p->dwfl, s, pcs, max, ret_n, ret_complete, &u->stats) == 0)
		return *ret_n ? 0 : -ENOENT;
	p->snap = s;
	rc = dwfl_getthread_frames(p->dwfl, (pid_t)s->tid, on_frame, &w);
	p->snap = NULL;
	if (w.n == 0)
		return -ENOENT;
	*ret_n = w.n;
	/* libdw also ends without an error where it merely could not go on (a
	 * read outside the copy): only the CFI's own end mark counts. */
	*ret_complete =
	    rc == 0 && cfi_marks_outermost(p->dwfl, w.pcs[w.n - 1], w.last_is_activation);
	return 0;
}
