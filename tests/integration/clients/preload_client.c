/*
 * preload_client.c - a small plain-HTTP client for the LD_PRELOAD shim's tests and its
 * benchmark: a program lota does not know, written the way C programs reach a server
 * (resolve a name with one of libc's resolvers, then connect()), so the shim is what
 * sends it to lotad. Built by tests/integration/test_preload.sh and bench/redirect.sh.
 *
 *   preload_client [options] HOST PORT TARGET OUT
 *     --resolver gai|ghbn|ghbn2|ghbn_r|ghbn2_r   which libc resolver (default gai)
 *     --nonblock        connect on a non-blocking socket, wait with poll()
 *     --fork            the parent resolves, a forked child connects and GETs
 *     --threads N       N threads, each its own GET (bodies in OUT.0 .. OUT.N-1)
 *     --exec            exec itself once (same arguments, without --exec) first
 *     --peer            print the connected socket's getpeername() as peer=ADDRESS:PORT
 *     --heads N         N HEADs on one kept-alive connection; prints elapsed_ns=
 *     --connects N      N connections, one HEAD each; prints elapsed_ns=
 * A GET writes the body of a 200 to OUT (Connection: close, anonymous) and fails on any
 * other status. Exit 0 when every request succeeded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *resolver = "gai";
static int nonblock, show_peer;
static const char *host, *port, *target, *out;

/* The address of host:port through the chosen resolver (v4 for the gethostbyname ones). */
static int resolve(struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strcmp(resolver, "gai") == 0) {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_INET}, *res;
		int rc = getaddrinfo(host, port, &hints, &res);
		if (rc != 0) {
			fprintf(stderr, "getaddrinfo %s: %s\n", host, gai_strerror(rc));
			return -1;
		}
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		freeaddrinfo(res);
		return 0;
	}
	struct hostent *h = NULL, he;
	char buf[4096];
	int herr = 0;
	if (strcmp(resolver, "ghbn") == 0)
		h = gethostbyname(host);
	else if (strcmp(resolver, "ghbn2") == 0)
		h = gethostbyname2(host, AF_INET);
	else if (strcmp(resolver, "ghbn_r") == 0)
		gethostbyname_r(host, &he, buf, sizeof(buf), &h, &herr);
	else if (strcmp(resolver, "ghbn2_r") == 0)
		gethostbyname2_r(host, AF_INET, &he, buf, sizeof(buf), &h, &herr);
	if (!h || h->h_addrtype != AF_INET) {
		fprintf(stderr, "%s %s: no v4 address\n", resolver, host);
		return -1;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)atoi(port));
	memcpy(&in->sin_addr, h->h_addr_list[0], 4);
	*len = sizeof(*in);
	return 0;
}

/* With --fork the parent resolves and the child only connects: the child must find the
 * address the parent's resolver recorded. */
static struct sockaddr_storage pre;
static socklen_t pre_len;

static int dial(void)
{
	struct sockaddr_storage ss = pre;
	socklen_t len = pre_len;
	if (len == 0 && resolve(&ss, &len) < 0)
		return -1;
	int fd = socket(ss.ss_family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	int rc = connect(fd, (struct sockaddr *)&ss, len);
	if (rc < 0 && nonblock && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t el = sizeof(err);
		if (poll(&p, 1, 10000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0)
			rc = err ? -1 : 0;
		errno = err;
		if (rc == 0)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	}
	if (rc < 0) {
		fprintf(stderr, "connect %s:%s: %s\n", host, port, strerror(errno));
		close(fd);
		return -1;
	}
	if (show_peer) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		char ip[INET6_ADDRSTRLEN] = "?";
		if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0) {
			const struct sockaddr_in *in = (const struct sockaddr_in *)&peer;
			inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
			printf("peer=%s:%u\n", ip, (unsigned)ntohs(in->sin_port));
		}
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One GET (Connection: close) into path: 0 when it was a 200 written whole. */
static int get_to(const char *path)
{
	int fd = dial(), rc = -1;
	FILE *f = NULL;
	if (fd < 0)
		return -1;
	char req[2048], buf[65536];
	int n = snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", target,
	                 host, port);
	if (send_all(fd, req, (size_t)n) < 0)
		goto out;
	size_t got = 0;
	char *body = NULL;
	while (!body) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got - 1);
		if (r <= 0)
			goto out;
		got += (size_t)r;
		buf[got] = '\0';
		body = strstr(buf, "\r\n\r\n");
	}
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200 ", 5) != 0) {
		fprintf(stderr, "GET %s: %.*s\n", target, (int)strcspn(buf, "\r"), buf);
		goto out;
	}
	body += 4;
	f = fopen(path, "wb");
	if (!f || fwrite(body, 1, got - (size_t)(body - buf), f) != got - (size_t)(body - buf))
		goto out;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (fwrite(buf, 1, (size_t)r, f) != (size_t)r)
			goto out;
	}
	rc = 0;
out:
	if (f && fclose(f) != 0)
		rc = -1;
	close(fd);
	return rc;
}

/* Reads one response head (a HEAD's whole response) on fd: 0 for a 2xx. */
static int read_head(int fd)
{
	char buf[8192];
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got - 1);
		if (r <= 0)
			return -1;
		got += (size_t)r;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
		if (got == sizeof(buf) - 1)
			return -1;
	}
	return strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 2", 2) == 0 ? 0 : -1;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int heads(long n, int reconnect)
{
	char req[2048];
	int len = snprintf(req, sizeof(req), "HEAD %s HTTP/1.1\r\nHost: %s:%s\r\n%s\r\n", target,
	                   host, port, reconnect ? "Connection: close\r\n" : "");
	long long t0 = now_ns();
	int fd = -1;
	for (long i = 0; i < n; i++) {
		if (fd < 0 && (fd = dial()) < 0)
			return -1;
		if (send_all(fd, req, (size_t)len) < 0 || read_head(fd) < 0) {
			fprintf(stderr, "HEAD %ld failed\n", i);
			close(fd);
			return -1;
		}
		if (reconnect) {
			close(fd);
			fd = -1;
		}
	}
	long long t1 = now_ns();
	if (fd >= 0)
		close(fd);
	printf("elapsed_ns=%lld\n", t1 - t0);
	return 0;
}

static void *thread_get(void *arg)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s.%ld", out, (long)(intptr_t)arg);
	return (void *)(intptr_t)(get_to(path) == 0);
}

int main(int argc, char **argv)
{
	int do_fork = 0, do_exec = 0, threads = 0;
	long nheads = 0, nconnects = 0;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (!strcmp(argv[i], "--resolver") && i + 1 < argc)
			resolver = argv[++i];
		else if (!strcmp(argv[i], "--nonblock"))
			nonblock = 1;
		else if (!strcmp(argv[i], "--peer"))
			show_peer = 1;
		else if (!strcmp(argv[i], "--fork"))
			do_fork = 1;
		else if (!strcmp(argv[i], "--exec"))
			do_exec = i;
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--heads") && i + 1 < argc)
			nheads = atol(argv[++i]);
		else if (!strcmp(argv[i], "--connects") && i + 1 < argc)
			nconnects = atol(argv[++i]);
		else
			break;
	}
	if (argc - i != 4) {
		fprintf(stderr, "usage: %s [options] HOST PORT TARGET OUT\n", argv[0]);
		return 2;
	}
	host = argv[i];
	port = argv[i + 1];
	target = argv[i + 2];
	out = argv[i + 3];
	if (do_exec) {
		/* the same command without --exec: the shim must come back in the new image */
		memmove(&argv[do_exec], &argv[do_exec + 1],
		        (size_t)(argc - do_exec) * sizeof(char *));
		execv("/proc/self/exe", argv);
		perror("execv");
		return 1;
	}
	if (nheads > 0)
		return heads(nheads, 0) == 0 ? 0 : 1;
	if (nconnects > 0)
		return heads(nconnects, 1) == 0 ? 0 : 1;
	if (threads > 0) {
		pthread_t t[64];
		int ok = 1;
		if (threads > 64)
			threads = 64;
		for (long k = 0; k < threads; k++)
			if (pthread_create(&t[k], NULL, thread_get, (void *)(intptr_t)k) != 0)
				return 1;
		for (int k = 0; k < threads; k++) {
			void *r;
			pthread_join(t[k], &r);
			ok = ok && r != NULL;
		}
		return ok ? 0 : 1;
	}
	if (do_fork) {
		if (resolve(&pre, &pre_len) < 0)
			return 1;
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0)
			_exit(get_to(out) == 0 ? 0 : 1);
		int st;
		if (waitpid(pid, &st, 0) < 0)
			return 1;
		return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
	}
	return get_to(out) == 0 ? 0 : 1;
}
