/*
 * fuzz_request.c - libFuzzer harness for the request description (lota/request.h): the
 * input is a program of add / set / remove / query / sign operations with names and
 * values cut from the input. A plain model (arrays of strings) follows every accepted
 * change; after each operation the request must equal the model field for field, every
 * line must read "Name: value" (or "Name;"), a refused change must leave it as it was,
 * and a signed request must verify.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lota/request.h>
#include <lota/sigv4.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXF LOTA_REQUEST_MAX_HEADERS

struct model {
	size_t n;
	char name[MAXF][64];
	char value[MAXF][256];
	size_t vlen[MAXF];
	unsigned flags[MAXF];
};

static const char *const names[] = {
    "Host",         "host",         "Range",         "X-Amz-Date",
    "x-amz-meta-a", "X-Amz-Meta-A", "Authorization", "X-Amz-Content-Sha256"};

static void load(struct model *m, const lota_request *r)
{
	m->n = lota_request_header_count(r);
	for (size_t i = 0; i < m->n; i++) {
		lota_http_header h;
		if (lota_request_header_get(r, i, &h, &m->flags[i]) || h.name.len >= 64 ||
		    h.value.len > 256)
			abort();
		memcpy(m->name[i], h.name.ptr, h.name.len);
		m->name[i][h.name.len] = '\0';
		memcpy(m->value[i], h.value.ptr, h.value.len);
		m->vlen[i] = h.value.len;
	}
}

static void same(const struct model *m, const lota_request *r)
{
	if (lota_request_header_count(r) != m->n)
		abort();
	for (size_t i = 0; i < m->n; i++) {
		lota_http_header h;
		unsigned f;
		if (lota_request_header_get(r, i, &h, &f) || f != m->flags[i] ||
		    h.name.len != strlen(m->name[i]) ||
		    memcmp(h.name.ptr, m->name[i], h.name.len) || h.value.len != m->vlen[i] ||
		    memcmp(h.value.ptr, m->value[i], h.value.len))
			abort();
		const char *line = lota_request_header_line(r, i);
		size_t nl = h.name.len;
		if (strncmp(line, m->name[i], nl) != 0)
			abort();
		if (h.value.len ? (memcmp(line + nl, ": ", 2) ||
		                   memcmp(line + nl + 2, h.value.ptr, h.value.len) ||
		                   line[nl + 2 + h.value.len])
		                : strcmp(line + nl, ";"))
			abort();
	}
}

static void model_remove(struct model *m, const char *name)
{
	for (size_t i = m->n; i-- > 0;) {
		if (strcasecmp(m->name[i], name) == 0) {
			memmove(&m->name[i], &m->name[i + 1], (m->n - i - 1) * sizeof(m->name[0]));
			memmove(&m->value[i], &m->value[i + 1],
			        (m->n - i - 1) * sizeof(m->value[0]));
			memmove(&m->vlen[i], &m->vlen[i + 1], (m->n - i - 1) * sizeof(m->vlen[0]));
			memmove(&m->flags[i], &m->flags[i + 1],
			        (m->n - i - 1) * sizeof(m->flags[0]));
			m->n--;
		}
	}
}

static int verify(const lota_request *r, const lota_sigv4_params *p)
{
	lota_http_header hs[MAXF];
	size_t n = lota_request_header_count(r);
	for (size_t i = 0; i < n; i++)
		if (lota_request_header_get(r, i, &hs[i], NULL))
			abort();
	lota_sigv4_request q = {
	    lota_request_method(r), lota_request_path(r), lota_request_query(r), hs, n, {NULL, 0}};
	lota_sigv4_auth a;
	int rc = lota_sigv4_parse(&q, &a);
	return rc ? rc : lota_sigv4_verify(&q, &a, p->secret_key, p->time, 900, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lota_request *r = lota_request_new();
	static struct model m;
	if (!r)
		return 0;
	m.n = 0;
	size_t i = 0;
	while (i + 3 <= size) {
		int op = data[i] % 6;
		size_t nlen = data[i + 1] % 8, vlen = data[i + 2] % 48;
		i += 3;
		char name[64];
		if (nlen < 8 && (data[i - 2] & 0x80) == 0) {
			strcpy(name, names[nlen]);
		} else {
			size_t k = nlen + 1 < size - i ? nlen + 1 : size - i;
			memcpy(name, data + i, k);
			name[k] = '\0';
			i += k;
		}
		if (vlen > size - i)
			vlen = size - i;
		lota_str value = {(const char *)data + i, vlen};
		i += vlen;
		lota_str nm = {name, strlen(name)};
		unsigned flags = i && (data[i - 1] & 1) ? LOTA_REQUEST_UNSIGNED : 0;
		int rc;
		switch (op) {
		case 0:
			rc = lota_request_header_add(r, nm, value, flags);
			if (rc >= 0) {
				if ((size_t)rc != m.n)
					abort();
				strcpy(m.name[m.n], name);
				memcpy(m.value[m.n], value.ptr, vlen);
				m.vlen[m.n] = vlen;
				m.flags[m.n++] = flags;
			}
			break;
		case 1: {
			int first = -1;
			for (size_t k = 0; k < m.n && first < 0; k++)
				if (strcasecmp(m.name[k], name) == 0)
					first = (int)k;
			rc = lota_request_header_set(r, nm, value, flags);
			if (rc >= 0) {
				if (first >= 0) {
					if (rc != first)
						abort();
					char keep[64];
					strcpy(keep, name);
					/* the first stays (renamed), the rest go */
					strcpy(m.name[first], "\x01");
					model_remove(&m, keep);
					strcpy(m.name[first], keep);
					memcpy(m.value[first], value.ptr, vlen);
					m.vlen[first] = vlen;
					m.flags[first] = flags;
				} else {
					strcpy(m.name[m.n], name);
					memcpy(m.value[m.n], value.ptr, vlen);
					m.vlen[m.n] = vlen;
					m.flags[m.n++] = flags;
				}
			}
			break;
		}
		case 2:
			rc = lota_request_header_remove(r, nm);
			if (rc < 0)
				abort();
			model_remove(&m, name);
			break;
		case 3:
			rc = lota_request_set_query(r, value);
			break;
		case 4: {
			lota_sigv4_params p = LOTA_OPTS(
			    lota_sigv4_params, .access_key = LOTA_STR_LIT("AK"),
			    .secret_key = LOTA_STR_LIT("SK"), .region = LOTA_STR_LIT("us-east-1"),
			    .service = LOTA_STR_LIT("s3"), .time = 1700000000);
			if (vlen & 1)
				p.session_token = LOTA_STR_LIT("tok");
			rc = lota_sigv4_sign_request(&p, r, vlen & 2 ? LOTA_STR_LIT("h:1") : nm,
			                             (lota_str){NULL, 0}, NULL);
			if (rc == 0 && verify(r, &p) != 0)
				abort();
			if (rc != 0 &&
			    lota_request_header_find(r, LOTA_STR_LIT("Authorization")) >= 0)
				abort();
			load(&m, r);
			break;
		}
		default:
			rc =
			    lota_request_reset(r, LOTA_STR_LIT("PUT"), LOTA_STR_LIT("/b/k"), value);
			if (rc == 0)
				m.n = 0;
			break;
		}
		same(&m, r);
	}
	lota_request_free(r);
	return 0;
}
