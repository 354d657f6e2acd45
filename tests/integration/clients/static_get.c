/*
 * static_get.c - a tiny HTTP/1.1 GET client for test_redirect_ebpf.sh, built there with
 * `gcc -static`: a program no LD_PRELOAD shim can reach (no dynamic loader), so only the
 * eBPF connect redirect can send it to lotad.
 *
 *   static_get ADDR PORT TARGET OUT
 *
 * connects to the numeric IPv4 address ADDR:PORT (plain connect(2), no resolver), sends
 * "GET TARGET" (a path with a presigned query) with Host ADDR:PORT, writes the body to
 * OUT and prints "STATUS X-LOTA-CACHE PEER" ("-" for a missing header; PEER is what
 * getpeername(2) reports). Exit 0 when the status is 200 and the body has the length the
 * response announced, else 1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char head[65536];

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: static_get ADDR PORT TARGET OUT\n");
		return 2;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 1;
	}
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	char peer_s[64] = "?";
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &peer.sin_addr, a, sizeof(a));
		snprintf(peer_s, sizeof(peer_s), "%s:%u", a, ntohs(peer.sin_port));
	}
	char req[8192];
	int n = snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", argv[3],
	                 argv[1], argv[2]);
	if (n <= 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
		return 1;
	/* Read the head (up to the blank line), then stream the rest into OUT. */
	size_t hl = 0;
	char *body = NULL;
	while (!body) {
		if (hl == sizeof(head) - 1)
			return 1;
		ssize_t r = read(fd, head + hl, sizeof(head) - 1 - hl);
		if (r <= 0)
			return 1;
		hl += (size_t)r;
		head[hl] = 0;
		body = strstr(head, "\r\n\r\n");
	}
	body += 4;
	int status = 0;
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1)
		return 1;
	long long clen = -1;
	char cache[32] = "-";
	for (char *line = strstr(head, "\r\n") + 2; line < body - 2;
	     line = strstr(line, "\r\n") + 2) {
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = atoll(line + 15);
		else if (strncasecmp(line, "x-lota-cache:", 13) == 0)
			sscanf(line + 13, " %31[a-z]", cache);
	}
	FILE *out = fopen(argv[4], "wb");
	if (!out)
		return 1;
	long long got = (long long)(head + hl - body);
	fwrite(body, 1, (size_t)got, out);
	char buf[65536];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)r, out);
		got += r;
	}
	fclose(out);
	close(fd);
	printf("%d %s %s\n", status, cache, peer_s);
	return status == 200 && r == 0 && (clen < 0 || got == clen) ? 0 : 1;
}
