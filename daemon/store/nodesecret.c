/*
 * nodesecret.c - load or create the node secret file (see nodesecret.h).
 *
 * Creation writes a uniquely named sibling temp file (O_EXCL, 0600), fsyncs it and
 * link()s it to the final name: link fails with EEXIST when another process won the
 * race, and then that process's complete file is loaded instead. The final name thus
 * never names a partial file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto-internal.h"
#include "store/nodesecret.h"

static int load(const char *path, uint8_t out[LOTAD_NODESECRET_LEN])
{
	int rc, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	rc = -EINVAL;
	if (!S_ISREG(st.st_mode))
		goto out;
	rc = -EACCES;
	if ((st.st_mode & 077) != 0 || st.st_uid != geteuid())
		goto out;
	rc = -EINVAL;
	if (st.st_size != LOTAD_NODESECRET_LEN)
		goto out;
	size_t got = 0;
	while (got < LOTAD_NODESECRET_LEN) {
		ssize_t n = read(fd, out + got, LOTAD_NODESECRET_LEN - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EINVAL;
			goto out;
		}
		got += (size_t)n;
	}
	rc = 0;
out:
	close(fd);
	if (rc)
		lota__wipe(out, LOTAD_NODESECRET_LEN);
	return rc;
}

static int create(const char *path, uint8_t out[LOTAD_NODESECRET_LEN])
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	int rc = lota__random_bytes(out, LOTAD_NODESECRET_LEN);
	if (rc)
		return rc;
	(void)unlink(tmp); /* a leftover of a crashed start with our pid */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	size_t put = 0;
	while (put < LOTAD_NODESECRET_LEN) {
		ssize_t w = write(fd, out + put, LOTAD_NODESECRET_LEN - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			goto fail_fd;
		}
		put += (size_t)w;
	}
	/* the umask may have removed bits, never added: still force exactly 0600 */
	if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
		rc = -errno;
		goto fail_fd;
	}
	close(fd);
	fd = -1;
	if (link(tmp, path) != 0) {
		rc = -errno;
		(void)unlink(tmp);
		if (rc == -EEXIST) /* lost a race: use the winner's file */
			rc = load(path, out);
		if (rc)
			goto fail;
		return 0;
	}
	(void)unlink(tmp);
	return 0;
fail_fd:
	close(fd);
	(void)unlink(tmp);
fail:
	lota__wipe(out, LOTAD_NODESECRET_LEN);
	return rc;
}

int lotad_nodesecret_load_or_create(const char *path, uint8_t out[LOTAD_NODESECRET_LEN])
{
	if (!path || !*path || !out)
		return -EINVAL;
	int rc = load(path, out);
	if (rc == -ENOENT)
		rc = create(path, out);
	return rc;
}
