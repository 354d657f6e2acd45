/*
 * rawserve.c - the baseline of bench/cache.sh: the fewest moves a server can make to send
 * a file from the page cache over loopback HTTP/1.1, so that lotad's hit figures (MiB/s
 * and CPU seconds per GiB) can be set beside the physical cost of the copy in one run.
 *
 *   rawserve PORT DIR pread|sendfile [CHUNK_BYTES]
 *
 * Serves GET /NAME as the file DIR/NAME (NAME: one path component, no "..") with 200 and
 * Content-Length, keep-alive, one blocking thread per connection: a pread + send loop of
 * CHUNK_BYTES (default 256 KiB, lotad's client buffer) or sendfile of the same calls.
 * No parsing beyond the request line, no authorization, no event loop: whatever lotad
 * spends above this is its own. Listens on 127.0.0.1 only. A benchmark tool, not a
 * server: a malformed request closes the connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, memmem; the build defines it already */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_MAX 16384

static const char *g_dir;
static int g_sendfile;
static size_t g_chunk = 256 * 1024;

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send bytes [0, size) of file fd; -1 when the client went away. */
static int send_file(int sock, int fd, off_t size, char *buf)
{
	off_t off = 0;
	while (off < size) {
		size_t want = (size_t)(size - off) < g_chunk ? (size_t)(size - off) : g_chunk;
		if (g_sendfile) {
			ssize_t n = sendfile(sock, fd, &off, want);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			continue;
		}
		ssize_t n = pread(fd, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || send_all(sock, buf, (size_t)n) < 0)
			return -1;
		off += n;
	}
	return 0;
}

/* One request from head[0..len): its response. Returns -1 to close the connection. */
static int answer(int sock, char *head, char *buf)
{
	char name[256], path[4096 + 256], resp[256];
	if (sscanf(head, "GET /%255[^ ?] HTTP/1.", name) != 1 || strchr(name, '/') ||
	    strstr(name, ".."))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
		if (fd >= 0)
			close(fd);
		return send_all(sock, nf, sizeof(nf) - 1);
	}
	int n = snprintf(resp, sizeof(resp),
	                 "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
	                 "Content-Type: application/octet-stream\r\n\r\n",
	                 (long long)st.st_size);
	int rc = send_all(sock, resp, (size_t)n);
	if (rc == 0)
		rc = send_file(sock, fd, st.st_size, buf);
	close(fd);
	return rc;
}

static void *conn_main(void *arg)
{
	int sock = (int)(intptr_t)arg;
	char *head = malloc(HEAD_MAX + 1), *buf = malloc(g_chunk);
	size_t have = 0;
	if (!head || !buf)
		goto out;
	for (;;) {
		char *end = NULL;
		while (!(end = memmem(head, have, "\r\n\r\n", 4))) {
			if (have == HEAD_MAX)
				goto out;
			ssize_t n = recv(sock, head + have, HEAD_MAX - have, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		size_t used = (size_t)(end + 4 - head);
		head[have < HEAD_MAX ? have : HEAD_MAX] = 0;
		if (answer(sock, head, buf) < 0)
			goto out;
		memmove(head, head + used, have - used);
		have -= used;
	}
out:
	free(head);
	free(buf);
	close(sock);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[3], "pread") && strcmp(argv[3], "sendfile"))) {
		fprintf(stderr, "usage: rawserve PORT DIR pread|sendfile [CHUNK_BYTES]\n");
		return 2;
	}
	g_dir = argv[2];
	g_sendfile = strcmp(argv[3], "sendfile") == 0;
	if (argc > 4 && (g_chunk = strtoul(argv[4], NULL, 10)) < 4096) {
		fprintf(stderr, "rawserve: CHUNK_BYTES below 4096\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((unsigned short)atoi(argv[1])),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1024) < 0) {
		perror("rawserve: listen");
		return 1;
	}
	for (;;) {
		int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("rawserve: accept");
			return 1;
		}
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, conn_main, (void *)(intptr_t)s) != 0)
			close(s);
		pthread_attr_destroy(&at);
	}
}
