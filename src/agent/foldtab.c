/* foldtab: see foldtab.h. Open addressing with linear probing, kept at
 * <= 50 % load by doubling, up to what max_stacks needs. */
#include "agent/foldtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	char *key;
	size_t len;
	uint64_t count, total_ns;
};

#define FOLDTAB_INITIAL_SLOTS 64

struct foldtab {
	struct slot *slots;
	size_t n_slots, used, max_stacks;
	struct profile_stack *view;
	size_t view_cap;
};

struct foldtab *foldtab_new(size_t max_stacks)
{
	struct foldtab *t = calloc(1, sizeof(*t));

	if (!t || !max_stacks)
		return foldtab_free(t);
	t->slots = calloc(FOLDTAB_INITIAL_SLOTS, sizeof(*t->slots));
	if (!t->slots)
		return foldtab_free(t);
	t->n_slots = FOLDTAB_INITIAL_SLOTS;
	t->max_stacks = max_stacks;
	return t;
}

struct foldtab *foldtab_free(struct foldtab *t)
{
	if (!t)
		return NULL;
	if (t->slots)
		foldtab_clear(t);
	free(t->slots);
	free(t->view);
	free(t);
	return NULL;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static struct slot *find(struct foldtab *t, const char *key, size_t len)
{
	size_t i = (size_t)hash_bytes(key, len) & (t->n_slots - 1);

	for (;; i = (i + 1) & (t->n_slots - 1)) {
		struct slot *s = &t->slots[i];

		if (!s->key || (s->len == len && memcmp(s->key, key, len) == 0))
			return s;
	}
}

static int grow(struct foldtab *t)
{
	size_t n = t->n_slots * 2;
	struct slot *old = t->slots, *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	t->slots = slots;
	t->n_slots = n;
	for (size_t i = 0; i < n / 2; i++)
		if (old[i].key)
			*find(t, old[i].key, old[i].len) = old[i];
	free(old);
	return 0;
}

int foldtab_add(struct foldtab *t, const char *folded, size_t len, uint64_t count,
		uint64_t total_ns)
{
	struct slot *s;

	if (2 * (t->used + 1) > t->n_slots && grow(t))
		return -ENOMEM;
	s = find(t, folded, len);

	if (!s->key) {
		if (t->used >= t->max_stacks && !(len == strlen(FOLDTAB_LOST_FRAME) &&
						  memcmp(folded, FOLDTAB_LOST_FRAME, len) == 0)) {
			int r = foldtab_add(t, FOLDTAB_LOST_FRAME, strlen(FOLDTAB_LOST_FRAME),
					    count, total_ns);

			return r < 0 ? r : 1;
		}
		s->key = malloc(len + 1);
		if (!s->key)
			return -ENOMEM;
		memcpy(s->key, folded, len);
		s->key[len] = '\0';
		s->len = len;
		t->used++;
	}
	s->count += count;
	s->total_ns += total_ns;
	return 0;
}

size_t foldtab_size(const struct foldtab *t)
{
	return t->used;
}

int foldtab_view(struct foldtab *t, const struct profile_stack **ret, size_t *ret_n)
{
	size_t n = 0;

	if (t->used > t->view_cap) {
		struct profile_stack *v = realloc(t->view, t->used * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->view = v;
		t->view_cap = t->used;
	}
	for (size_t i = 0; i < t->n_slots && n < t->used; i++) {
		const struct slot *s = &t->slots[i];

		if (s->key)
			t->view[n++] = (struct profile_stack){
			    .folded = s->key, .count = s->count, .duration_ns = s->total_ns};
	}
	*ret = n ? t->view : NULL;
	*ret_n = n;
	return 0;
}

void foldtab_clear(struct foldtab *t)
{
	for (size_t i = 0; i < t->n_slots && t->used; i++) {
		if (t->slots[i].key)
			t->used--;
		free(t->slots[i].key);
		t->slots[i] = (struct slot){0};
	}
	t->used = 0;
}
