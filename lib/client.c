/*
 * client.c - the S3 client handle (lota/client.h): configuration, the pool of curl easy
 * handles and the shared connection cache, one transfer signed and run, the batch runner
 * that drives many transfers on a curl multi handle in the caller's thread, and errors.
 *
 * Invariants: the handle itself is immutable after lota_client_new but for the easy
 * pool (under pool_mu) and the curl share (locked through curl's callbacks), so any
 * number of threads may use it. A transfer is signed when it starts (each attempt anew,
 * with the time of that attempt). Nothing is printed, nothing exits.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <lota/awsconf.h>
#include <lota/request.h>
#include <lota/sigv4.h>

#include "client-internal.h"
#include "crypto-internal.h"
#include "opts-internal.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

uint64_t lota__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------------------------------------------------------- errors --- */

void lota__client_err(lota_client_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

const char *lota_client_error_format(const lota_client_error *e, char *buf, size_t cap)
{
	if (!buf || cap == 0)
		return buf;
	if (!e) {
		snprintf(buf, cap, "unknown error");
		return buf;
	}
	int n = 0;
	if (e->s3_code[0])
		n = snprintf(buf, cap, "%s", e->s3_code);
	else
		n = snprintf(buf, cap, "%s", lota_strerror(e->code));
	if (n >= 0 && (size_t)n < cap && e->http_status)
		n += snprintf(buf + n, cap - (size_t)n, " (HTTP %d)", e->http_status);
	if (n >= 0 && (size_t)n < cap && e->message[0])
		n += snprintf(buf + n, cap - (size_t)n, ": %s", e->message);
	if (n >= 0 && (size_t)n < cap && e->request_id[0])
		snprintf(buf + n, cap - (size_t)n, " [request id %s]", e->request_id);
	return buf;
}

int lota__status_code(int status)
{
	switch (status) {
	case 404:
		return LOTA_E_CLIENT_NOT_FOUND;
	case 403:
		return LOTA_E_CLIENT_DENIED;
	case 412:
		return LOTA_E_CLIENT_CHANGED;
	case 416:
		return LOTA_E_RANGE_UNSATISFIABLE;
	default:
		return LOTA_E_CLIENT_HTTP;
	}
}

static const char *status_s3_code(int status)
{
	switch (status) {
	case 404:
		return "NotFound";
	case 403:
		return "Forbidden";
	case 412:
		return "PreconditionFailed";
	case 416:
		return "InvalidRange";
	case 503:
		return "ServiceUnavailable";
	case 500:
		return "InternalError";
	default:
		return "";
	}
}

int lota__xfer_result(const lota__xfer *x, lota_client_error *err, bool *retry)
{
	*retry = false;
	if (x->fail) {
		/* a callback's own code; a body past its cap; a bad answer */
		if (err && err->code != x->fail)
			lota__client_err(err, x->fail, "%s",
			                 /* a request that could not be built says why */
			                 x->curl_code == CURLE_OK && x->curl_err[0]
			                     ? x->curl_err
			                     : lota_strerror(x->fail));
		if (err)
			err->http_status = x->status;
		return x->fail;
	}
	if (x->curl_code != CURLE_OK) {
		lota__client_err(err, LOTA_E_CLIENT_TRANSPORT, "%s",
		                 x->curl_err[0] ? x->curl_err
		                                : curl_easy_strerror((CURLcode)x->curl_code));
		if (err)
			err->http_status = x->status;
		/* Everything the network does is worth another try; what we did is not. */
		*retry = x->curl_code != CURLE_URL_MALFORMAT &&
		         x->curl_code != CURLE_OUT_OF_MEMORY &&
		         x->curl_code != CURLE_UNSUPPORTED_PROTOCOL &&
		         x->curl_code != CURLE_BAD_FUNCTION_ARGUMENT;
		return LOTA_E_CLIENT_TRANSPORT;
	}
	if (x->status >= 200 && x->status < 300)
		return 0;
	int code = lota__status_code(x->status);
	if (err) {
		memset(err, 0, sizeof(*err));
		err->code = code;
		err->http_status = x->status;
		snprintf(err->request_id, sizeof(err->request_id), "%s", x->request_id);
		if (x->body_len) {
			(void)lota__xml_text(x->body, x->body_len, "Error/Code", err->s3_code,
			                     sizeof(err->s3_code));
			(void)lota__xml_text(x->body, x->body_len, "Error/Message", err->message,
			                     sizeof(err->message));
			if (!err->request_id[0])
				(void)lota__xml_text(x->body, x->body_len, "Error/RequestId",
				                     err->request_id, sizeof(err->request_id));
		}
		if (!err->s3_code[0])
			snprintf(err->s3_code, sizeof(err->s3_code), "%s",
			         status_s3_code(x->status));
	}
	char s3code[64] = "";
	if (x->body_len)
		(void)lota__xml_text(x->body, x->body_len, "Error/Code", s3code, sizeof(s3code));
	*retry = x->status >= 500 || !strcmp(s3code, "SlowDown") ||
	         !strcmp(s3code, "RequestTimeout") || !strcmp(s3code, "InternalError");
	return code;
}

uint64_t lota__backoff_ms(const lota_client *c, unsigned n)
{
	uint64_t d = c->retry_base_ms;
	for (unsigned i = 1; i < n && d < LOTA__BACKOFF_CAP_MS; i++)
		d *= 2;
	if (d > LOTA__BACKOFF_CAP_MS)
		d = LOTA__BACKOFF_CAP_MS;
	/* Full jitter on the upper half, so parts failing together do not retry together. */
	uint32_t r = 0;
	if (lota__random_bytes(&r, sizeof(r)) != 0)
		r = (uint32_t)lota__now_ms() * 2654435761u;
	return d / 2 + (d / 2 + 1) * r / UINT32_MAX;
}

/* ---------------------------------------------------------------- handle --- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *ud)
{
	(void)h;
	(void)a;
	lota_client *c = ud;
	pthread_mutex_lock(&c->locks[(unsigned)data % 8]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	lota_client *c = ud;
	pthread_mutex_unlock(&c->locks[(unsigned)data % 8]);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* "http[s]://host[:port][/]" -> endpoint without the slash, and the Host value. */
static int parse_endpoint(lota_client *c, const char *url)
{
	const char *rest;
	if (!strncasecmp(url, "http://", 7))
		rest = url + 7;
	else if (!strncasecmp(url, "https://", 8))
		rest = url + 8;
	else
		return LOTA_E_CLIENT_URI;
	size_t hl = strcspn(rest, "/?#");
	if (hl == 0 || (rest[hl] && strcmp(rest + hl, "/") != 0))
		return LOTA_E_CLIENT_URI;
	for (size_t i = 0; i < hl; i++)
		if ((unsigned char)rest[i] <= ' ' || rest[i] == '@' || rest[i] == '\\' ||
		    (unsigned char)rest[i] >= 0x7f)
			return LOTA_E_CLIENT_URI;
	c->host = strndup(rest, hl);
	c->endpoint = strndup(url, (size_t)(rest - url) + hl);
	return c->host && c->endpoint ? 0 : -ENOMEM;
}

static void wipe_free(char *s)
{
	if (s) {
		lota__wipe(s, strlen(s));
		free(s);
	}
}

void lota_client_free(lota_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	free(c->pool);
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < 8; i++)
		pthread_mutex_destroy(&c->locks[i]);
	pthread_mutex_destroy(&c->pool_mu);
	free(c->endpoint);
	free(c->host);
	free(c->region);
	free(c->access_key);
	wipe_free(c->secret_key);
	wipe_free(c->session_token);
	free(c->admin_url);
	free(c->ca_bundle);
	free(c);
}

const char *lota_client_endpoint(const lota_client *c)
{
	return c ? c->endpoint : NULL;
}

const char *lota_client_region(const lota_client *c)
{
	return c ? c->region : NULL;
}

int lota_client_new(const lota_client_opts *opts_in, lota_client **out)
{
	lota_client_opts o;
	lota_aws_profile *prof = NULL;
	lota_client *c = NULL;
	char msg[LOTA_AWSCONF_ERR_LEN] = "";
	int rc;
	lota_client_error *err = NULL;

	if (!out)
		return -EINVAL;
	*out = NULL;
	memset(&o, 0, sizeof(o));
	if (opts_in) {
		rc = lota__opts_load(opts_in, LOTA__OFFSETOFEND(lota_client_opts, err), sizeof(o),
		                     &o);
		if (rc < 0)
			return rc;
		err = o.err;
	}
	if (err)
		memset(err, 0, sizeof(*err));
	rc = -EINVAL;
	if ((o.access_key_id && *o.access_key_id) !=
	    (o.secret_access_key && *o.secret_access_key)) {
		lota__client_err(err, rc, "access_key_id and secret_access_key go together");
		goto fail;
	}
	if (o.concurrency > LOTA_CLIENT_MAX_CONCURRENCY ||
	    (o.multipart_part_size_bytes &&
	     o.multipart_part_size_bytes < LOTA_CLIENT_MIN_MP_PART_SIZE)) {
		lota__client_err(err, rc, "concurrency above %u or a part below 5 MiB",
		                 LOTA_CLIENT_MAX_CONCURRENCY);
		goto fail;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		rc = LOTA_E_CLIENT_TRANSPORT;
		lota__client_err(err, rc, "libcurl failed to initialise");
		goto fail;
	}
	rc = -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	for (int i = 0; i < 8; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	pthread_mutex_init(&c->pool_mu, NULL);

	/* The AWS environment and files, as the AWS CLI reads them. */
	lota_aws_resolve_opts ro = LOTA_OPTS(lota_aws_resolve_opts, .profile = o.profile);
	rc = lota_aws_profile_resolve(&ro, &prof, msg, sizeof(msg));
	if (rc < 0) {
		lota__client_err(err, rc, "%s", msg[0] ? msg : lota_strerror(rc));
		goto fail;
	}
	const char *ep =
	    o.endpoint_url && *o.endpoint_url ? o.endpoint_url : getenv("LOTA_ENDPOINT");
	if (!ep || !*ep)
		ep = lota_aws_profile_get(prof, LOTA_AWS_FIELD_ENDPOINT_URL);
	const char *region =
	    o.region && *o.region ? o.region : lota_aws_profile_get(prof, LOTA_AWS_FIELD_REGION);
	c->region = strdup(region && *region ? region : "us-east-1");
	char def[256];
	if (!ep || !*ep) {
		snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com",
		         c->region ? c->region : "");
		ep = def;
	}
	rc = c->region ? parse_endpoint(c, ep) : -ENOMEM;
	if (rc < 0) {
		lota__client_err(err, rc, "endpoint \"%s\" is not http[s]://host[:port]", ep);
		goto fail;
	}
	rc = -ENOMEM;
	if (!o.anonymous) {
		const char *ak = o.access_key_id, *sk = o.secret_access_key, *tok = o.session_token;
		if (!ak || !*ak) {
			ak = lota_aws_profile_get(prof, LOTA_AWS_FIELD_ACCESS_KEY_ID);
			sk = lota_aws_profile_get(prof, LOTA_AWS_FIELD_SECRET_ACCESS_KEY);
			tok = lota_aws_profile_get(prof, LOTA_AWS_FIELD_SESSION_TOKEN);
		}
		if (ak && *ak && sk) {
			c->access_key = strdup(ak);
			c->secret_key = strdup(sk);
			c->session_token = dup_or_null(tok);
			if (!c->access_key || !c->secret_key || (tok && *tok && !c->session_token))
				goto fail;
		}
	}
	const char *admin = o.admin_url && *o.admin_url ? o.admin_url : getenv("LOTA_ADMIN_URL");
	c->admin_url = dup_or_null(admin);
	c->ca_bundle = dup_or_null(o.ca_bundle);
	if ((admin && *admin && !c->admin_url) || (o.ca_bundle && *o.ca_bundle && !c->ca_bundle))
		goto fail;
	if (c->admin_url) { /* no trailing slash: paths are appended */
		size_t l = strlen(c->admin_url);
		while (l > 0 && c->admin_url[l - 1] == '/')
			c->admin_url[--l] = '\0';
	}
	c->part_size = o.part_size_bytes ? o.part_size_bytes : LOTA_CLIENT_DEFAULT_PART_SIZE;
	c->concurrency = o.concurrency ? o.concurrency : LOTA_CLIENT_DEFAULT_CONCURRENCY;
	c->mp_threshold = o.multipart_threshold_bytes ? o.multipart_threshold_bytes
	                                              : LOTA_CLIENT_DEFAULT_MP_THRESHOLD;
	c->mp_part_size = o.multipart_part_size_bytes ? o.multipart_part_size_bytes
	                                              : LOTA_CLIENT_DEFAULT_MP_PART_SIZE;
	c->max_attempts = o.max_attempts ? o.max_attempts : LOTA_CLIENT_DEFAULT_MAX_ATTEMPTS;
	c->connect_timeout_ms = o.connect_timeout_ms ? o.connect_timeout_ms : 10000;
	c->stall_timeout_ms = o.stall_timeout_ms ? o.stall_timeout_ms : 30000;
	c->retry_base_ms = o.retry_base_ms ? o.retry_base_ms : 100;
	c->extent_size =
	    o.extent_size_bytes ? o.extent_size_bytes : LOTA_CLIENT_DEFAULT_EXTENT_SIZE;
	const char *style = o.addressing_style && *o.addressing_style
	                        ? o.addressing_style
	                        : lota_aws_profile_get(prof, LOTA_AWS_FIELD_S3_ADDRESSING_STYLE);
	if (!style || !*style || !strcmp(style, "path")) {
		c->addressing = LOTA__ADDR_PATH;
	} else if (!strcmp(style, "virtual")) {
		c->addressing = LOTA__ADDR_VIRTUAL;
	} else if (!strcmp(style, "auto")) {
		c->addressing = LOTA__ADDR_AUTO;
	} else {
		rc = LOTA_E_CLIENT_URI;
		if (o.addressing_style && *o.addressing_style)
			lota__client_err(err, rc,
			                 "addressing_style \"%s\": must be path, virtual or auto",
			                 style);
		else
			lota__client_err(
			    err, rc,
			    "%s: s3 addressing_style \"%s\": must be path, virtual or auto",
			    lota_aws_profile_origin(prof, LOTA_AWS_FIELD_S3_ADDRESSING_STYLE),
			    style);
		goto fail;
	}

	c->share = curl_share_init();
	if (!c->share)
		goto fail;
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	lota_aws_profile_free(prof);
	*out = c;
	return 0;
fail:
	if (err && !err->code)
		lota__client_err(err, rc, "%s", lota_strerror(rc));
	lota_aws_profile_free(prof);
	lota_client_free(c);
	return rc;
}

/* ---------------------------------------------------------------- transfers --- */

void lota__xfer_init(lota__xfer *x, const char *method, const char *bucket, const char *key)
{
	memset(x, 0, sizeof(*x));
	x->method = method;
	x->bucket = bucket;
	x->key = key;
	x->up_fd = -1;
	x->is_head = !strcmp(method, "HEAD");
}

int lota__xfer_header(lota__xfer *x, const char *name, const char *fmt, ...)
{
	if (x->nh >= LOTA__XFER_MAX_HDRS)
		return -E2BIG;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(x->hval[x->nh], sizeof(x->hval[0]), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(x->hval[0]))
		return LOTA_E_TOO_LARGE;
	x->hname[x->nh++] = name;
	return 0;
}

void lota__xfer_reset_answer(lota__xfer *x)
{
	x->status = 0;
	x->head_done = false;
	x->etag[0] = x->request_id[0] = x->content_type[0] = x->cache_status[0] = '\0';
	x->version_id[0] = '\0';
	x->last_modified = 0;
	x->has_length = x->has_range = false;
	x->content_length = x->range_first = x->range_last = x->range_total = 0;
	x->body_len = 0;
	x->received = 0;
	x->curl_code = 0;
	x->fail = 0;
	x->curl_err[0] = '\0';
	x->up_pos = 0;
}

void lota__xfer_cleanup(lota__xfer *x)
{
	free(x->query);
	x->query = NULL;
	free(x->body);
	x->body = NULL;
	x->body_len = x->body_cap = 0;
}

static bool hdr_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
	size_t n = strlen(name);
	if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
		return false;
	const char *v = line + n + 1, *e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*val = v;
	*vlen = (size_t)(e - v);
	return true;
}

static void copy_val(char *dst, size_t cap, const char *v, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* "bytes A-B/T" */
static bool parse_content_range(const char *v, size_t len, uint64_t *a, uint64_t *b, uint64_t *t)
{
	if (len < 6 || strncasecmp(v, "bytes ", 6) != 0)
		return false;
	const char *p = v + 6, *e = v + len;
	const char *dash = memchr(p, '-', (size_t)(e - p));
	const char *slash = dash ? memchr(dash, '/', (size_t)(e - dash)) : NULL;
	if (!dash || !slash)
		return false;
	return parse_u64(p, (size_t)(dash - p), a) &&
	       parse_u64(dash + 1, (size_t)(slash - dash - 1), b) &&
	       parse_u64(slash + 1, (size_t)(e - slash - 1), t) && *a <= *b && *b < *t;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	lota__xfer *x = ud;
	size_t len = size * n;
	x->last_io_ms = lota__now_ms();
	const char *v;
	size_t vl;
	if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
		/* a new status line (after a 100 Continue, too): start over */
		const char *sp = memchr(line, ' ', len);
		int st = 0;
		if (sp && (size_t)(sp - line) + 4 <= len)
			st = atoi(sp + 1);
		lota__xfer_reset_answer(x);
		x->status = st;
		return len;
	}
	if (len <= 2 && (line[0] == '\r' || line[0] == '\n')) {
		if (x->status >= 100 && x->status < 200)
			return len;
		x->head_done = true;
		if (x->status >= 200 && x->status < 300 && x->on_head) {
			int rc = x->on_head(x);
			if (rc < 0) {
				x->fail = rc;
				return 0;
			}
		}
		return len;
	}
	if (hdr_is(line, len, "etag", &v, &vl))
		copy_val(x->etag, sizeof(x->etag), v, vl);
	else if (hdr_is(line, len, "x-amz-request-id", &v, &vl))
		copy_val(x->request_id, sizeof(x->request_id), v, vl);
	else if (hdr_is(line, len, "content-type", &v, &vl))
		copy_val(x->content_type, sizeof(x->content_type), v, vl);
	else if (hdr_is(line, len, "x-lota-cache", &v, &vl))
		copy_val(x->cache_status, sizeof(x->cache_status), v, vl);
	else if (hdr_is(line, len, "x-amz-version-id", &v, &vl))
		copy_val(x->version_id, sizeof(x->version_id), v, vl);
	else if (hdr_is(line, len, "content-length", &v, &vl))
		x->has_length = parse_u64(v, vl, &x->content_length);
	else if (hdr_is(line, len, "content-range", &v, &vl))
		x->has_range =
		    parse_content_range(v, vl, &x->range_first, &x->range_last, &x->range_total);
	else if (hdr_is(line, len, "last-modified", &v, &vl)) {
		int64_t t;
		if (lota_sigv4_parse_amz_date(v, vl, &t) == 0)
			x->last_modified = t;
	}
	return len;
}

static int save(lota__xfer *x, const char *data, size_t len, size_t max)
{
	if (x->body_len + len > max)
		return LOTA_E_TOO_LARGE;
	if (x->body_len + len + 1 > x->body_cap) {
		size_t cap = x->body_cap ? x->body_cap : 4096;
		while (cap < x->body_len + len + 1)
			cap *= 2;
		char *nb = realloc(x->body, cap);
		if (!nb)
			return -ENOMEM;
		x->body = nb;
		x->body_cap = cap;
	}
	memcpy(x->body + x->body_len, data, len);
	x->body_len += len;
	x->body[x->body_len] = '\0';
	return 0;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
	lota__xfer *x = ud;
	size_t len = size * n;
	x->last_io_ms = lota__now_ms();
	int rc = 0;
	if (x->status < 200 || x->status >= 300) {
		/* an error body: keep its start for the S3 code, drop the rest */
		size_t room = LOTA__ERRBODY_MAX - x->body_len;
		(void)save(x, data, len < room ? len : room, LOTA__ERRBODY_MAX);
		return len;
	}
	if (x->save_body)
		rc = save(x, data, len, LOTA__SAVEBODY_MAX);
	else if (x->on_data)
		rc = x->on_data(x, data, len);
	if (rc < 0) {
		x->fail = rc;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	x->received += len;
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	lota__xfer *x = ud;
	size_t want = size * n;
	x->last_io_ms = lota__now_ms();
	uint64_t left = x->up_len - x->up_pos;
	if (want > left)
		want = (size_t)left;
	if (want == 0)
		return 0;
	if (x->up_buf) {
		memcpy(buf, x->up_buf + x->up_off + x->up_pos, want);
	} else {
		ssize_t r = pread(x->up_fd, buf, want, (off_t)(x->up_off + x->up_pos));
		if (r <= 0) {
			x->fail = r < 0 ? -errno : LOTA_E_CLIENT_PROTOCOL;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)r;
	}
	x->up_pos += want;
	return want;
}

static CURL *easy_get(lota_client *c)
{
	CURL *e = NULL;
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool)
		e = c->pool[--c->npool];
	pthread_mutex_unlock(&c->pool_mu);
	if (e)
		curl_easy_reset(e);
	else
		e = curl_easy_init();
	return e;
}

static void easy_put(lota_client *c, CURL *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool == c->pool_cap && c->pool_cap < 1024) {
		size_t cap = c->pool_cap ? c->pool_cap * 2 : 16;
		void **np = realloc(c->pool, cap * sizeof(*np));
		if (np) {
			c->pool = np;
			c->pool_cap = cap;
		}
	}
	if (c->npool < c->pool_cap) {
		c->pool[c->npool++] = e;
		e = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	if (e)
		curl_easy_cleanup(e);
}

/* Can the bucket be the first label of a host name (S3's DNS-compatible names: 3-63 of
 * a-z 0-9 . -, a letter or digit at each end, no "..", not an IPv4 address)? Over https
 * no dot either: a wildcard certificate covers one label only. */
static bool bucket_is_label(const char *b, bool https)
{
	size_t n = strlen(b);
	bool digits_dots = true;
	if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = b[i];
		if (!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '-' ||
		      ch == '.'))
			return false;
		if (ch == '.' && (https || b[i + 1] == '.'))
			return false;
		digits_dots = digits_dots && (isdigit((unsigned char)ch) || ch == '.');
	}
	return !digits_dots;
}

/* host[:port] an address (IPv4 or [IPv6]), not a name: no bucket goes in front of it. */
static bool host_is_address(const char *host)
{
	if (host[0] == '[')
		return true;
	for (const char *p = host; *p && *p != ':'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return false;
	return true;
}

/* Build, sign and hand to curl. 0 or a negative code (x->fail set too). */
static int xfer_prepare(lota_client *c, lota__xfer *x)
{
	char path[4096], vhost_name[512] = "";
	size_t pl = 0;
	int rc = -ENOMEM;
	lota_request *req = NULL;
	struct curl_slist *list = NULL;
	char *url = NULL;

	lota__xfer_reset_answer(x);
	CURL *e = easy_get(c);
	if (!e)
		goto fail;
	x->easy = e;
	if (x->url) {
		url = strdup(x->url);
		if (!url)
			goto fail;
	} else {
		bool vhost = false;
		if (x->bucket && c->addressing != LOTA__ADDR_PATH) {
			vhost = bucket_is_label(x->bucket, !strncasecmp(c->endpoint, "https", 5)) &&
			        (c->addressing == LOTA__ADDR_VIRTUAL || !host_is_address(c->host));
			if (!vhost && c->addressing == LOTA__ADDR_VIRTUAL) {
				rc = LOTA_E_CLIENT_URI;
				snprintf(x->curl_err, sizeof(x->curl_err),
				         "bucket \"%s\" cannot be a host name (addressing_style "
				         "virtual)",
				         x->bucket);
				goto fail;
			}
		}
		path[pl++] = '/';
		if (vhost) {
			/* http://bucket.host/key: the bucket is the Host's first label */
			if (x->key) {
				rc = lota_uri_encode(x->key, strlen(x->key), false, path + pl,
				                     sizeof(path) - pl);
				if (rc < 0)
					goto fail;
				pl += (size_t)rc;
			}
			int hn =
			    snprintf(vhost_name, sizeof(vhost_name), "%s.%s", x->bucket, c->host);
			rc = LOTA_E_TOO_LARGE;
			if (hn < 0 || (size_t)hn >= sizeof(vhost_name))
				goto fail;
		} else if (x->bucket) {
			rc = lota_uri_encode(x->bucket, strlen(x->bucket), true, path + pl,
			                     sizeof(path) - pl - 1);
			if (rc < 0)
				goto fail;
			pl += (size_t)rc;
			if (x->key) {
				path[pl++] = '/';
				rc = lota_uri_encode(x->key, strlen(x->key), false, path + pl,
				                     sizeof(path) - pl);
				if (rc < 0)
					goto fail;
				pl += (size_t)rc;
			}
		}
		path[pl] = '\0';
		rc = -ENOMEM;
		req = lota_request_new();
		if (!req)
			goto fail;
		lota_str q = {x->query, x->query ? strlen(x->query) : 0};
		rc = lota_request_reset(req, (lota_str){x->method, strlen(x->method)},
		                        (lota_str){path, pl}, q);
		if (rc < 0)
			goto fail;
		for (size_t i = 0; i < x->nh; i++) {
			rc = lota_request_header_add(req,
			                             (lota_str){x->hname[i], strlen(x->hname[i])},
			                             (lota_str){x->hval[i], strlen(x->hval[i])}, 0);
			if (rc < 0)
				goto fail;
		}
		lota_str host = vhost ? (lota_str){vhost_name, strlen(vhost_name)}
		                      : (lota_str){c->host, strlen(c->host)};
		if (c->access_key) {
			lota_sigv4_params p = LOTA_OPTS(
			    lota_sigv4_params, .access_key = {c->access_key, strlen(c->access_key)},
			    .secret_key = {c->secret_key, strlen(c->secret_key)},
			    .session_token = {c->session_token,
			                      c->session_token ? strlen(c->session_token) : 0},
			    .region = {c->region, strlen(c->region)}, .service = LOTA_STR_LIT("s3"),
			    .time = (int64_t)time(NULL));
			lota_str ph = x->payload_hash[0]
			                  ? (lota_str){x->payload_hash, strlen(x->payload_hash)}
			                  : LOTA_STR_LIT(LOTA_SIGV4_UNSIGNED_PAYLOAD);
			rc = lota_sigv4_sign_request(&p, req, host, ph, NULL);
		} else {
			rc = lota_request_header_set(req, LOTA_STR_LIT("Host"), host, 0);
		}
		if (rc < 0)
			goto fail;
		size_t nh = lota_request_header_count(req);
		for (size_t i = 0; i < nh; i++) {
			struct curl_slist *nl =
			    curl_slist_append(list, lota_request_header_line(req, i));
			if (!nl) {
				rc = -ENOMEM;
				goto fail;
			}
			list = nl;
		}
		const char *target = lota_request_target(req);
		size_t ul = strlen(c->endpoint) + strlen(vhost_name) + strlen(target) + 1;
		rc = -ENOMEM;
		url = malloc(ul);
		if (!url)
			goto fail;
		if (vhost) /* scheme://bucket.host[:port]target */
			snprintf(url, ul, "%.*s%s%s",
			         (int)(strstr(c->endpoint, "://") + 3 - c->endpoint), c->endpoint,
			         vhost_name, target);
		else
			snprintf(url, ul, "%s%s", c->endpoint, target);
	}
	/* curl's own "Expect: 100-continue" costs a round trip per upload */
	struct curl_slist *nl = curl_slist_append(list, "Expect:");
	rc = -ENOMEM;
	if (!nl)
		goto fail;
	list = nl;
	x->hdr_list = list;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_SHARE, (CURLSH *)c->share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	if (c->ca_bundle)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_bundle);
	if (x->is_head) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (x->upload) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->up_len);
		if (strcmp(x->method, "PUT") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
	} else if (strcmp(x->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
	}
	free(url); /* curl copies the URL */
	lota_request_free(req);
	x->running = true;
	x->last_io_ms = lota__now_ms();
	return 0;
fail:
	free(url);
	curl_slist_free_all(list);
	x->hdr_list = NULL;
	lota_request_free(req);
	easy_put(c, x->easy);
	x->easy = NULL;
	x->fail = rc;
	return rc;
}

static void xfer_release(lota_client *c, lota__xfer *x, CURLcode cc)
{
	x->curl_code = (int)cc;
	if (cc != CURLE_OK && x->curl_code && !x->curl_err[0])
		snprintf(x->curl_err, sizeof(x->curl_err), "%s", curl_easy_strerror(cc));
	if (x->easy) {
		/* A connection whose answer was cut short is closed by curl itself; one that
		 * finished cleanly goes back to the shared cache for the next transfer. */
		curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, NULL);
		easy_put(c, x->easy);
	}
	curl_slist_free_all(x->hdr_list);
	x->hdr_list = NULL;
	x->easy = NULL;
	x->running = false;
}

int lota__batch_run(lota__batch *b)
{
	lota_client *c = b->c;
	CURLM *m = curl_multi_init();
	unsigned inflight = 0, conc = b->concurrency ? b->concurrency : 1;
	lota__xfer **run = calloc(conc, sizeof(*run)); /* what is in flight */
	int rc = 0;
	if (!m || !run) {
		curl_multi_cleanup(m);
		free(run);
		return -ENOMEM;
	}
	for (;;) {
		/* start what is ready, up to the concurrency */
		b->wake_ms = 0;
		while (rc == 0 && inflight < conc) {
			lota__xfer *x = b->next(b);
			if (!x)
				break;
			if (xfer_prepare(c, x) < 0) {
				rc = b->done(b, x);
				continue;
			}
			if (curl_multi_add_handle(m, x->easy) != CURLM_OK) {
				xfer_release(c, x, CURLE_OUT_OF_MEMORY);
				rc = b->done(b, x);
				continue;
			}
			for (unsigned i = 0; i < conc; i++)
				if (!run[i]) {
					run[i] = x;
					break;
				}
			inflight++;
		}
		if (rc != 0 || (inflight == 0 && b->wake_ms == 0))
			break;
		int running = 0;
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			rc = LOTA_E_CLIENT_TRANSPORT;
			break;
		}
		CURLMsg *msg;
		int left;
		bool ended = false;
		while ((msg = curl_multi_info_read(m, &left))) {
			ended = true;
			if (msg->msg != CURLMSG_DONE)
				continue;
			lota__xfer *x = NULL;
			CURL *e = msg->easy_handle;
			CURLcode cc = msg->data.result;
			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
			curl_multi_remove_handle(m, e);
			for (unsigned i = 0; i < conc; i++)
				if (run[i] == x)
					run[i] = NULL;
			inflight--;
			xfer_release(c, x, cc);
			if (rc == 0)
				rc = b->done(b, x);
		}
		/* A transfer that moved no byte for stall_timeout_ms ends as a timeout (curl's
		 * own low-speed check averages over seconds, too slow to notice a stall) */
		uint64_t now = lota__now_ms();
		for (unsigned i = 0; rc == 0 && i < conc; i++) {
			lota__xfer *x = run[i];
			if (!x || now - x->last_io_ms <= c->stall_timeout_ms)
				continue;
			curl_multi_remove_handle(m, x->easy);
			run[i] = NULL;
			inflight--;
			ended = true;
			snprintf(x->curl_err, sizeof(x->curl_err), "no byte moved for %llu ms",
			         (unsigned long long)(now - x->last_io_ms));
			xfer_release(c, x, CURLE_OPERATION_TIMEDOUT);
			rc = b->done(b, x);
		}
		if (rc == 0 && b->tick)
			rc = b->tick(b);
		if (rc != 0)
			break;
		if (ended)
			continue; /* a slot is free: start what is ready before waiting */
		int wait_ms = 100;
		now = lota__now_ms();
		if (inflight == 0 && b->wake_ms) {
			wait_ms = b->wake_ms > now ? (int)(b->wake_ms - now) : 0;
			if (wait_ms > 100)
				wait_ms = 100;
			if (wait_ms > 0)
				usleep((useconds_t)wait_ms * 1000);
			continue;
		}
		if (b->wake_ms) {
			uint64_t d = b->wake_ms > now ? b->wake_ms - now : 0;
			if (d < (uint64_t)wait_ms)
				wait_ms = (int)d;
		}
		curl_multi_poll(m, NULL, 0, wait_ms, NULL);
	}
	/* stop whatever still runs: its connection is closed, not reused half-read */
	for (unsigned i = 0; i < conc; i++) {
		if (!run[i])
			continue;
		curl_multi_remove_handle(m, run[i]->easy);
		/* a half-read connection must not go back to the cache */
		curl_easy_setopt(run[i]->easy, CURLOPT_FORBID_REUSE, 1L);
		xfer_release(c, run[i], CURLE_ABORTED_BY_CALLBACK);
	}
	free(run);
	curl_multi_cleanup(m);
	return rc;
}

/* ---------------------------------------------------------------- one request --- */

typedef struct one {
	lota__xfer *x;
	lota_client_error *err;
	int rc;
	bool started, finished;
} one;

static lota__xfer *one_next(lota__batch *b)
{
	one *o = b->ud;
	if (o->finished || o->x->running)
		return NULL;
	uint64_t now = lota__now_ms();
	if (o->x->not_before_ms > now) {
		b->wake_ms = o->x->not_before_ms;
		return NULL;
	}
	o->x->attempt++;
	return o->x;
}

static int one_done(lota__batch *b, lota__xfer *x)
{
	one *o = b->ud;
	bool retry;
	o->rc = lota__xfer_result(x, o->err, &retry);
	if (o->rc == 0 || !retry || x->attempt >= b->c->max_attempts) {
		o->finished = true;
		return 0;
	}
	x->not_before_ms = lota__now_ms() + lota__backoff_ms(b->c, x->attempt);
	return 0;
}

int lota__perform(lota_client *c, lota__xfer *x, lota_client_error *err)
{
	one o = {.x = x, .err = err};
	lota__batch b = {.c = c, .concurrency = 1, .next = one_next, .done = one_done, .ud = &o};
	x->attempt = 0;
	x->not_before_ms = 0;
	int rc = lota__batch_run(&b);
	if (rc == 0)
		rc = o.rc;
	if (rc < 0 && err && !err->code)
		lota__client_err(err, rc, "%s", lota_strerror(rc));
	return rc;
}

/* ---------------------------------------------------------------- head, delete --- */

static bool names_ok(const char *bucket, const char *key)
{
	return bucket && *bucket && key && *key;
}

void lota__fill_info(const lota__xfer *x, lota_object_info *info, uint64_t size)
{
	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	info->size_bytes = size;
	snprintf(info->etag, sizeof(info->etag), "%s", x->etag);
	info->last_modified = x->last_modified;
	snprintf(info->content_type, sizeof(info->content_type), "%s", x->content_type);
	snprintf(info->cache_status, sizeof(info->cache_status), "%s", x->cache_status);
	snprintf(info->version_id, sizeof(info->version_id), "%s", x->version_id);
}

int lota_client_head(lota_client *c, const char *bucket, const char *key, lota_object_info *info,
                     lota_client_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	if (!c || !names_ok(bucket, key)) {
		lota__client_err(err, -EINVAL, "a handle, a bucket and a key are needed");
		return -EINVAL;
	}
	lota__xfer x;
	lota__xfer_init(&x, "HEAD", bucket, key);
	int rc = lota__perform(c, &x, err);
	if (rc == 0)
		lota__fill_info(&x, info, x.content_length);
	lota__xfer_cleanup(&x);
	return rc;
}

int lota_client_delete(lota_client *c, const char *bucket, const char *key, lota_client_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	if (!c || !names_ok(bucket, key)) {
		lota__client_err(err, -EINVAL, "a handle, a bucket and a key are needed");
		return -EINVAL;
	}
	lota__xfer x;
	lota__xfer_init(&x, "DELETE", bucket, key);
	int rc = lota__perform(c, &x, err);
	lota__xfer_cleanup(&x);
	return rc;
}
