/* Unit tests of util/token: the constant-time comparison (correct on equal,
 * shorter, longer, prefix, empty and one-byte-off secrets), token files
 * (trimming, refusal of group/world-accessible files with a chmod hint, of
 * empty and binary ones, of non-regular files), tokens from the environment
 * (order, refusal of control characters) and PEM files (key permissions,
 * size bound). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "util/token.h"

TEST(constant_time_compare_is_correct)
{
	char longer[TOKEN_MAX_LEN + 1], other[TOKEN_MAX_LEN + 1];

	CHECK(token_equal("s3cret", "s3cret"));
	CHECK(!token_equal("s3cret", "s3cre"));
	CHECK(!token_equal("s3cret", "s3cretX"));
	CHECK(!token_equal("s3cret", "S3cret"));
	CHECK(!token_equal("s3cret", "s3creT"));
	CHECK(!token_equal("s3cret", ""));
	CHECK(!token_equal("", ""));
	CHECK(!token_equal("", "x"));
	/* A repetition of the secret is not the secret (the loop wraps). */
	CHECK(!token_equal("ab", "abab"));
	CHECK(!token_equal("a", "aa"));
	memset(longer, 'q', TOKEN_MAX_LEN);
	longer[TOKEN_MAX_LEN] = '\0';
	memcpy(other, longer, sizeof(other));
	CHECK(token_equal(longer, other));
	/* Each single-byte difference, at every position, is caught. */
	for (size_t i = 0; i < TOKEN_MAX_LEN; i += 97) {
		other[i] = 'r';
		harness_context("difference at byte %zu", i);
		CHECK(!token_equal(longer, other));
		other[i] = 'q';
	}
	CHECK(token_equal(longer, other));
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	CHECK(chmod(path, mode) == 0);
}

TEST(token_files_are_private_and_trimmed)
{
	char dir[] = "/tmp/contprof-test-token-XXXXXX", path[256], err[TOKEN_ERROR_MAX_LEN];
	char *tok = NULL;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/token", dir);

	write_file(path, "  s3cret-token \t\nsecond line\n", 0600);
	CHECK_INT_EQ(token_read_file(path, &tok, err, sizeof(err)), 0);
	CHECK_STR_EQ(tok, "s3cret-token");
	free(tok);
	tok = NULL;

	write_file(path, "s3cret\n", 0400);
	CHECK_INT_EQ(token_read_file(path, &tok, err, sizeof(err)), 0);
	free(tok);
	tok = NULL;

	/* Readable (or writable) by group or others: refused, with the fix. */
	static const mode_t open_modes[] = {0644, 0640, 0604, 0620, 0602, 0660};
	for (size_t i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		write_file(path, "s3cret\n", open_modes[i]);
		harness_context("mode %04o", (unsigned)open_modes[i]);
		CHECK_INT_EQ(token_read_file(path, &tok, err, sizeof(err)), -EPERM);
		CHECK(tok == NULL);
		CHECK(strstr(err, "chmod 600") != NULL);
		CHECK(strstr(err, path) != NULL);
	}

	write_file(path, " \n", 0600);
	CHECK_INT_EQ(token_read_file(path, &tok, err, sizeof(err)), -EINVAL);
	write_file(path, "a\001b\n", 0600);
	CHECK_INT_EQ(token_read_file(path, &tok, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "no usable token") != NULL);

	/* A directory is no token file; a missing file names the file. */
	CHECK(chmod(dir, 0700) == 0);
	CHECK_INT_EQ(token_read_file(dir, &tok, err, sizeof(err)), -EINVAL);
	unlink(path);
	CHECK_INT_EQ(token_read_file(path, &tok, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot read token file") != NULL);
	CHECK(tok == NULL);
	rmdir(dir);
}

TEST(tokens_from_the_environment)
{
	static const char *const envs[] = {"CONTPROF_TEST_ROLE_TOKEN", "CONTPROF_TEST_TOKEN", NULL};
	char err[TOKEN_ERROR_MAX_LEN], *tok = (char *)"unset";

	unsetenv(envs[0]);
	unsetenv(envs[1]);
	CHECK_INT_EQ(token_from_env(envs, &tok, err, sizeof(err)), 0);
	CHECK(tok == NULL);
	setenv(envs[1], "shared", 1);
	CHECK_INT_EQ(token_from_env(envs, &tok, err, sizeof(err)), 0);
	CHECK_STR_EQ(tok, "shared");
	free(tok);
	setenv(envs[0], " role ", 1);
	CHECK_INT_EQ(token_from_env(envs, &tok, err, sizeof(err)), 0);
	CHECK_STR_EQ(tok, "role");
	free(tok);
	tok = NULL;
	setenv(envs[0], "a\r\nX-Evil: 1", 1);
	CHECK_INT_EQ(token_from_env(envs, &tok, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "$CONTPROF_TEST_ROLE_TOKEN") != NULL);
	unsetenv(envs[0]);
	unsetenv(envs[1]);
}

TEST(pem_files_keys_private_to_the_world)
{
	char dir[] = "/tmp/contprof-test-pem-XXXXXX", path[256], err[TOKEN_ERROR_MAX_LEN];
	char *pem = NULL;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	write_file(path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0640);
	CHECK_INT_EQ(token_read_pem(path, true, &pem, err, sizeof(err)), 0);
	CHECK(pem && strncmp(pem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	free(pem);
	pem = NULL;
	CHECK(chmod(path, 0644) == 0);
	CHECK_INT_EQ(token_read_pem(path, true, &pem, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "chmod o-rwx") != NULL);
	/* A certificate may be world-readable. */
	CHECK_INT_EQ(token_read_pem(path, false, &pem, err, sizeof(err)), 0);
	free(pem);
	pem = NULL;
	/* Empty, then over the bound. */
	write_file(path, "", 0600);
	CHECK_INT_EQ(token_read_pem(path, false, &pem, err, sizeof(err)), -EINVAL);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, TOKEN_PEM_MAX_BYTES + 1) == 0);
	close(fd);
	CHECK_INT_EQ(token_read_pem(path, false, &pem, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "larger than") != NULL);
	CHECK(pem == NULL);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	RUN(constant_time_compare_is_correct);
	RUN(token_files_are_private_and_trimmed);
	RUN(tokens_from_the_environment);
	RUN(pem_files_keys_private_to_the_world);
	return harness_finish();
}
