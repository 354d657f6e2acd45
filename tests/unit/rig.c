/*
 * rig.c - lotad inside a unit test (see rig.h): set-up and tear-down of a worker, its
 * store and cache, the fake upstream and the credentials; the test's clients; metrics and
 * store inspection.
 */
#include "rig.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <lota/placement.h>
#include <lota/sigv4.h>

#include "metrics.h"
#include "s3/auth.h"
#include "s3/s3err.h"
#include "unit.h"

static const uint8_t rig_secret[LOTAD_STORE_SECRET_LEN] = {
    0x6c, 0x6f, 0x74, 0x61, 0x20, 0x75, 0x6e, 0x69, 0x74, 0x20, 0x72, 0x69, 0x67, 0x20, 0x6b, 0x65,
    0x79, 0x20, 0x66, 0x6f, 0x72, 0x20, 0x73, 0x74, 0x6f, 0x72, 0x65, 0x20, 0x74, 0x65, 0x73, 0x74};

void rig_turn(rig *r)
{
	(void)lotad_loop_run_once(r->loop, RIG_TURN_MS);
}

/* ------------------------------------------------------------------ set-up --- */

static bool setup_creds(void)
{
	static const char text[] =
	    "[unit]\naws_access_key_id = " RIG_AK "\naws_secret_access_key = " RIG_SK "\n";
	char err[256];
	lotad_creds *c = lotad_creds_parse(text, sizeof(text) - 1, "rig", err, sizeof(err));
	if (!c) {
		fprintf(stderr, "rig: credentials: %s\n", err);
		return false;
	}
	lotad_creds_set_current(c);
	lotad_creds_unref(c);
	return true;
}

static bool setup_cache(rig *r, const rig_opts *o)
{
	lotad_cache_config cc;
	lotad_cache_config_init(&cc);
	cc.extent_size = o->extent_size ? o->extent_size : 256 * 1024;
	cc.min_object_size = o->min_object_size ? o->min_object_size : 1024;
	cc.fill_streams = o->fill_streams ? o->fill_streams : 2;
	cc.fill_profile = o->fill_profile;
	if (o->cache) {
		if (!r->root[0] && !lota_unit_tmpdir("lota-rig", r->root, sizeof(r->root))) {
			perror("rig: mkdtemp");
			return false;
		}
		lotad_store_dir_spec d;
		snprintf(d.path, sizeof(d.path), "%s/d0", r->root);
		d.capacity_bytes = 1ull << 30;
		lotad_store_config sc;
		lotad_store_config_init(&sc);
		sc.dirs = &d;
		sc.num_dirs = 1;
		sc.node_secret = rig_secret;
		sc.encrypt = !o->plain;
		sc.block_size = 16 * 1024; /* several blocks per extent: readers follow fills */
		sc.evict_interval_ms = 0;  /* no eviction thread */
		int rc = lotad_store_new(&sc, &r->store);
		if (rc < 0) {
			fprintf(stderr, "rig: store: %s\n", lota_strerror(rc));
			return false;
		}
	}
	r->cache = lotad_cache_new(r->store, &cc);
	return r->cache != NULL;
}

static void setup_settings(rig *r, const rig_opts *o, int up_port)
{
	lotad_settings *s = &r->s;
	memset(s, 0, sizeof(*s));
	snprintf(s->listen_host, sizeof(s->listen_host), "127.0.0.1");
	s->listen_port = 0;
	snprintf(s->upstream_hostport, sizeof(s->upstream_hostport), "127.0.0.1:%d", up_port);
	snprintf(s->upstream_url, sizeof(s->upstream_url), "http://%s", s->upstream_hostport);
	s->region = "us-east-1";
	s->max_skew_s = 900;
	s->workers = 1;
	s->idle_timeout_ms = 60000;
	s->header_timeout_ms = 20000;
	s->upstream_connect_timeout_ms = 5000;
	s->upstream_timeout_ms = o->upstream_timeout_ms;
	s->shutdown_timeout_ms = 1000;
	s->upstream_retries = o->no_retries ? 0 : 2;
	s->max_connections = 1000;
	s->client_buffer = o->client_buffer ? o->client_buffer : 64 * 1024;
	s->relay_coalesce = o->relay_coalesce;
	s->auth.endpoint_names = s->endpoint_names;
	s->auth.num_endpoint_names = 0;
	s->auth.upstream_host = s->upstream_hostport;
	s->auth.region = s->region;
	s->auth.max_skew_s = s->max_skew_s;
	s->auth.upstream_default_port = 80;
}

bool rig_start(rig *r, const rig_opts *o)
{
	static const rig_opts none;
	int lfd = -1;
	if (!o)
		o = &none;
	memset(r, 0, sizeof(*r));
	lotad_metrics__reset();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !setup_creds() ||
	    !setup_cache(r, o))
		goto fail;
	lotad_metrics_add_provider(lotad_cache_metrics, r->cache);
	if (r->store)
		lotad_metrics_add_provider(lotad_store_metrics, r->store);
	/* The fake needs the loop and the worker's settings need the fake's port: the
	 * settings name a port first and get the fake's once the worker exists. */
	setup_settings(r, o, o->upstream_port ? o->upstream_port : 1);
	if (lotad_server_listen(&r->s, true, &lfd) < 0)
		goto fail;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	if (getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		goto fail;
	r->port = ntohs(a.sin_port);
	snprintf(r->host, sizeof(r->host), "127.0.0.1:%d", r->port);
	lotad_router_init(&r->router, r->cache);
	r->hooks = (lotad_server_hooks){
	    .request = lotad_router_request,
	    .worker_stop = lotad_router_worker_stop,
	    .error_response = lotad_s3err_response,
	    .ud = &r->router,
	};
	r->w = lotad_worker_new(0, &r->s, &r->hooks, lfd);
	if (!r->w)
		goto fail;
	lfd = -1; /* the worker's */
	r->loop = lotad_worker_loop(r->w);
	r->up = fakeup_new(r->loop);
	if (!r->up)
		goto fail;
	fakeup_key(r->up, RIG_AK, RIG_SK);
	if (!o->upstream_port)
		setup_settings(r, o, fakeup_port(r->up));
	return true;
fail:
	fprintf(stderr, "rig: cannot start\n");
	if (lfd >= 0)
		close(lfd);
	rig_stop(r);
	return false;
}

bool rig_restart_cache(rig *r, const rig_opts *o)
{
	lotad_cache_free(r->cache);
	r->cache = NULL;
	lotad_store_free(r->store);
	r->store = NULL;
	lotad_metrics__reset();
	if (!setup_cache(r, o)) {
		fprintf(stderr, "rig: cannot start the cache again\n");
		return false;
	}
	lotad_metrics_add_provider(lotad_cache_metrics, r->cache);
	if (r->store)
		lotad_metrics_add_provider(lotad_store_metrics, r->store);
	lotad_router_init(&r->router, r->cache);
	return true;
}

void rig_stop(rig *r)
{
	for (size_t i = 0; i < r->nclients; i++) {
		rig_client_close(r->clients[i], false);
		free(r->clients[i]->in);
		free(r->clients[i]->out);
		free(r->clients[i]->dec);
		free(r->clients[i]);
	}
	r->nclients = 0;
	if (r->w) {
		/* Abort what still runs; the worker is idle once every connection is gone. */
		lotad_worker_shutdown(r->w, true);
		RIG_UNTIL(r, lotad_worker_idle(r->w));
		if (!lotad_worker_idle(r->w))
			fprintf(stderr, "rig: the worker did not stop\n");
	}
	fakeup_free(r->up); /* before the loop goes with the worker */
	r->up = NULL;
	lotad_worker_join_free(r->w); /* stops the cache's fills of the worker */
	r->w = NULL;
	lotad_cache_free(r->cache); /* waits for fills being published */
	r->cache = NULL;
	lotad_store_free(r->store);
	r->store = NULL;
	lota_unit_rmtree(r->root);
	r->root[0] = 0;
	lotad_creds_set_current(NULL);
	lotad_metrics__reset();
}

/* ----------------------------------------------------------------- clients --- */

static void client_io(lotad_io *io, uint32_t events);

static void client_set_io(rig_client *c)
{
	if (c->ended)
		return;
	uint32_t ev = c->paused ? 0 : EPOLLIN | EPOLLRDHUP;
	if (c->out_off < c->out_len)
		ev |= EPOLLOUT;
	(void)lotad_io_set(c->r->loop, &c->io, ev ? ev : EPOLLERR);
}

static void client_end(rig_client *c, bool reset)
{
	if (c->ended)
		return;
	c->ended = true;
	c->reset = reset;
	lotad_io_stop(c->r->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
}

static void client_flush(rig_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n =
		    send(c->io.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		client_end(c, true);
		return;
	}
	client_set_io(c);
}

static void client_io(lotad_io *io, uint32_t events)
{
	rig_client *c = io->ud;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
		for (;;) {
			if (c->in_cap - c->in_len < 65536) {
				size_t ncap = c->in_cap ? 2 * c->in_cap : 256 * 1024;
				char *n = realloc(c->in, ncap);
				if (!n)
					return;
				c->in = n;
				c->in_cap = ncap;
			}
			ssize_t n = recv(io->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
			if (n > 0) {
				c->in_len += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			client_end(c, n < 0);
			return;
		}
	}
	if (events & EPOLLOUT)
		client_flush(c);
}

rig_client *rig_client_new(rig *r)
{
	if (r->nclients == RIG_MAX_CLIENTS)
		return NULL;
	rig_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->r = r;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)r->port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int rcvbuf = 64 * 1024; /* bounded (no autotuning), so a paused client holds little */
	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)) {
		if (fd >= 0)
			close(fd);
		free(c);
		return NULL;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->io = (lotad_io){.fd = fd, .fn = client_io, .ud = c};
	client_set_io(c);
	r->clients[r->nclients++] = c;
	return c;
}

void rig_client_close(rig_client *c, bool reset)
{
	if (c->ended)
		return;
	if (reset) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		(void)setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	client_end(c, reset);
}

void rig_client_pause(rig_client *c, bool paused)
{
	c->paused = paused;
	client_set_io(c);
}

static void out_add(rig_client *c, const char *p, size_t n)
{
	char *o = realloc(c->out, c->out_len + n);
	if (!o)
		return;
	c->out = o;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

static void request(rig_client *c, const char *method, const char *target,
                    const char *const *headers, const char *body, size_t body_len, bool sign,
                    const char *host, const char *ak, const char *sk);

void rig_request(rig_client *c, const char *method, const char *target, const char *const *headers,
                 const char *body, size_t body_len, bool sign)
{
	request(c, method, target, headers, body, body_len, sign, c->r->host, RIG_AK, RIG_SK);
}

void rig_request_as(rig_client *c, const char *method, const char *target,
                    const char *const *headers, const char *host, const char *ak, const char *sk)
{
	request(c, method, target, headers, NULL, 0, true, host, ak, sk);
}

static void request(rig_client *c, const char *method, const char *target,
                    const char *const *headers, const char *body, size_t body_len, bool sign,
                    const char *host, const char *ak, const char *sk)
{
	enum { MAXH = 32 };
	lota_http_header hs[MAXH + 6];
	size_t n = 0;
	char date[LOTA_SIGV4_AMZ_DATE_LEN + 1], cl[32];
	int64_t now = (int64_t)time(NULL);
	const char *q = strchr(target, '?');
	lota_str path = {target, q ? (size_t)(q - target) : strlen(target)};
	lota_str query = q ? (lota_str){q + 1, strlen(q + 1)} : (lota_str){"", 0};

	c->head_req = !strcmp(method, "HEAD");
	hs[n++] = (lota_http_header){LOTA_STR_LIT("Host"), {host, strlen(host)}};
	if (sign) {
		lota_sigv4_format_amz_date(now, date);
		hs[n++] =
		    (lota_http_header){LOTA_STR_LIT("X-Amz-Date"), {date, LOTA_SIGV4_AMZ_DATE_LEN}};
		hs[n++] = (lota_http_header){LOTA_STR_LIT("x-amz-content-sha256"),
		                             body_len ? LOTA_STR_LIT(LOTA_SIGV4_UNSIGNED_PAYLOAD)
		                                      : LOTA_STR_LIT(LOTA_SIGV4_EMPTY_SHA256)};
	}
	bool own_length = false; /* the caller's Content-Length (a body sent only in part) */
	for (size_t i = 0; headers && headers[i]; i++)
		own_length |= strncasecmp(headers[i], "content-length:", 15) == 0;
	if (!own_length && (body_len || !strcmp(method, "PUT"))) {
		int l = snprintf(cl, sizeof(cl), "%zu", body_len);
		hs[n++] = (lota_http_header){LOTA_STR_LIT("Content-Length"), {cl, (size_t)l}};
	}
	for (size_t i = 0; headers && headers[i] && i < MAXH; i++) {
		const char *colon = strchr(headers[i], ':');
		if (!colon)
			continue;
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		hs[n++] =
		    (lota_http_header){{headers[i], (size_t)(colon - headers[i])}, {v, strlen(v)}};
	}
	lota_sigv4_signature sig;
	if (sign) {
		lota_sigv4_params p = {
		    .sz = sizeof(p),
		    .access_key = {ak, strlen(ak)},
		    .secret_key = {sk, strlen(sk)},
		    .region = LOTA_STR_LIT("us-east-1"),
		    .service = LOTA_STR_LIT("s3"),
		    .time = now,
		};
		lota_sigv4_request sr = {{method, strlen(method)}, path, query, hs, n, {NULL, 0}};
		if (lota_sigv4_sign_header(&p, &sr, &sig) < 0) {
			fprintf(stderr, "rig: cannot sign %s %s\n", method, target);
			return;
		}
		hs[n++] = (lota_http_header){LOTA_STR_LIT("Authorization"),
		                             {sig.authorization, strlen(sig.authorization)}};
	}
	char line[4096];
	int l = snprintf(line, sizeof(line), "%s %s HTTP/1.1\r\n", method, target);
	out_add(c, line, (size_t)l);
	for (size_t i = 0; i < n; i++) {
		l = snprintf(line, sizeof(line), "%.*s: %.*s\r\n", (int)hs[i].name.len,
		             hs[i].name.ptr, (int)hs[i].value.len, hs[i].value.ptr);
		out_add(c, line, (size_t)l);
	}
	out_add(c, "\r\n", 2);
	if (body_len)
		out_add(c, body, body_len);
	client_flush(c);
}

void rig_resp_get(rig_client *c, rig_resp *p)
{
	lota_http_response resp;
	memset(p, 0, sizeof(*p));
	int rc = lota_http_parse_response(c->in, c->in_len, &resp, p->hdrs, 64, NULL);
	if (rc <= 0)
		return;
	p->have_head = true;
	p->status = resp.status;
	p->nhdrs = resp.num_headers;
	lota_http_body kind = lota_http_response_body(&resp, c->head_req);
	p->has_length = resp.body == LOTA_HTTP_BODY_LENGTH;
	p->length = resp.content_length;
	p->body = c->in + rc;
	p->body_len = c->in_len - (size_t)rc;
	if (kind == LOTA_HTTP_BODY_NONE) {
		p->complete = true;
	} else if (kind == LOTA_HTTP_BODY_LENGTH) {
		p->complete = p->body_len >= resp.content_length;
	} else if (kind == LOTA_HTTP_BODY_CHUNKED) {
		/* decoded again from the start each time: complete at the last chunk */
		p->chunked = true;
		if (!p->body_len) {
			p->body = "";
			return;
		}
		if (c->dec_cap < p->body_len) {
			char *d = realloc(c->dec, p->body_len);
			if (!d)
				return;
			c->dec = d;
			c->dec_cap = p->body_len;
		}
		lota_http_chunked dc = {0}; /* init keeps max_line_bytes: set it first */
		lota_http_chunked_init(&dc);
		size_t len = p->body_len;
		memcpy(c->dec, p->body, len);
		int drc = lota_http_chunked_decode(&dc, c->dec, &len);
		p->body = c->dec;
		p->body_len = drc >= 0 || drc == LOTA_E_INCOMPLETE ? len : 0;
		p->complete = drc >= 0;
	} else {
		p->complete = c->ended; /* until the connection ends */
	}
}

void rig_resp_wait(rig_client *c, rig_resp *p)
{
	RIG_UNTIL(c->r, (rig_resp_get(c, p), p->complete) || c->ended);
	rig_resp_get(c, p);
}

lota_str rig_resp_header(const rig_resp *p, const char *name)
{
	const lota_http_header *h = lota_http_find_header(p->hdrs, p->nhdrs, name, strlen(name));
	return h ? h->value : (lota_str){"", 0};
}

bool rig_resp_header_is(const rig_resp *p, const char *name, const char *value)
{
	lota_str v = rig_resp_header(p, name);
	return v.len == strlen(value) && memcmp(v.ptr, value, v.len) == 0;
}

/* --------------------------------------------------------------- inspection --- */

double rig_metric(const char *series)
{
	size_t len = 0, sl = strlen(series);
	char *text = lotad_metrics_render(&len);
	double v = -1;
	for (char *line = text; line && line < text + len;) {
		char *eol = memchr(line, '\n', (size_t)(text + len - line));
		if (!eol)
			eol = text + len;
		if ((size_t)(eol - line) > sl && memcmp(line, series, sl) == 0 && line[sl] == ' ') {
			v = strtod(line + sl + 1, NULL);
			break;
		}
		line = eol + 1;
	}
	free(text);
	return v;
}

lotad_store_stats rig_store_stats(rig *r)
{
	lotad_store_stats st;
	memset(&st, 0, sizeof(st));
	if (r->store)
		lotad_store_get_stats(r->store, &st);
	return st;
}

int rig_store_extent(rig *r, const char *bucket, const char *key, const char *etag, uint64_t size,
                     uint64_t k, const void *data, size_t len)
{
	lota_cache_key ck = {
	    .bucket = {bucket, strlen(bucket)},
	    .key = {key, strlen(key)},
	    .etag = {etag, strlen(etag)},
	    .size_bytes = size,
	    .extent_index = k,
	};
	uint8_t kb[4096];
	int kl = lota_cache_key_canonical(&ck, kb, sizeof(kb));
	lota_hash128 h;
	if (!r->store || kl < 0 || lota_cache_key_hash(&ck, &h) < 0)
		return -1;
	int st = lotad_store_lookup(r->store, h);
	if (st < 0)
		return -1;
	if (st == 0 || !data)
		return st;
	lotad_store_reader *rd = NULL;
	if (lotad_store_open(r->store, h, kb, (size_t)kl, &rd) < 0)
		return -2;
	int ret = lotad_reader_length(rd) == len ? 1 : -2;
	char buf[16384];
	for (uint64_t off = 0; ret == 1 && off < len;) {
		ssize_t n = lotad_reader_read(rd, off, buf, sizeof(buf));
		if (n <= 0 || memcmp(buf, (const char *)data + off, (size_t)n) != 0)
			ret = -2;
		else
			off += (uint64_t)n;
	}
	lotad_reader_close(rd);
	return ret;
}
