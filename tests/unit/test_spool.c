/* Unit tests for util/spool: order, persistence across reopen, the bound,
 * segment rollover, a torn tail and a corrupt record. Real files in a
 * temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "util/spool.h"

static char dir[64];

static void fresh_dir(void)
{
	char cmd[128];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK_INT_EQ(system(cmd), 0);
	}
	snprintf(dir, sizeof(dir), "/tmp/contprof-spool-test-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
}

static void append_str(struct spool *s, const char *text)
{
	CHECK_INT_EQ(spool_append(s, text, strlen(text)), 0);
}

static void expect_next(struct spool *s, const char *want)
{
	void *data = NULL;
	size_t len = 0;
	char buf[256] = {0};

	if (!CHECK_INT_EQ(spool_peek(s, &data, &len), 0))
		return;
	memcpy(buf, data, len < sizeof(buf) - 1 ? len : sizeof(buf) - 1);
	CHECK_STR_EQ(buf, want);
	free(data);
	CHECK_INT_EQ(spool_ack(s), 0);
}

TEST(records_come_back_in_order_and_once)
{
	struct spool *s = NULL;
	void *data;
	size_t len;

	fresh_dir();
	CHECK_INT_EQ(spool_open(dir, 1 << 20, &s), 0);
	CHECK_INT_EQ(spool_peek(s, &data, &len), -ENOENT);
	CHECK_INT_EQ(spool_ack(s), -ENOENT);
	append_str(s, "one");
	append_str(s, "two");
	append_str(s, "");
	CHECK_INT_EQ(spool_records(s), 3);
	CHECK_INT_EQ(spool_bytes(s), 3 + 3 + 0 + 3 * 8);
	expect_next(s, "one");
	expect_next(s, "two");
	expect_next(s, "");
	CHECK_INT_EQ(spool_peek(s, &data, &len), -ENOENT);
	CHECK_INT_EQ(spool_bytes(s), 0);
	spool_close(s);
}

TEST(pending_records_survive_reopen)
{
	struct spool *s = NULL;

	fresh_dir();
	CHECK_INT_EQ(spool_open(dir, 1 << 20, &s), 0);
	append_str(s, "a");
	append_str(s, "b");
	append_str(s, "c");
	expect_next(s, "a");
	spool_close(s);
	CHECK_INT_EQ(spool_open(dir, 1 << 20, &s), 0);
	CHECK_INT_EQ(spool_records(s), 2);
	expect_next(s, "b");
	append_str(s, "d");
	spool_close(s);
	CHECK_INT_EQ(spool_open(dir, 1 << 20, &s), 0);
	expect_next(s, "c");
	expect_next(s, "d");
	CHECK_INT_EQ(spool_records(s), 0);
	spool_close(s);
}

TEST(bound_refuses_with_enospc_and_frees_on_ack)
{
	struct spool *s = NULL;
	char rec[100];

	fresh_dir();
	memset(rec, 'x', sizeof(rec));
	CHECK_INT_EQ(spool_open(dir, 250, &s), 0);
	CHECK_INT_EQ(spool_append(s, rec, sizeof(rec)), 0);
	CHECK_INT_EQ(spool_append(s, rec, sizeof(rec)), 0);
	CHECK_INT_EQ(spool_append(s, rec, sizeof(rec)), -ENOBUFS);
	CHECK_INT_EQ(spool_records(s), 2);
	void *data;
	size_t len;
	CHECK_INT_EQ(spool_peek(s, &data, &len), 0);
	free(data);
	CHECK_INT_EQ(spool_ack(s), 0);
	CHECK_INT_EQ(spool_append(s, rec, sizeof(rec)), 0);
	CHECK_INT_EQ(spool_append(s, rec, (size_t)SPOOL_RECORD_MAX_BYTES + 1), -EMSGSIZE);
	spool_close(s);
}

TEST(segments_roll_over_and_are_removed_when_acked)
{
	struct spool *s = NULL;
	static char rec[300 * 1024];
	char path[128];
	int n = 10;

	fresh_dir();
	CHECK_INT_EQ(spool_open(dir, 64 << 20, &s), 0);
	for (int i = 0; i < n; i++) {
		memset(rec, 'a' + i, sizeof(rec));
		CHECK_INT_EQ(spool_append(s, rec, sizeof(rec)), 0);
	}
	snprintf(path, sizeof(path), "%s/seg-%016d", dir, 2);
	CHECK(access(path, F_OK) == 0);
	spool_close(s);
	CHECK_INT_EQ(spool_open(dir, 64 << 20, &s), 0);
	CHECK_INT_EQ(spool_records(s), n);
	for (int i = 0; i < n; i++) {
		void *data;
		size_t len;

		if (!CHECK_INT_EQ(spool_peek(s, &data, &len), 0))
			break;
		CHECK_INT_EQ(len, sizeof(rec));
		CHECK_INT_EQ(((char *)data)[len - 1], 'a' + i);
		free(data);
		CHECK_INT_EQ(spool_ack(s), 0);
	}
	snprintf(path, sizeof(path), "%s/seg-%016d", dir, 1);
	CHECK(access(path, F_OK) != 0);
	spool_close(s);
}

static void segment_file(char *path, size_t len, int seg)
{
	snprintf(path, len, "%s/seg-%016d", dir, seg);
}

TEST(torn_tail_record_is_cut_off_on_open)
{
	struct spool *s = NULL;
	char path[128];
	struct stat st;

	fresh_dir();
	CHECK_INT_EQ(spool_open(dir, 1 << 20, &s), 0);
	append_str(s, "whole");
	append_str(s, "torn-record");
	spool_close(s);
	segment_file(path, sizeof(path), 1);
	CHECK_INT_EQ(stat(path, &st), 0);
	CHECK_INT_EQ(truncate(path, st.st_size - 3), 0);
	CHECK_INT_EQ(spool_open(dir, 1 << 20, &s), 0);
	CHECK_INT_EQ(spool_records(s), 1);
	append_str(s, "after");
	expect_next(s, "whole");
	expect_next(s, "after");
	spool_close(s);
}

TEST(corrupt_record_is_detected_by_crc)
{
	struct spool *s = NULL;
	char path[128];
	int fd;

	fresh_dir();
	CHECK_INT_EQ(spool_open(dir, 1 << 20, &s), 0);
	append_str(s, "good");
	append_str(s, "flipped");
	spool_close(s);
	segment_file(path, sizeof(path), 1);
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK_INT_EQ(pwrite(fd, "X", 1, 8 + 4 + 8 + 2), 1);
	close(fd);
	CHECK_INT_EQ(spool_open(dir, 1 << 20, &s), 0);
	CHECK_INT_EQ(spool_records(s), 1);
	expect_next(s, "good");
	spool_close(s);
}

TEST(open_fails_cleanly_on_unusable_dir)
{
	struct spool *s = NULL;

	CHECK_INT_EQ(spool_open("/proc/contprof-no-such/dir", 100, &s), -ENOENT);
	CHECK(s == NULL);
	CHECK(spool_close(NULL) == NULL);
}

int main(void)
{
	RUN(records_come_back_in_order_and_once);
	RUN(pending_records_survive_reopen);
	RUN(bound_refuses_with_enospc_and_frees_on_ack);
	RUN(segments_roll_over_and_are_removed_when_acked);
	RUN(torn_tail_record_is_cut_off_on_open);
	RUN(corrupt_record_is_detected_by_crc);
	RUN(open_fails_cleanly_on_unusable_dir);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return harness_finish();
}
