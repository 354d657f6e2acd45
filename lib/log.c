/*
 * log.c - one line per event, to stderr or to a sink the program installs.
 *
 * Lines are formatted into a fixed stack buffer (long messages are truncated, never
 * allocated) and handed to the sink in one call, so concurrent threads never interleave
 * within a line (the stderr sink writes each line with a single write()). The level is
 * an atomic so the hot path check is one load.
 *
 * Two formats: text ("TS level msg key=value") and JSON (one object a line, every string
 * escaped by lota__log_json_escape so the line parses whatever bytes a message carries,
 * and a truncated line still closes its string and object). Secrets never reach this
 * file: callers redact first (lota_log_redact_uri, lota_log_header_is_secret), in both
 * formats alike.
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

#include "log-internal.h"

#define LINE_MAX_BYTES 2048

static _Atomic int cur_level = LOTA_LOG_INFO;
static _Atomic int cur_format = LOTA_LOG_TEXT;
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

void lota_log_set_format(lota_log_format format)
{
	atomic_store_explicit(&cur_format, format == LOTA_LOG_JSON ? LOTA_LOG_JSON : LOTA_LOG_TEXT,
	                      memory_order_relaxed);
}

lota_log_format lota_log_get_format(void)
{
	return (lota_log_format)atomic_load_explicit(&cur_format, memory_order_relaxed);
}

int lota_log_format_parse(const char *s, size_t len, lota_log_format *out)
{
	if (len == 4 && strncasecmp(s, "text", 4) == 0) {
		*out = LOTA_LOG_TEXT;
		return 0;
	}
	if (len == 4 && strncasecmp(s, "json", 4) == 0) {
		*out = LOTA_LOG_JSON;
		return 0;
	}
	return LOTA_E_CONFIG_VALUE;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one (overlong
 * forms, surrogates, above U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t need;
	unsigned lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	if (n < need)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

size_t lota__log_json_escape(const char *s, size_t len, char *out, size_t cap, size_t *consumed)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	while (i < len) {
		char esc[8];
		size_t el = 0;
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			el = 2;
		} else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
			esc[0] = '\\';
			esc[1] = c == '\n'   ? 'n'
			         : c == '\r' ? 'r'
			         : c == '\t' ? 't'
			         : c == '\b' ? 'b'
			                     : 'f';
			el = 2;
		} else if (c >= 0x20 && c < 0x7f) {
			esc[0] = (char)c;
			el = 1;
		} else {
			size_t u = c >= 0x80 ? utf8_len(p + i, len - i) : 0;
			if (u > 1) {
				if (o + u > cap)
					break;
				memcpy(out + o, p + i, u);
				o += u;
				i += u;
				continue;
			}
			/* a control byte, DEL, or a byte of no valid sequence */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
		}
		if (o + el > cap)
			break;
		memcpy(out + o, esc, el);
		o += el;
		i++;
	}
	if (consumed)
		*consumed = i;
	return o;
}

/* The line's prefix: the time and the level, in the current format. */
static size_t line_start(char *line, size_t cap, lota_log_level level, bool json)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, cap,
	                 json ? "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
	                        "\"msg\":\""
	                      : "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, ts.tv_nsec / 1000000, lota_log_level_name(level));
	return n < 0 ? 0 : (size_t)n;
}

/* Append text to a text line, control bytes folded to spaces (one event, one line). */
static size_t text_put(char *line, size_t len, size_t cap, const char *s, size_t n)
{
	for (size_t i = 0; i < n && len < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		line[len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	return len;
}

/* Room kept at the end of a JSON line to close it: "\"}" */
#define JSON_TAIL 2

static void emit(lota_log_level level, char *line, size_t len)
{
	if (cur_sink)
		cur_sink(level, line, len, cur_ud);
	else
		stderr_sink(line, len);
}

/* Build and emit one line: msg, then the fields. */
static void log_line(lota_log_level level, const char *msg, size_t msg_len, const lota_log_field *f,
                     size_t nf)
{
	char line[LINE_MAX_BYTES];
	bool json = lota_log_get_format() == LOTA_LOG_JSON;
	size_t cap = sizeof(line) - 1; /* what the stderr sink allows */
	size_t len = line_start(line, cap, level, json);
	if (len + JSON_TAIL + 1 >= cap)
		return;
	if (!json) {
		len = text_put(line, len, cap, msg, msg_len);
		for (size_t i = 0; i < nf; i++) {
			char num[32];
			const char *v = f[i].str;
			if (!v) {
				snprintf(num, sizeof(num), "%lld", f[i].num);
				v = num;
			} else if (!v[0]) {
				v = "-";
			}
			len = text_put(line, len, cap, " ", 1);
			len = text_put(line, len, cap, f[i].key, strlen(f[i].key));
			len = text_put(line, len, cap, "=", 1);
			len = text_put(line, len, cap, v, strlen(v));
		}
		emit(level, line, len);
		return;
	}
	len += lota__log_json_escape(msg, msg_len, line + len, cap - JSON_TAIL - len, NULL);
	line[len++] = '"';
	for (size_t i = 0; i < nf; i++) {
		char num[32];
		/* a field goes in whole or not at all, so the object stays well formed */
		size_t mark = len, room = cap - 1 - len; /* 1: the closing brace */
		int k = snprintf(num, sizeof(num), "%lld", f[i].num);
		size_t kl = strlen(f[i].key), vl = f[i].str ? strlen(f[i].str) : (size_t)k;
		if (room < kl + 4 + (f[i].str ? 2 : 0))
			break;
		line[len++] = ',';
		line[len++] = '"';
		size_t used;
		len += lota__log_json_escape(f[i].key, kl, line + len, cap - 1 - len - 2, &used);
		line[len++] = '"';
		line[len++] = ':';
		if (used < kl || cap - 1 - len < (f[i].str ? 2 : 0) + 1) {
			len = mark;
			break;
		}
		if (!f[i].str) {
			if ((size_t)k > cap - 1 - len) {
				len = mark;
				break;
			}
			memcpy(line + len, num, (size_t)k);
			len += (size_t)k;
			continue;
		}
		line[len++] = '"';
		/* a string value may be cut short, but its quote always closes */
		len += lota__log_json_escape(f[i].str, vl, line + len, cap - 2 - len, NULL);
		line[len++] = '"';
	}
	line[len++] = '}';
	emit(level, line, len);
}

void lota_logv(lota_log_level level, const char *fmt, va_list ap)
{
	if ((int)level > atomic_load_explicit(&cur_level, memory_order_relaxed))
		return;
	char msg[LINE_MAX_BYTES];
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t ml = m < 0 ? 0 : (size_t)m;
	if (ml >= sizeof(msg))
		ml = sizeof(msg) - 1;
	log_line(level, msg, ml, NULL, 0);
}

void lota_log_fields(lota_log_level level, const char *msg, const lota_log_field *fields, size_t n)
{
	if ((int)level > atomic_load_explicit(&cur_level, memory_order_relaxed))
		return;
	log_line(level, msg ? msg : "", msg ? strlen(msg) : 0, fields, fields ? n : 0);
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
