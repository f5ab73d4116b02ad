/* spool: a bounded, crash-safe FIFO of records on local disk — what the
 * agent must not lose while the server is away (task reports, task ends,
 * profile slices) waits here and is sent in order when it returns.
 *
 * Layout: DIR/seg-NNNNNNNNNNNNNNNN files of length-prefixed, CRC-checked
 * records, appended and fdatasync'd; DIR/cursor holds the segment and offset of
 * the oldest unacknowledged record, replaced atomically (rename) on ack. A torn
 * record at the tail (crash mid-append) is cut off when the spool is opened;
 * records after a corrupt one in the middle are skipped and counted.
 * Not thread-safe: one owner.
 */
#ifndef CONTPROF_UTIL_SPOOL_H
#define CONTPROF_UTIL_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_SEGMENT_MAX_BYTES (1024 * 1024)
#define SPOOL_RECORD_MAX_BYTES	(16 * 1024 * 1024)

struct spool;

/* Opens (creating DIR if needed) a spool holding at most `max_bytes` of
 * records. Returns 0 and *ret, or -errno. */
int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret);
struct spool *spool_close(struct spool *spool);

/* Appends one record durably. -ENOBUFS when it would exceed the bound (the
 * caller counts the drop), -ENOSPC when the disk is full, -EMSGSIZE for a record over SPOOL_RECORD_MAX_BYTES,
 * other -errno on I/O errors (nothing half-written stays visible). */
int spool_append(struct spool *spool, const void *data, size_t len);

/* The oldest unacknowledged record as a malloc'd copy the caller frees.
 * -ENOENT when empty. Does not consume it. */
int spool_peek(struct spool *spool, void **ret_data, size_t *ret_len);

/* Drops the record spool_peek() returned. 0, -ENOENT when empty, -errno. */
int spool_ack(struct spool *spool);

uint64_t spool_bytes(const struct spool *spool);   /* bytes of pending records */
uint64_t spool_records(const struct spool *spool); /* pending records */
uint64_t spool_corrupt_skipped(const struct spool *spool);

#endif
