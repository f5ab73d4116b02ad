/* httpagg: see httpagg.h. */
#include "agent/httpagg.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
	int64_t second; /* INT64_MIN: empty */
	uint64_t requests;
	uint64_t errors;
	uint64_t total_ns;
};

struct item {
	enum policy_target target;
	enum policy_monitor monitor;
	char *label;
	bool has_regex;
	regex_t regex;
	char **uri_list;
	size_t uri_list_len;
	struct bucket buckets[HTTPAGG_SECONDS_KEPT];
};

struct proc {
	char *process_id;
	uint32_t pid;
	struct item *items;
	size_t n_items;
};

struct httpagg {
	struct proc *procs;
	size_t n_procs;
	int64_t emitted_before; /* seconds below this were emitted */
	uint64_t late;
};

struct httpagg *httpagg_new(void)
{
	struct httpagg *agg = calloc(1, sizeof(*agg));

	if (agg)
		agg->emitted_before = INT64_MIN;
	return agg;
}

static void item_clear(struct item *it)
{
	free(it->label);
	if (it->has_regex)
		regfree(&it->regex);
	for (size_t i = 0; i < it->uri_list_len; i++)
		free(it->uri_list[i]);
	free(it->uri_list);
}

static void items_free(struct item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		item_clear(&items[i]);
	free(items);
}

static void proc_clear(struct proc *p)
{
	free(p->process_id);
	items_free(p->items, p->n_items);
}

struct httpagg *httpagg_free(struct httpagg *agg)
{
	if (!agg)
		return NULL;
	for (size_t i = 0; i < agg->n_procs; i++)
		proc_clear(&agg->procs[i]);
	free(agg->procs);
	free(agg);
	return NULL;
}

static char *join_list(char *const *list, size_t n)
{
	size_t len = 1;
	char *s, *o;

	for (size_t i = 0; i < n; i++)
		len += strlen(list[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	o = s;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list[i]);

		if (i)
			*o++ = ',';
		memcpy(o, list[i], l);
		o += l;
	}
	*o = '\0';
	return s;
}

/* Fills `it` from a policy item; on error `it` holds nothing to free. */
static int item_init(struct item *it, enum policy_target target, const struct policy_item *src)
{
	int err = -ENOMEM;

	memset(it, 0, sizeof(*it));
	it->target = target;
	it->monitor = src->monitor;
	for (int b = 0; b < HTTPAGG_SECONDS_KEPT; b++)
		it->buckets[b].second = INT64_MIN;
	if (src->uri_regex) {
		if (regcomp(&it->regex, src->uri_regex, REG_EXTENDED | REG_NOSUB) != 0)
			return -EINVAL;
		it->has_regex = true;
		it->label = strdup(src->uri_regex);
	} else if (src->uri_list && src->uri_list_len) {
		it->uri_list = calloc(src->uri_list_len, sizeof(*it->uri_list));
		if (!it->uri_list)
			goto fail;
		for (size_t i = 0; i < src->uri_list_len; i++) {
			it->uri_list[i] = strdup(src->uri_list[i]);
			if (!it->uri_list[i])
				goto fail;
			it->uri_list_len++;
		}
		it->label = join_list(it->uri_list, it->uri_list_len);
	} else {
		it->label = strdup(HTTPAGG_LABEL_GLOBAL);
	}
	if (it->label)
		return 0;
fail:
	item_clear(it);
	memset(it, 0, sizeof(*it));
	return err;
}

static struct proc *find_proc(struct httpagg *agg, const char *process_id)
{
	for (size_t i = 0; i < agg->n_procs; i++)
		if (strcmp(agg->procs[i].process_id, process_id) == 0)
			return &agg->procs[i];
	return NULL;
}

/* Moves the buckets of the old item equal to `it` (if any) into it. */
static void keep_buckets(struct item *it, const struct proc *old)
{
	if (!old)
		return;
	for (size_t i = 0; i < old->n_items; i++) {
		const struct item *o = &old->items[i];

		if (o->target == it->target && o->monitor == it->monitor &&
		    strcmp(o->label, it->label) == 0 && o->has_regex == it->has_regex) {
			memcpy(it->buckets, o->buckets, sizeof(it->buckets));
			return;
		}
	}
}

int httpagg_set_process(struct httpagg *agg, const char *process_id, uint32_t pid,
			const struct policy *policy)
{
	struct proc *old = find_proc(agg, process_id);
	struct item *items = NULL;
	size_t n = 0, cap = 0;
	int err;

	for (size_t t = 0; t < policy->n_targets; t++)
		for (size_t i = 0; i < policy->targets[t].n_items; i++)
			cap += policy_monitor_is_http(policy->targets[t].items[i].monitor);
	if (cap == 0) {
		httpagg_remove_process(agg, process_id);
		return 0;
	}
	items = calloc(cap, sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (size_t t = 0; t < policy->n_targets; t++) {
		const struct policy_target_spec *spec = &policy->targets[t];

		for (size_t i = 0; i < spec->n_items; i++) {
			if (!policy_monitor_is_http(spec->items[i].monitor))
				continue;
			err = item_init(&items[n], spec->target, &spec->items[i]);
			if (err)
				goto fail;
			keep_buckets(&items[n], old);
			n++;
		}
	}
	if (!old) {
		struct proc *procs = realloc(agg->procs, (agg->n_procs + 1) * sizeof(*procs));
		char *id = strdup(process_id);

		if (procs)
			agg->procs = procs;
		if (!procs || !id) {
			free(id);
			err = -ENOMEM;
			goto fail;
		}
		old = &agg->procs[agg->n_procs++];
		memset(old, 0, sizeof(*old));
		old->process_id = id;
	}
	items_free(old->items, old->n_items);
	old->items = items;
	old->n_items = n;
	old->pid = pid;
	return 0;
fail:
	items_free(items, n);
	return err;
}

void httpagg_remove_process(struct httpagg *agg, const char *process_id)
{
	struct proc *p = find_proc(agg, process_id);

	if (!p)
		return;
	proc_clear(p);
	*p = agg->procs[--agg->n_procs];
}

size_t httpagg_process_count(const struct httpagg *agg)
{
	return agg->n_procs;
}

bool httpagg_watches_pid(const struct httpagg *agg, uint32_t pid)
{
	for (size_t i = 0; i < agg->n_procs; i++)
		if (agg->procs[i].pid == pid)
			return true;
	return false;
}

void httpagg_uri_path(const char *uri, char *out, size_t size)
{
	const char *p = uri, *end;
	size_t n;

	if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0) {
		p = strchr(p, ':') + 3;
		p += strcspn(p, "/?#");
		if (*p != '/') {
			/* "http://host" or "http://host?q": the path is "/". */
			snprintf(out, size, "/");
			return;
		}
	}
	end = p + strcspn(p, "?#");
	n = (size_t)(end - p);
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static bool item_selects(const struct item *it, const char *path, bool path_complete)
{
	if (it->has_regex)
		return regexec(&it->regex, path, 0, NULL, 0) == 0;
	if (it->uri_list_len == 0)
		return true;
	if (!path_complete)
		return false;
	for (size_t i = 0; i < it->uri_list_len; i++)
		if (strcmp(it->uri_list[i], path) == 0)
			return true;
	return false;
}

void httpagg_add(struct httpagg *agg, const struct httpmon_request *req)
{
	int64_t second = (int64_t)(req->end_ns / 1000000000ull);
	uint64_t dur_ns = req->end_ns > req->start_ns ? req->end_ns - req->start_ns : 0;
	char path[HTTPMON_URI_MAX + 1];
	bool complete;

	httpagg_uri_path(req->uri, path, sizeof(path));
	/* A cut URI has a complete path only when its query started inside the copy. */
	complete = !req->uri_truncated || strpbrk(req->uri, "?#") != NULL;
	if (second < agg->emitted_before) {
		for (size_t i = 0; i < agg->n_procs; i++)
			agg->late += agg->procs[i].pid == req->pid;
		return;
	}
	for (size_t i = 0; i < agg->n_procs; i++) {
		struct proc *p = &agg->procs[i];

		if (p->pid != req->pid)
			continue;
		for (size_t k = 0; k < p->n_items; k++) {
			struct item *it = &p->items[k];
			struct bucket *b;

			if (!item_selects(it, path, complete))
				continue;
			b = &it->buckets[(uint64_t)second % HTTPAGG_SECONDS_KEPT];
			if (b->second != second) {
				if (b->second != INT64_MIN)
					agg->late += b->requests;
				memset(b, 0, sizeof(*b));
				b->second = second;
			}
			b->requests++;
			b->errors += req->status >= HTTPAGG_ERROR_STATUS;
			b->total_ns += dur_ns;
		}
	}
}

static int cmp_bucket_second(const void *a, const void *b)
{
	int64_t x = (*(const struct bucket *const *)a)->second;
	int64_t y = (*(const struct bucket *const *)b)->second;

	return (x > y) - (x < y);
}

int httpagg_tick(struct httpagg *agg, int64_t now_s, httpagg_value_fn fn, void *ctx)
{
	int emitted = 0;

	for (size_t i = 0; i < agg->n_procs; i++) {
		struct proc *p = &agg->procs[i];

		for (size_t k = 0; k < p->n_items; k++) {
			struct item *it = &p->items[k];
			struct bucket *due[HTTPAGG_SECONDS_KEPT];
			size_t n_due = 0;

			for (int b = 0; b < HTTPAGG_SECONDS_KEPT; b++)
				if (it->buckets[b].second != INT64_MIN &&
				    it->buckets[b].second < now_s)
					due[n_due++] = &it->buckets[b];
			qsort(due, n_due, sizeof(due[0]), cmp_bucket_second);
			for (size_t d = 0; d < n_due; d++) {
				struct bucket *b = due[d];
				struct httpagg_value v = {
				    .process_id = p->process_id,
				    .pid = p->pid,
				    .target = it->target,
				    .monitor = it->monitor,
				    .label = it->label,
				    .second = b->second,
				    .requests = b->requests,
				    .errors = b->errors,
				    .total_ms = (double)b->total_ns / 1e6,
				};

				if (it->monitor == POLICY_MONITOR_HTTP_ERROR_RATE)
					v.value = 100.0 * (double)b->errors / (double)b->requests;
				else
					v.value = v.total_ms / (double)b->requests;
				fn(&v, ctx);
				emitted++;
				b->second = INT64_MIN;
			}
		}
	}
	if (now_s > agg->emitted_before)
		agg->emitted_before = now_s;
	return emitted;
}

uint64_t httpagg_late(const struct httpagg *agg)
{
	return agg->late;
}
