/* sync: the policy-sync hub of context.h — a generation counter under a
 * mutex and a condition variable on the monotonic clock. Writes through
 * this server bump it directly (sync_notify); writes through another server
 * sharing a PostgreSQL store reach it through the store's change listener
 * (sync_store_changed). */
#include <errno.h>
#include <time.h>

#include "server/context.h"

int sync_init(struct sync_hub *hub)
{
	pthread_condattr_t attr;
	int r;

	hub->generation = 1;
	hub->stopping = false;
	r = pthread_mutex_init(&hub->lock, NULL);
	if (r)
		return -r;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	r = pthread_cond_init(&hub->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (r) {
		pthread_mutex_destroy(&hub->lock);
		return -r;
	}
	return 0;
}

void sync_destroy(struct sync_hub *hub)
{
	pthread_cond_destroy(&hub->cond);
	pthread_mutex_destroy(&hub->lock);
}

uint64_t sync_generation(struct sync_hub *hub)
{
	uint64_t g;

	pthread_mutex_lock(&hub->lock);
	g = hub->generation;
	pthread_mutex_unlock(&hub->lock);
	return g;
}

void sync_notify(struct sync_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	hub->generation++;
	pthread_cond_broadcast(&hub->cond);
	pthread_mutex_unlock(&hub->lock);
}

void sync_store_changed(void *hub)
{
	sync_notify(hub);
}

void sync_stop(struct sync_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	hub->stopping = true;
	pthread_cond_broadcast(&hub->cond);
	pthread_mutex_unlock(&hub->lock);
}

bool sync_wait(struct sync_hub *hub, uint64_t seen, int64_t timeout_ms)
{
	struct timespec deadline;
	bool changed;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&hub->lock);
	while (hub->generation == seen && !hub->stopping)
		if (pthread_cond_timedwait(&hub->cond, &hub->lock, &deadline) == ETIMEDOUT)
			break;
	changed = hub->generation != seen;
	pthread_mutex_unlock(&hub->lock);
	return changed;
}
