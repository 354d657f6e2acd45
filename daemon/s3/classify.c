/*
 * classify.c - S3 request classification (see classify.h).
 *
 * Object subresources are recognised by query parameter name. A GET/HEAD stays an
 * "object read" only with parameters that select or decorate the object itself
 * (versionId, response-*, the presign parameters of util/names.h, x-id); anything else
 * is proxied as is.
 */
#include "s3/classify.h"

#include <string.h>
#include <strings.h>

#include "util/hostport.h"
#include "util/names.h"

static bool str_eq(lota_str a, const char *b)
{
	size_t n = strlen(b);
	return a.len == n && memcmp(a.ptr, b, n) == 0;
}

static bool str_prefix_nocase(lota_str a, const char *b)
{
	size_t n = strlen(b);
	return a.len >= n && strncasecmp(a.ptr, b, n) == 0;
}

lota_str lotad_vhost_bucket(lota_str host, const char *const *names, size_t num_names)
{
	lota_str none = {"", 0}, h;
	long port;
	/* the host without its port, well-formed or not (an IPv6 literal is never a virtual
	 * host) */
	(void)lotad_hostport_split(host, &h, &port);
	size_t hl = h.len;
	if (hl && host.ptr[0] == '[')
		return none;
	for (size_t i = 0; i < num_names; i++) {
		const char *n = names[i];
		size_t nl = n ? strlen(n) : 0;
		if (!nl || hl < nl + 2)
			continue;
		if (host.ptr[hl - nl - 1] != '.' || strncasecmp(host.ptr + hl - nl, n, nl) != 0)
			continue;
		return (lota_str){host.ptr, hl - nl - 1};
	}
	return none;
}

/* Walk query parameter names. */
typedef struct qflags {
	bool any_sub; /* a parameter that makes it not a plain object read */
	bool uploads, upload_id, del, acl_like, list_type;
} qflags;

static void scan_query(lota_str q, qflags *f)
{
	static const char *const benign[] = {"versionId", "x-id", NULL};
	static const char *const acl_like[] = {"acl",
	                                       "tagging",
	                                       "retention",
	                                       "legal-hold",
	                                       "torrent",
	                                       "restore",
	                                       "select",
	                                       "attributes",
	                                       "versioning",
	                                       "location",
	                                       "policy",
	                                       "cors",
	                                       "lifecycle",
	                                       "website",
	                                       "logging",
	                                       "notification",
	                                       "replication",
	                                       "encryption",
	                                       "object-lock",
	                                       "ownershipControls",
	                                       "publicAccessBlock",
	                                       "requestPayment",
	                                       "accelerate",
	                                       "analytics",
	                                       "inventory",
	                                       "metrics",
	                                       "intelligent-tiering",
	                                       NULL};
	size_t i = 0;
	memset(f, 0, sizeof(*f));
	while (i < q.len) {
		size_t j = i;
		while (j < q.len && q.ptr[j] != '&')
			j++;
		size_t k = i;
		while (k < j && q.ptr[k] != '=')
			k++;
		lota_str name = {q.ptr + i, k - i};
		i = j + 1;
		if (!name.len)
			continue;
		bool ok = false;
		for (size_t b = 0; benign[b]; b++)
			ok |= str_eq(name, benign[b]);
		if (str_prefix_nocase(name, "response-") || lotad_signature_param(name))
			ok = true;
		if (ok)
			continue;
		f->any_sub = true;
		if (str_eq(name, "uploads"))
			f->uploads = true;
		else if (str_eq(name, "uploadId"))
			f->upload_id = true;
		else if (str_eq(name, "delete"))
			f->del = true;
		else if (str_eq(name, "list-type"))
			f->list_type = true;
		for (size_t a = 0; acl_like[a]; a++)
			f->acl_like |= str_eq(name, acl_like[a]);
	}
}

void lotad_classify(const lota_http_request *req, const char *const *names, size_t num_names,
                    lotad_s3req *out)
{
	memset(out, 0, sizeof(*out));
	out->bucket = lotad_vhost_bucket(req->host, names, num_names);
	out->vhost = out->bucket.len > 0;
	lota_str p = req->path;
	size_t off = (p.len && p.ptr[0] == '/') ? 1 : 0;
	if (out->vhost) {
		out->key = (lota_str){p.ptr + off, p.len - off};
	} else {
		size_t s = off;
		while (s < p.len && p.ptr[s] != '/')
			s++;
		out->bucket = (lota_str){p.ptr + off, s - off};
		out->key = s < p.len ? (lota_str){p.ptr + s + 1, p.len - s - 1} : (lota_str){"", 0};
	}
	qflags f;
	scan_query(req->query, &f);
	lota_str m = req->method;
	bool get = str_eq(m, "GET"), head = str_eq(m, "HEAD"), put = str_eq(m, "PUT");
	bool post = str_eq(m, "POST"), del = str_eq(m, "DELETE");

	if (!out->bucket.len) {
		out->op = get ? LOTAD_OP_LIST_BUCKETS : LOTAD_OP_OTHER;
		return;
	}
	if (!out->key.len) {
		if (f.uploads && get)
			out->op = LOTAD_OP_MULTIPART;
		else if (f.del && post)
			out->op = LOTAD_OP_DELETE_OBJECTS;
		else if (get && !f.acl_like)
			out->op = LOTAD_OP_LIST_OBJECTS;
		else
			out->op = LOTAD_OP_BUCKET;
		return;
	}
	if (f.uploads || f.upload_id) {
		out->op = LOTAD_OP_MULTIPART;
		return;
	}
	if (f.any_sub) {
		out->op = LOTAD_OP_SUBRESOURCE;
		return;
	}
	if (get || head) {
		out->op = get ? LOTAD_OP_GET_OBJECT : LOTAD_OP_HEAD_OBJECT;
		out->object_read = true;
	} else if (put) {
		out->op =
		    lota_http_find_header(req->headers, req->num_headers, "x-amz-copy-source", 17)
		        ? LOTAD_OP_COPY_OBJECT
		        : LOTAD_OP_PUT_OBJECT;
	} else if (del) {
		out->op = LOTAD_OP_DELETE_OBJECT;
	} else {
		out->op = LOTAD_OP_OTHER;
	}
}
