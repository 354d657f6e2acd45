/*
 * log.c - one line per event, to stderr or to a sink the program installs.
 *
 * Lines are formatted into a fixed stack buffer (long messages are truncated, never
 * allocated) and handed to the sink in one call, so concurrent threads never interleave
 * within a line (the stderr sink writes each line with a single write()). The level is
 * an atomic so the hot path check is one load.
 */
#include <ctype.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <lota/log.h>

#define LINE_MAX_BYTES 2048

static _Atomic int cur_level = LOTA_LOG_INFO;
static lota_log_sink cur_sink;
static void *cur_ud;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void lota_log_set_level(lota_log_level level)
{
	if (level < LOTA_LOG_ERROR)
		level = LOTA_LOG_ERROR;
	if (level > LOTA_LOG_DEBUG)
		level = LOTA_LOG_DEBUG;
	atomic_store_explicit(&cur_level, (int)level, memory_order_relaxed);
}

lota_log_level lota_log_get_level(void)
{
	return (lota_log_level)atomic_load_explicit(&cur_level, memory_order_relaxed);
}

void lota_log_set_sink(lota_log_sink sink, void *ud)
{
	cur_sink = sink;
	cur_ud = ud;
}

int lota_log_level_parse(const char *s, size_t len, lota_log_level *out)
{
	for (int i = 0; i <= LOTA_LOG_DEBUG; i++) {
		if (strlen(level_names[i]) == len && strncasecmp(s, level_names[i], len) == 0) {
			*out = (lota_log_level)i;
			return 0;
		}
	}
	if (len == 7 && strncasecmp(s, "warning", 7) == 0) {
		*out = LOTA_LOG_WARN;
		return 0;
	}
	return LOTA_E_CONFIG_VALUE;
}

const char *lota_log_level_name(lota_log_level level)
{
	if (level < LOTA_LOG_ERROR || level > LOTA_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

static void stderr_sink(const char *line, size_t len)
{
	char buf[LINE_MAX_BYTES + 1];
	memcpy(buf, line, len);
	buf[len] = '\n';
	ssize_t off = 0, n = (ssize_t)len + 1;
	while (off < n) {
		ssize_t w = write(STDERR_FILENO, buf + off, (size_t)(n - off));
		if (w <= 0)
			return; /* nowhere to report a failing stderr */
		off += w;
	}
}

void lota_logv(lota_log_level level, const char *fmt, va_list ap)
{
	if ((int)level > atomic_load_explicit(&cur_level, memory_order_relaxed))
		return;
	char line[LINE_MAX_BYTES];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, ts.tv_nsec / 1000000, lota_log_level_name(level));
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	/* One event is one line: fold embedded newlines and other control bytes. */
	for (size_t i = (size_t)n; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	if (cur_sink)
		cur_sink(level, line, len, cur_ud);
	else
		stderr_sink(line, len);
}

void lota_log(lota_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lota_logv(level, fmt, ap);
	va_end(ap);
}

static int name_is(const char *p, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(p, name, len) == 0;
}

int lota_log_header_is_secret(const char *name, size_t len)
{
	static const char *const secret[] = {
	    "authorization",
	    "proxy-authorization",
	    "x-amz-security-token",
	    "cookie",
	    "set-cookie",
	    "x-lota-peer-auth",
	    "x-lota-fill-ticket",
	    "x-amz-server-side-encryption-customer-key",
	    "x-amz-copy-source-server-side-encryption-customer-key",
	};
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		if (name_is(name, len, secret[i]))
			return 1;
	return 0;
}

/* Names whose value is a secret or a credential wherever they stand in a target (query
 * parameter, or a path segment a client or an attacker made look like one). A name
 * matches when the token before '=' ends with it: "X-Amz-Signature" and a bare
 * "Signature" (SigV2) alike. */
static bool name_is_secret(const char *p, size_t len)
{
	static const char *const suffix[] = {"Signature", "Security-Token", "Credential",
	                                     "AWSAccessKeyId", "x-lota-ticket"};
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		size_t n = strlen(suffix[i]);
		if (len >= n && strncasecmp(p + len - n, suffix[i], n) == 0)
			return true;
	}
	return false;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Length of a '=' at uri[i], raw or percent-encoded (%3D), else 0. */
static size_t equals_at(const char *uri, size_t len, size_t i)
{
	if (uri[i] == '=')
		return 1;
	if (uri[i] == '%' && i + 2 < len && uri[i + 1] == '3' && (uri[i + 2] | 0x20) == 'd')
		return 3;
	return 0;
}

size_t lota_log_redact_uri(const char *uri, size_t len, char *out, size_t out_cap)
{
	if (out_cap == 0)
		return 0;
	size_t o = 0;
#define PUT(c)                          \
	do {                            \
		if (o + 1 < out_cap)    \
			out[o++] = (c); \
	} while (0)
	size_t i = 0, name_start = 0;
	while (i < len) {
		size_t eq = equals_at(uri, len, i);
		if (eq == 0) {
			if (!name_char(uri[i]))
				name_start = i + 1;
			PUT(uri[i]);
			i++;
			continue;
		}
		for (size_t k = 0; k < eq; k++)
			PUT(uri[i + k]);
		bool secret = name_is_secret(uri + name_start, i - name_start);
		i += eq;
		name_start = i;
		if (!secret)
			continue;
		/* the value runs to the next parameter or query: '/' stays inside it, so a
		 * token or path that follows is redacted too rather than shown */
		while (i < len && uri[i] != '&' && uri[i] != '?' && uri[i] != '#' &&
		       uri[i] != ';' && uri[i] != ' ')
			i++;
		for (const char *r = "REDACTED"; *r; r++)
			PUT(*r);
	}
#undef PUT
	out[o] = '\0';
	return o;
}
