/*
 * range.c - the Range request header (RFC 9110 14.2) as Amazon S3 answers it: parse one
 * byte range, then resolve it against an object size. The contract is in
 * include/lota/http.h.
 *
 * How S3 treats the cases (from the S3 API reference, which says S3 does not support
 * multiple ranges per GET, and from the behaviour that S3-compatible servers reproduce
 * in their AWS-checked tests):
 *  - One range `bytes=a-b`, `bytes=a-`, `bytes=-n`: 206 with Content-Range.
 *  - More than one range (`bytes=0-1,4-5`): S3 ignores the header and answers 200 with
 *    the whole object (no multipart/byteranges). Here: LOTA_E_RANGE_MALFORMED.
 *  - `bytes=5-2` (last < first): an invalid range-spec; S3 ignores it, 200 with the
 *    whole object. Here: MALFORMED.
 *  - `bytes=-0`: syntactically valid but selects nothing; S3 answers 416 InvalidRange
 *    (even for a non-empty object). Here: parses, then resolve gives UNSATISFIABLE.
 *  - A first byte at or past the end (`bytes=100-` on 50 bytes): 416 InvalidRange.
 *    A last byte past the end (`bytes=0-1000` on 50 bytes) is clamped: 206 0-49.
 *    A suffix longer than the object (`bytes=-1000`) selects the whole object: 206.
 *  - An empty object: every range is answered 416 InvalidRange by S3 (`bytes=0-`,
 *    `bytes=0-0` included). RFC 9110 would allow a non-zero suffix on an empty
 *    representation, but no Content-Range can describe it; we follow S3: UNSATISFIABLE.
 *  - Other units, `bytes=`, `bytes=-`, `bytes=a`, signs, non-digits: ignored (200).
 *  - Whitespace: RFC 9110 has no whitespace inside a range-spec or around '='. We accept
 *    OWS only around the whole value (header values arrive trimmed anyway) and treat any
 *    inner whitespace (`bytes= 0-1`, `bytes=0 -1`) as malformed, i.e. the whole object
 *    is served with 200: always a correct answer, never a wrong byte range.
 *  - The unit name is matched case-insensitively (RFC 9110: range units are
 *    case-insensitive).
 *  - Numbers with more digits than fit in 64 bits saturate: a huge first byte is past
 *    any end (416), a huge last byte is clamped, a huge suffix is the whole object.
 */
#include <stdint.h>

#include <lota/http.h>

/* 1*DIGIT starting at *pp; saturates at UINT64_MAX. Returns false when no digit. */
static bool digits(const unsigned char **pp, const unsigned char *end, uint64_t *out)
{
	const unsigned char *p = *pp;
	uint64_t x = 0;
	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
		p++;
	}
	if (p == *pp)
		return false;
	*pp = p;
	*out = x;
	return true;
}

int lota_range_parse(const char *value, size_t len, lota_range *out)
{
	if (!out || (!value && len))
		return LOTA_E_RANGE_MALFORMED;
	const unsigned char *p = (const unsigned char *)value, *end = p + len;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	static const char unit[] = "bytes=";
	if ((size_t)(end - p) < sizeof(unit) - 1)
		return LOTA_E_RANGE_MALFORMED;
	for (size_t i = 0; i < sizeof(unit) - 1; i++, p++) {
		unsigned char c = *p;
		if (c >= 'A' && c <= 'Z')
			c |= 0x20;
		if (c != (unsigned char)unit[i])
			return LOTA_E_RANGE_MALFORMED;
	}
	lota_range r = {0};
	if (p < end && *p == '-') {
		p++;
		if (!digits(&p, end, &r.last))
			return LOTA_E_RANGE_MALFORMED;
		r.kind = LOTA_RANGE_SUFFIX;
	} else {
		if (!digits(&p, end, &r.first) || p == end || *p != '-')
			return LOTA_E_RANGE_MALFORMED;
		p++;
		if (p == end) {
			r.kind = LOTA_RANGE_FROM;
		} else {
			if (!digits(&p, end, &r.last) || r.last < r.first)
				return LOTA_E_RANGE_MALFORMED;
			r.kind = LOTA_RANGE_FROM_TO;
		}
	}
	if (p != end) /* a second range, whitespace, garbage */
		return LOTA_E_RANGE_MALFORMED;
	*out = r;
	return 0;
}

int lota_range_resolve(const lota_range *r, uint64_t size, uint64_t *first, uint64_t *last)
{
	if (!r || !first || !last || (unsigned)r->kind > LOTA_RANGE_SUFFIX ||
	    (r->kind == LOTA_RANGE_FROM_TO && r->last < r->first))
		return LOTA_E_RANGE_MALFORMED;
	if (size == 0)
		return LOTA_E_RANGE_UNSATISFIABLE;
	switch (r->kind) {
	case LOTA_RANGE_FROM_TO:
		if (r->first >= size)
			return LOTA_E_RANGE_UNSATISFIABLE;
		*first = r->first;
		*last = r->last < size - 1 ? r->last : size - 1;
		return 0;
	case LOTA_RANGE_FROM:
		if (r->first >= size)
			return LOTA_E_RANGE_UNSATISFIABLE;
		*first = r->first;
		*last = size - 1;
		return 0;
	case LOTA_RANGE_SUFFIX:
		if (r->last == 0)
			return LOTA_E_RANGE_UNSATISFIABLE;
		*first = r->last >= size ? 0 : size - r->last;
		*last = size - 1;
		return 0;
	default:
		return LOTA_E_RANGE_MALFORMED;
	}
}
