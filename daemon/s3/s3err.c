/*
 * s3err.c - S3-style XML error bodies and whole error responses that lotad produces
 * itself (authentication refusals, malformed requests, upstream unreachable).
 *
 * Invariants: every field is XML-escaped (&, <, >, ", ' as entities; CR, LF and TAB as
 * character references; other control bytes and invalid UTF-8, which XML 1.0 cannot
 * carry at all, become '?'), so no input can break the document. Output is always
 * NUL-terminated when cap > 0 and never cut in the middle of an escape. The request id
 * goes into a header line, so only visible ASCII survives there (no header injection).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "s3/s3err.h"

typedef struct sink {
	char *out;
	size_t cap; /* usable bytes, excluding the NUL */
	size_t len;
	bool full;
} sink;

static void put(sink *s, const char *p, size_t n)
{
	if (s->full || s->len + n > s->cap) {
		s->full = true;
		return;
	}
	memcpy(s->out + s->len, p, n);
	s->len += n;
}

static void puts_(sink *s, const char *p)
{
	put(s, p, strlen(p));
}

/* Length of a valid UTF-8 sequence starting at p (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t need;
	unsigned min;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* U+FFFE and U+FFFF are not XML characters either. */
	if (cp == 0xfffe || cp == 0xffff)
		return 0;
	return need;
}

static void put_escaped(sink *s, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0;
	while (i < n && !s->full) {
		unsigned char c = u[i];
		switch (c) {
		case '&':
			puts_(s, "&amp;");
			break;
		case '<':
			puts_(s, "&lt;");
			break;
		case '>':
			puts_(s, "&gt;");
			break;
		case '"':
			puts_(s, "&quot;");
			break;
		case '\'':
			puts_(s, "&apos;");
			break;
		case '\t':
			puts_(s, "&#9;");
			break;
		case '\n':
			puts_(s, "&#10;");
			break;
		case '\r':
			puts_(s, "&#13;");
			break;
		default:
			if (c < 0x20) {
				put(s, "?", 1);
			} else {
				size_t k = utf8_seq(u + i, n - i);
				if (k == 0) {
					put(s, "?", 1);
				} else {
					put(s, p + i, k);
					i += k;
					continue;
				}
			}
		}
		i++;
	}
}

static void put_field(sink *s, const char *tag, const char *p, size_t n)
{
	put(s, "<", 1);
	puts_(s, tag);
	put(s, ">", 1);
	put_escaped(s, p, n);
	put(s, "</", 2);
	puts_(s, tag);
	put(s, ">", 1);
}

size_t lotad_s3err_body(const char *code, const char *message, lota_str resource,
                        const char *request_id, char *out, size_t cap)
{
	if (cap == 0)
		return 0;
	sink s = {out, cap - 1, 0, false};
	const char *c = code ? code : "";
	const char *m = message ? message : "";
	const char *r = request_id ? request_id : "";
	puts_(&s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
	put_field(&s, "Code", c, strlen(c));
	put_field(&s, "Message", m, strlen(m));
	if (resource.len > 0)
		put_field(&s, "Resource", resource.ptr, resource.len);
	else
		put_field(&s, "Resource", "", 0);
	put_field(&s, "RequestId", r, strlen(r));
	puts_(&s, "</Error>");
	out[s.len] = '\0';
	return s.len;
}

const char *lotad_http_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Payload Too Large";
	case 416:
		return "Range Not Satisfiable";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	case 429:
		return "Too Many Requests";
	default:
		break;
	}
	/* Any other code gets its class name (RFC 9110 15), never an empty phrase. */
	switch (status / 100) {
	case 1:
		return "Informational";
	case 2:
		return "Success";
	case 3:
		return "Redirection";
	case 4:
		return "Client Error";
	default:
		return "Server Error";
	}
}

/* Room kept in front of the body for the head; the head is at most this long because
 * the request id is capped. */
#define HEAD_RESERVE   256
#define REQUEST_ID_MAX 64

size_t lotad_s3err_response(int status, const char *code, const char *message, lota_str resource,
                            const char *request_id, int close, char *out, size_t cap)
{
	char rid[REQUEST_ID_MAX + 1];
	size_t n = 0;
	for (const char *p = request_id ? request_id : ""; *p && n < REQUEST_ID_MAX; p++) {
		if (*p > 0x20 && *p < 0x7f)
			rid[n++] = *p;
	}
	rid[n] = '\0';
	if (status < 100 || status > 999)
		status = 500;
	if (cap == 0)
		return 0;
	if (cap <= HEAD_RESERVE + 1) {
		out[0] = '\0';
		return 0;
	}
	size_t blen =
	    lotad_s3err_body(code, message, resource, rid, out + HEAD_RESERVE, cap - HEAD_RESERVE);
	char head[HEAD_RESERVE];
	int hl = snprintf(head, sizeof(head),
	                  "HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n"
	                  "Content-Length: %zu\r\nx-amz-request-id: %s\r\n%s\r\n",
	                  status, lotad_http_reason(status), blen, rid,
	                  close ? "Connection: close\r\n" : "");
	if (hl < 0 || (size_t)hl >= sizeof(head)) {
		out[0] = '\0';
		return 0;
	}
	memmove(out + hl, out + HEAD_RESERVE, blen);
	memcpy(out, head, (size_t)hl);
	out[hl + blen] = '\0';
	return (size_t)hl + blen;
}
