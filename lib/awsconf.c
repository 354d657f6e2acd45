/*
 * awsconf.c - the AWS shared credentials and config files and the AWS_* environment (see
 * lota/awsconf.h for the syntax and the precedence, which are the contract).
 *
 * One line parser (ini_parse) serves both readers. It walks the input once, without
 * copying, and reports section headers and "key = value" lines (with the parent key for
 * the lines of a nested block) to a handler; it owns the rules every file shares (control
 * bytes, header shape, keys outside a section, line length). A handler keeps only what it
 * reads, in slots: a key lota reads given twice in a section is caught by its slot, and
 * keys lota does not read cost nothing, so a 16 MiB file of unknown keys needs no memory.
 *
 * - lota_aws_credentials_foreach keeps one entry per section (bounded by
 *   LOTA_AWSCONF_SECTIONS_MAX), checks the whole file, then calls back in file order. Its
 *   strict mode is lotad's credentials store, message for message.
 * - lota_aws_profile_resolve keeps only the slots of the wanted profile (and of the
 *   [services] section it names), then applies the precedence.
 *
 * Values are views into the input until they are copied into a profile; buffers that held
 * file contents, and every copied value, are wiped before they are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lota/awsconf.h>
#include <lota/log.h>

#include "crypto-internal.h"
#include "opts-internal.h"

extern char **environ;

/* ---- messages ---------------------------------------------------------------------- */

typedef struct msg {
	const char *name; /* the file's name; NULL: the message stands alone */
	char *err;
	size_t cap;
} msg;

LOTA_PRINTF(4, 5)
static int fail(const msg *m, size_t line, int code, const char *fmt, ...)
{
	if (m->err && m->cap > 0) {
		char text[LOTA_AWSCONF_ERR_LEN];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		if (!m->name)
			snprintf(m->err, m->cap, "%s", text);
		else if (line)
			snprintf(m->err, m->cap, "%s:%zu: %s", m->name, line, text);
		else
			snprintf(m->err, m->cap, "%s: %s", m->name, text);
	}
	return code;
}

/* At most 64 bytes of a section name in messages (lotad's messages do the same). */
static int cut64(lota_str s)
{
	return (int)(s.len > 64 ? 64 : s.len);
}

/* ---- small string helpers ----------------------------------------------------------- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static lota_str trim(const char *s, size_t n)
{
	while (n > 0 && is_ws(s[0])) {
		s++;
		n--;
	}
	while (n > 0 && is_ws(s[n - 1]))
		n--;
	return (lota_str){s, n};
}

static bool str_is(lota_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && strncasecmp(s.ptr, lit, n) == 0;
}

static bool str_eq(lota_str a, lota_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Visible ASCII only (no space, no control, no 8-bit), optionally without '/'. */
static bool token_ok(lota_str s, bool no_slash)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c <= 0x20 || c >= 0x7f || (no_slash && c == '/'))
			return false;
	}
	return true;
}

/* ---- the line parser ---------------------------------------------------------------- */

typedef struct ini_handler {
	/* A [section] header; name.ptr == NULL once at the end of the input. */
	int (*section)(void *ud, const msg *m, lota_str name, size_t line);
	/* A "key = value" line; parent.ptr != NULL for a line of a nested block. */
	int (*key)(void *ud, const msg *m, lota_str key, lota_str val, size_t line,
	           lota_str parent);
} ini_handler;

static int ini_parse(const char *buf, size_t len, bool nesting, const msg *m, const ini_handler *h,
                     void *ud)
{
	if (len > LOTA_AWSCONF_FILE_MAX)
		return fail(m, 0, LOTA_E_TOO_LARGE, "larger than %u bytes", LOTA_AWSCONF_FILE_MAX);
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	bool in_section = false;
	lota_str parent = {NULL, 0}; /* the key whose nested block is open */
	size_t line = 0;
	const char *s = buf, *end = buf + len;
	int rc;
	while (s < end) {
		line++;
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - s);
		const char *next = nl ? nl + 1 : end;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > LOTA_AWSCONF_LINE_MAX)
			return fail(m, line, LOTA_E_CONFIG_VALUE, "line longer than %u bytes",
			            LOTA_AWSCONF_LINE_MAX);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return fail(m, line, LOTA_E_CONFIG_VALUE, "control byte 0x%02x", c);
		}
		bool indented = n > 0 && is_ws(s[0]);
		lota_str t = trim(s, n);
		s = next;
		if (t.len == 0 || t.ptr[0] == '#' || t.ptr[0] == ';')
			continue;
		if (t.ptr[0] == '[') {
			if (t.ptr[t.len - 1] != ']')
				return fail(m, line, LOTA_E_CONFIG_VALUE,
				            "section header without a closing ']'");
			lota_str name = trim(t.ptr + 1, t.len - 2);
			if (name.len == 0)
				return fail(m, line, LOTA_E_CONFIG_VALUE, "empty section name");
			if (memchr(name.ptr, '[', name.len) || memchr(name.ptr, ']', name.len))
				return fail(m, line, LOTA_E_CONFIG_VALUE,
				            "'[' or ']' inside a section name");
			if ((rc = h->section(ud, m, name, line)) != 0)
				return rc;
			in_section = true;
			parent = (lota_str){NULL, 0};
			continue;
		}
		const char *eq = memchr(t.ptr, '=', t.len);
		if (!eq) {
			if (indented && parent.ptr)
				return fail(m, line, LOTA_E_CONFIG_VALUE,
				            "expected 'key = value' in the block of %.*s",
				            (int)parent.len, parent.ptr);
			return fail(m, line, LOTA_E_CONFIG_VALUE,
			            "expected '[section]' or 'key = value'");
		}
		if (!in_section)
			return fail(m, line, LOTA_E_CONFIG_VALUE, "key outside of any [section]");
		lota_str key = trim(t.ptr, (size_t)(eq - t.ptr));
		lota_str val = trim(eq + 1, t.len - (size_t)(eq - t.ptr) - 1);
		if (key.len == 0)
			return fail(m, line, LOTA_E_CONFIG_VALUE, "empty key before '='");
		if (nesting && indented && parent.ptr) {
			if ((rc = h->key(ud, m, key, val, line, parent)) != 0)
				return rc;
			continue;
		}
		parent = nesting && val.len == 0 ? key : (lota_str){NULL, 0};
		if ((rc = h->key(ud, m, key, val, line, (lota_str){NULL, 0})) != 0)
			return rc;
	}
	return h->section(ud, m, (lota_str){NULL, 0}, line);
}

/* ---- slots: the value of one key lota reads, in one section ------------------------- */

typedef struct slot {
	bool set;
	lota_str val;
	size_t line;
} slot;

/* Fill a slot; a second value for it is an error. Empty values are kept as given (the
 * caller decides whether an empty value is an error or nothing). */
static int slot_set(const msg *m, slot *sl, lota_str key, lota_str val, size_t line,
                    lota_str section, size_t max)
{
	if (sl->set)
		return fail(m, line, LOTA_E_CONFIG_VALUE,
		            "duplicate %.*s in section [%.*s] (first at line %zu)", (int)key.len,
		            key.ptr, cut64(section), section.ptr, sl->line);
	if (val.len > max)
		return fail(m, line, LOTA_E_CONFIG_VALUE, "%.*s longer than %zu bytes",
		            (int)key.len, key.ptr, max);
	*sl = (slot){true, val, line};
	return 0;
}

static lota_str slot_val(const slot *sl)
{
	return sl->set && sl->val.len ? sl->val : (lota_str){NULL, 0};
}

/* ---- every section of a credentials file -------------------------------------------- */

typedef struct centry {
	lota_str section;
	size_t line;
	slot ak, sk, tok;
} centry;

typedef struct cparse {
	unsigned flags;
	centry *v;
	size_t n, alloc;
	bool open;
	centry cur;
} cparse;

static int cred_close(cparse *p, const msg *m)
{
	if (!p->open)
		return 0;
	p->open = false;
	centry *c = &p->cur;
	if (p->flags & LOTA_AWSCONF_STRICT) {
		if (!slot_val(&c->ak).len)
			return fail(m, c->line, LOTA_E_CONFIG_VALUE,
			            "section [%.*s] has no aws_access_key_id", cut64(c->section),
			            c->section.ptr);
		if (!slot_val(&c->sk).len)
			return fail(m, c->line, LOTA_E_CONFIG_VALUE,
			            "section [%.*s] has no aws_secret_access_key",
			            cut64(c->section), c->section.ptr);
	}
	if (p->n == LOTA_AWSCONF_SECTIONS_MAX)
		return fail(m, c->line, LOTA_E_CONFIG_VALUE, "more than %u sections",
		            LOTA_AWSCONF_SECTIONS_MAX);
	if (p->n == p->alloc) {
		size_t na = p->alloc ? p->alloc * 2 : 8;
		centry *nv = realloc(p->v, na * sizeof(*nv));
		if (!nv)
			return fail(m, 0, -ENOMEM, "out of memory");
		p->v = nv;
		p->alloc = na;
	}
	p->v[p->n++] = *c;
	return 0;
}

static int cred_section(void *ud, const msg *m, lota_str name, size_t line)
{
	cparse *p = ud;
	int rc = cred_close(p, m);
	if (rc || !name.ptr)
		return rc;
	p->open = true;
	p->cur = (centry){.section = name, .line = line};
	return 0;
}

static int cred_value(cparse *p, const msg *m, slot *sl, lota_str key, lota_str val, size_t line,
                      size_t max, bool no_slash)
{
	bool strict = p->flags & LOTA_AWSCONF_STRICT;
	/* lotad's order of checks: duplicate, empty, length, bytes */
	if (strict && !sl->set && val.len == 0)
		return fail(m, line, LOTA_E_CONFIG_VALUE, "empty %.*s", (int)key.len, key.ptr);
	int rc = slot_set(m, sl, key, val, line, p->cur.section, max);
	if (rc)
		return rc;
	if (strict && !token_ok(val, no_slash))
		return fail(m, line, LOTA_E_CONFIG_VALUE,
		            "%.*s contains a space, a control byte or a character that is not "
		            "allowed",
		            (int)key.len, key.ptr);
	return 0;
}

static int cred_key(void *ud, const msg *m, lota_str key, lota_str val, size_t line,
                    lota_str parent)
{
	cparse *p = ud;
	if (parent.ptr)
		return 0; /* a nested block: nothing lota reads in a credentials file */
	if (str_is(key, "aws_access_key_id"))
		return cred_value(p, m, &p->cur.ak, key, val, line, LOTA_AWSCONF_KEY_ID_MAX, true);
	if (str_is(key, "aws_secret_access_key"))
		return cred_value(p, m, &p->cur.sk, key, val, line, LOTA_AWSCONF_SECRET_MAX, false);
	if (str_is(key, "aws_session_token") || str_is(key, "aws_security_token"))
		return cred_value(p, m, &p->cur.tok, key, val, line, LOTA_AWSCONF_TOKEN_MAX, false);
	if (p->flags & LOTA_AWSCONF_REJECT_UNKNOWN)
		return fail(m, line, LOTA_E_CONFIG_UNKNOWN_KEY,
		            "unknown key %.*s in section [%.*s]", (int)key.len, key.ptr,
		            cut64(p->cur.section), p->cur.section.ptr);
	return 0;
}

static int cmp_bytes(lota_str a, lota_str b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int r = n ? memcmp(a.ptr, b.ptr, n) : 0;
	if (r)
		return r;
	return a.len < b.len ? -1 : a.len > b.len;
}

static int cmp_section(const void *a, const void *b)
{
	const centry *x = *(const centry *const *)a, *y = *(const centry *const *)b;
	int r = cmp_bytes(x->section, y->section);
	return r ? r : (x->line < y->line ? -1 : x->line > y->line);
}

static int cmp_key_id(const void *a, const void *b)
{
	const centry *x = *(const centry *const *)a, *y = *(const centry *const *)b;
	int r = cmp_bytes(x->ak.val, y->ak.val);
	return r ? r : (x->line < y->line ? -1 : x->line > y->line);
}

/* Sections named twice, and (strict) access key ids used twice. Both are found on sorted
 * copies, as lotad finds them, so the same pair is reported. */
static int cred_check_dups(cparse *p, const msg *m)
{
	if (p->n < 2)
		return 0;
	const centry **s = malloc(p->n * sizeof(*s));
	int rc = 0;
	if (!s)
		return fail(m, 0, -ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n; i++)
		s[i] = &p->v[i];
	qsort(s, p->n, sizeof(*s), cmp_section);
	for (size_t i = 1; i < p->n && !rc; i++)
		if (str_eq(s[i]->section, s[i - 1]->section))
			rc = fail(m, s[i]->line, LOTA_E_CONFIG_VALUE,
			          "duplicate section [%.*s] (first at line %zu)",
			          cut64(s[i]->section), s[i]->section.ptr, s[i - 1]->line);
	if (!rc && (p->flags & LOTA_AWSCONF_STRICT)) {
		qsort(s, p->n, sizeof(*s), cmp_key_id);
		for (size_t i = 1; i < p->n && !rc; i++)
			if (str_eq(s[i]->ak.val, s[i - 1]->ak.val))
				rc = fail(m, s[i]->line, LOTA_E_CONFIG_VALUE,
				          "section [%.*s] repeats the aws_access_key_id of section "
				          "[%.*s] (line %zu)",
				          cut64(s[i]->section), s[i]->section.ptr,
				          cut64(s[i - 1]->section), s[i - 1]->section.ptr,
				          s[i - 1]->line);
	}
	free(s);
	return rc;
}

static int foreach_named(const char *buf, size_t len, const char *name, unsigned flags,
                         lota_aws_credentials_fn fn, void *ud, char *err, size_t err_cap)
{
	msg m = {name ? name : "credentials", err, err_cap};
	cparse p = {.flags = flags};
	static const ini_handler h = {cred_section, cred_key};
	if (err && err_cap)
		err[0] = '\0';
	if (!fn || (!buf && len))
		return fail(&m, 0, -EINVAL, "invalid argument");
	int rc = ini_parse(buf ? buf : "", len, !(flags & LOTA_AWSCONF_STRICT), &m, &h, &p);
	if (rc == 0)
		rc = cred_check_dups(&p, &m);
	for (size_t i = 0; rc == 0 && i < p.n; i++) {
		const centry *c = &p.v[i];
		lota_aws_credentials_entry e = {
		    .section = c->section,
		    .access_key_id = slot_val(&c->ak),
		    .secret_access_key = slot_val(&c->sk),
		    .session_token = slot_val(&c->tok),
		    .line = c->line,
		};
		rc = fn(ud, &e);
		if (rc)
			fail(&m, c->line, rc, "%s", lota_strerror(rc));
	}
	if (p.v)
		lota__wipe(p.v, p.alloc * sizeof(*p.v)); /* views only, but of secrets */
	free(p.v);
	return rc;
}

int lota_aws_credentials_foreach(const char *buf, size_t len, const char *name, unsigned flags,
                                 lota_aws_credentials_fn fn, void *ud, char *err, size_t err_cap)
{
	return foreach_named(buf, len, name, flags, fn, ud, err, err_cap);
}

/* ---- reading a file ------------------------------------------------------------------ */

/* The whole file into a malloc'd buffer (wipe it after use). Returns 0 or a negative
 * code with a message: -ENOENT and -EINVAL (not a regular file) tell the resolver to skip
 * the file. */
static int read_file(const char *path, unsigned flags, char **out, size_t *out_len, char *err,
                     size_t err_cap)
{
	msg m = {path, err, err_cap};
	char *buf = NULL;
	size_t len = 0;
	int rc = 0;
	/* O_NONBLOCK: a FIFO given as a file must not hang the caller (it is then refused
	 * as not a regular file); it changes nothing for regular files. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(&m, 0, -errno, "%s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		rc = fail(&m, 0, -errno, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(&m, 0, -EINVAL, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > LOTA_AWSCONF_FILE_MAX) {
		rc = fail(&m, 0, LOTA_E_TOO_LARGE, "larger than %u bytes", LOTA_AWSCONF_FILE_MAX);
		goto out;
	}
	if ((flags & LOTA_AWSCONF_WARN_MODE) && (st.st_mode & (S_IRWXG | S_IRWXO)))
		lota_log_warn("credentials file %s is accessible by group or others (mode %04o); "
		              "chmod 600 it",
		              path, (unsigned)(st.st_mode & 07777));
	/* One byte more than the size read so far tells a file that grew since fstat. */
	size_t cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf) {
		rc = fail(&m, 0, -ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		if (len == cap) {
			rc = fail(&m, 0, LOTA_E_TOO_LARGE, "changed while it was read");
			goto out;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = fail(&m, 0, -errno, "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	if (buf) {
		lota__wipe(buf, len);
		free(buf);
	}
	close(fd);
	return rc;
}

int lota_aws_credentials_foreach_file(const char *path, unsigned flags, lota_aws_credentials_fn fn,
                                      void *ud, char *err, size_t err_cap)
{
	char *buf = NULL;
	size_t len = 0;
	if (err && err_cap)
		err[0] = '\0';
	if (!path || !path[0] || !fn)
		return fail(&(msg){"credentials", err, err_cap}, 0, -EINVAL, "no file given");
	int rc = read_file(path, flags, &buf, &len, err, err_cap);
	if (rc)
		return rc;
	rc = foreach_named(buf, len, path, flags, fn, ud, err, err_cap);
	lota__wipe(buf, len);
	free(buf);
	return rc;
}

/* ---- one profile --------------------------------------------------------------------- */

enum {
	P_AK,
	P_SK,
	P_TOK,
	P_REGION,
	P_ENDPOINT,
	P_SERVICES,
	P_IGNORE,
	P_S3,
	P_S3_ENDPOINT,
	P_S3_ADDRESSING,
	P_N
};

enum { SEC_CREDENTIALS, SEC_CONFIG, SEC_SERVICES };

/* The slots of the wanted section of one file. */
typedef struct pcollect {
	int kind;
	lota_str want;   /* the profile (or services) name */
	bool in_target;  /* the current section is the wanted one */
	bool found;      /* the wanted section was seen */
	lota_str header; /* its header as written, and line */
	size_t line;
	slot s[P_N];
} pcollect;

/* The name a config-file header gives a profile: "default", or "profile NAME" (NAME one
 * word). {NULL, 0} for other sections. */
static lota_str header_name(int kind, lota_str h)
{
	const char *pfx = kind == SEC_SERVICES ? "services" : "profile";
	size_t pl = strlen(pfx);
	if (kind == SEC_CREDENTIALS)
		return h;
	if (kind == SEC_CONFIG && str_eq(h, LOTA_STR_LIT("default")))
		return h;
	if (h.len <= pl || memcmp(h.ptr, pfx, pl) != 0 || !is_ws(h.ptr[pl]))
		return (lota_str){NULL, 0};
	lota_str n = trim(h.ptr + pl, h.len - pl);
	for (size_t i = 0; i < n.len; i++)
		if (is_ws(n.ptr[i]))
			return (lota_str){NULL, 0};
	return n;
}

static int prof_section(void *ud, const msg *m, lota_str name, size_t line)
{
	pcollect *c = ud;
	c->in_target = false;
	if (!name.ptr)
		return 0;
	lota_str n = header_name(c->kind, name);
	if (!n.ptr || !str_eq(n, c->want))
		return 0;
	if (c->found && str_eq(name, c->header))
		return fail(m, line, LOTA_E_CONFIG_VALUE,
		            "duplicate section [%.*s] (first at line %zu)", cut64(name), name.ptr,
		            c->line);
	/* [default] then [profile default] (or the reverse): the later one counts */
	memset(c->s, 0, sizeof(c->s));
	c->in_target = c->found = true;
	c->header = name;
	c->line = line;
	return 0;
}

static int prof_key(void *ud, const msg *m, lota_str key, lota_str val, size_t line,
                    lota_str parent)
{
	static const struct {
		const char *name;
		int slot;
		size_t max;
	} keys[] = {
	    {"aws_access_key_id", P_AK, LOTA_AWSCONF_KEY_ID_MAX},
	    {"aws_secret_access_key", P_SK, LOTA_AWSCONF_SECRET_MAX},
	    {"aws_session_token", P_TOK, LOTA_AWSCONF_TOKEN_MAX},
	    {"aws_security_token", P_TOK, LOTA_AWSCONF_TOKEN_MAX},
	    {"region", P_REGION, LOTA_AWSCONF_LINE_MAX},
	    {"endpoint_url", P_ENDPOINT, LOTA_AWSCONF_LINE_MAX},
	    {"services", P_SERVICES, LOTA_AWSCONF_LINE_MAX},
	    {"ignore_configured_endpoint_urls", P_IGNORE, LOTA_AWSCONF_LINE_MAX},
	    {"s3", P_S3, LOTA_AWSCONF_LINE_MAX},
	};
	pcollect *c = ud;
	if (!c->in_target)
		return 0;
	if (parent.ptr) {
		/* only s3's endpoint_url and addressing_style are read from a nested block */
		if (str_is(parent, "s3") && str_is(key, "endpoint_url"))
			return slot_set(m, &c->s[P_S3_ENDPOINT], key, val, line, c->header,
			                LOTA_AWSCONF_LINE_MAX);
		if (str_is(parent, "s3") && str_is(key, "addressing_style") &&
		    c->kind != SEC_SERVICES)
			return slot_set(m, &c->s[P_S3_ADDRESSING], key, val, line, c->header,
			                LOTA_AWSCONF_LINE_MAX);
		return 0;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (c->kind == SEC_SERVICES && keys[i].slot != P_S3)
			continue;
		if (str_is(key, keys[i].name))
			return slot_set(m, &c->s[keys[i].slot], key, val, line, c->header,
			                keys[i].max);
	}
	return 0;
}

static int collect(const char *buf, size_t len, const char *name, int kind, lota_str want,
                   pcollect *c, char *err, size_t err_cap)
{
	static const ini_handler h = {prof_section, prof_key};
	msg m = {name, err, err_cap};
	*c = (pcollect){.kind = kind, .want = want};
	return ini_parse(buf ? buf : "", len, true, &m, &h, c);
}

/* ---- the environment ----------------------------------------------------------------- */

typedef struct env {
	lota_aws_getenv_fn fn;
	void *ud;
	const char *const *envp;
} env;

/* A variable's value as set (maybe ""), NULL when unset. The AWS CLI reads its settings
 * (AWS_PROFILE, AWS_REGION, the file variables) this way: a variable that is set
 * decides, even when it is empty. */
static const char *env_raw(const env *e, const char *name)
{
	const char *v = NULL;
	if (e->fn) {
		v = e->fn(e->ud, name);
	} else {
		const char *const *ep = e->envp ? e->envp : (const char *const *)environ;
		size_t n = strlen(name);
		for (; ep && *ep; ep++) {
			if (strncmp(*ep, name, n) == 0 && (*ep)[n] == '=') {
				v = *ep + n + 1;
				break;
			}
		}
	}
	return v;
}

/* A variable's value, "" counting as unset: how the AWS CLI reads credentials and the
 * endpoint variables. */
static const char *env_get(const env *e, const char *name)
{
	const char *v = env_raw(e, name);
	return v && v[0] ? v : NULL;
}

/* ---- the resolved profile ------------------------------------------------------------ */

#define FIELDS 9

struct lota_aws_profile {
	char *val[FIELDS];
	char *origin[FIELDS];
	lota_aws_source src[FIELDS];
};

void lota_aws_profile_free(lota_aws_profile *p)
{
	if (!p)
		return;
	for (int i = 0; i < FIELDS; i++) {
		if (p->val[i]) {
			lota__wipe(p->val[i], strlen(p->val[i]));
			free(p->val[i]);
		}
		free(p->origin[i]);
	}
	free(p);
}

const char *lota_aws_profile_get(const lota_aws_profile *p, lota_aws_field field)
{
	return p && (unsigned)field < FIELDS ? p->val[field] : NULL;
}

lota_aws_source lota_aws_profile_source(const lota_aws_profile *p, lota_aws_field field)
{
	return p && (unsigned)field < FIELDS ? p->src[field] : LOTA_AWS_SOURCE_NONE;
}

const char *lota_aws_profile_origin(const lota_aws_profile *p, lota_aws_field field)
{
	return p && (unsigned)field < FIELDS ? p->origin[field] : NULL;
}

static char *dup_view(lota_str s)
{
	char *d = malloc(s.len + 1);
	if (d) {
		if (s.len)
			memcpy(d, s.ptr, s.len);
		d[s.len] = '\0';
	}
	return d;
}

/* Set a field with its source; file_line != 0 makes the origin "path:line". */
static int put(lota_aws_profile *p, lota_aws_field f, lota_str v, lota_aws_source src,
               const char *where, size_t file_line)
{
	char *val = dup_view(v), *origin = NULL;
	if (val && file_line) {
		size_t n = strlen(where) + 24;
		if ((origin = malloc(n)))
			snprintf(origin, n, "%s:%zu", where, file_line);
	} else if (val) {
		origin = dup_view((lota_str){where, strlen(where)});
	}
	if (!val || !origin) {
		if (val) {
			lota__wipe(val, v.len);
			free(val);
		}
		free(origin);
		return -ENOMEM;
	}
	p->val[f] = val;
	p->origin[f] = origin;
	p->src[f] = src;
	return 0;
}

static lota_str cview(const char *s)
{
	return (lota_str){s, s ? strlen(s) : 0};
}

/* One file to consult: its path (NULL: none), where the path came from, and its text. */
typedef struct srcfile {
	char *path; /* owned */
	lota_aws_source path_src;
	const char *path_origin;
	const char *name; /* for messages: the path, or the text's name */
	const char *text; /* the contents (NULL: none) */
	size_t len;
	char *owned; /* the buffer read here, wiped on release */
	pcollect c;  /* the wanted profile's slots */
} srcfile;

/* "~" and "~/..." with HOME; NULL when HOME is needed but unset. */
static char *expand_home(const env *e, const char *path, int *rc)
{
	*rc = 0;
	if (path[0] != '~' || (path[1] != '\0' && path[1] != '/')) {
		char *d = dup_view(cview(path));
		if (!d)
			*rc = -ENOMEM;
		return d;
	}
	const char *home = env_get(e, "HOME");
	if (!home)
		return NULL;
	size_t n = strlen(home) + strlen(path);
	char *out = malloc(n);
	if (!out) {
		*rc = -ENOMEM;
		return NULL;
	}
	snprintf(out, n, "%s%s", home, path + 1);
	return out;
}

static int pick_path(const env *e, const char *opt, const char *var, const char *def, srcfile *f)
{
	int rc = 0;
	const char *v = opt && opt[0] ? opt : env_raw(e, var);
	f->path_src = opt && opt[0] ? LOTA_AWS_SOURCE_OPTION
	              : v           ? LOTA_AWS_SOURCE_ENV
	                            : LOTA_AWS_SOURCE_DEFAULT;
	f->path_origin = opt && opt[0] ? "option" : v ? var : "default";
	if (v && !v[0])
		return 0; /* set to "": no such file */
	f->path = expand_home(e, v ? v : def, &rc);
	return rc;
}

/* Read (or take from memory) and parse one file for the wanted profile. */
static int load(srcfile *f, lota_str text, const char *fallback_name, int kind, lota_str want,
                char *err, size_t err_cap)
{
	f->name = f->path ? f->path : fallback_name;
	if (text.ptr) {
		f->text = text.ptr;
		f->len = text.len;
	} else if (f->path) {
		int rc = read_file(f->path, 0, &f->owned, &f->len, err, err_cap);
		if (rc == -ENOENT || rc == -EINVAL) { /* as the AWS CLI: skip it */
			if (err && err_cap)
				err[0] = '\0';
			return 0;
		}
		if (rc)
			return rc;
		f->text = f->owned;
	}
	if (!f->text)
		return 0;
	return collect(f->text, f->len, f->name, kind, want, &f->c, err, err_cap);
}

static void release(srcfile *f)
{
	if (f->owned) {
		lota__wipe(f->owned, f->len);
		free(f->owned);
	}
	free(f->path);
	memset(f, 0, sizeof(*f));
}

static bool is_true(lota_str v)
{
	return str_is(v, "true");
}

/* The first set slot among the credentials file's and the config file's (the credentials
 * file wins, as the AWS CLI merges a profile's values). */
static int put_merged(lota_aws_profile *p, lota_aws_field f, const srcfile *cred,
                      const srcfile *conf, int slot_idx)
{
	const srcfile *src[2] = {cred, conf};
	const lota_aws_source kind[2] = {LOTA_AWS_SOURCE_CREDENTIALS_FILE,
	                                 LOTA_AWS_SOURCE_CONFIG_FILE};
	for (int i = 0; i < 2; i++) {
		const slot *sl = &src[i]->c.s[slot_idx];
		if (slot_val(sl).len)
			return put(p, f, sl->val, kind[i], src[i]->name, sl->line);
	}
	return 0;
}

static bool has_merged(const srcfile *cred, const srcfile *conf, int slot_idx)
{
	return slot_val(&cred->c.s[slot_idx]).len || slot_val(&conf->c.s[slot_idx]).len;
}

/* The keys of one file's profile, if it has an access key id. 1 when taken. */
static int put_keys_from(lota_aws_profile *p, const srcfile *f, lota_aws_source src, char *err,
                         size_t err_cap)
{
	const pcollect *c = &f->c;
	if (!slot_val(&c->s[P_AK]).len)
		return 0;
	if (!slot_val(&c->s[P_SK]).len)
		return fail(&(msg){f->name, err, err_cap}, c->line, LOTA_E_CONFIG_VALUE,
		            "profile [%.*s] has aws_access_key_id but no aws_secret_access_key",
		            cut64(c->header), c->header.ptr);
	int rc =
	    put(p, LOTA_AWS_FIELD_ACCESS_KEY_ID, c->s[P_AK].val, src, f->name, c->s[P_AK].line);
	if (!rc)
		rc = put(p, LOTA_AWS_FIELD_SECRET_ACCESS_KEY, c->s[P_SK].val, src, f->name,
		         c->s[P_SK].line);
	if (!rc && slot_val(&c->s[P_TOK]).len)
		rc = put(p, LOTA_AWS_FIELD_SESSION_TOKEN, c->s[P_TOK].val, src, f->name,
		         c->s[P_TOK].line);
	return rc ? rc : 1;
}

static int resolve_keys(lota_aws_profile *p, const env *e, bool explicit_profile,
                        const srcfile *cred, const srcfile *conf, char *err, size_t err_cap)
{
	const char *ak = env_get(e, "AWS_ACCESS_KEY_ID");
	if (ak && !explicit_profile) {
		const char *sk = env_get(e, "AWS_SECRET_ACCESS_KEY");
		const char *tok = env_get(e, "AWS_SESSION_TOKEN");
		if (!sk)
			return fail(&(msg){"environment", err, err_cap}, 0, LOTA_E_CONFIG_MISSING,
			            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
		if (strlen(ak) > LOTA_AWSCONF_KEY_ID_MAX || strlen(sk) > LOTA_AWSCONF_SECRET_MAX ||
		    (tok && strlen(tok) > LOTA_AWSCONF_TOKEN_MAX))
			return fail(
			    &(msg){"environment", err, err_cap}, 0, LOTA_E_CONFIG_VALUE,
			    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is "
			    "too long");
		int rc = put(p, LOTA_AWS_FIELD_ACCESS_KEY_ID, cview(ak), LOTA_AWS_SOURCE_ENV,
		             "AWS_ACCESS_KEY_ID", 0);
		if (!rc)
			rc = put(p, LOTA_AWS_FIELD_SECRET_ACCESS_KEY, cview(sk),
			         LOTA_AWS_SOURCE_ENV, "AWS_SECRET_ACCESS_KEY", 0);
		if (!rc && tok)
			rc = put(p, LOTA_AWS_FIELD_SESSION_TOKEN, cview(tok), LOTA_AWS_SOURCE_ENV,
			         "AWS_SESSION_TOKEN", 0);
		return rc;
	}
	int rc = put_keys_from(p, cred, LOTA_AWS_SOURCE_CREDENTIALS_FILE, err, err_cap);
	if (rc == 0)
		rc = put_keys_from(p, conf, LOTA_AWS_SOURCE_CONFIG_FILE, err, err_cap);
	return rc < 0 ? rc : 0;
}

static int resolve_region(lota_aws_profile *p, const env *e, const srcfile *cred,
                          const srcfile *conf)
{
	static const char *const vars[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
	for (size_t i = 0; i < 2; i++) {
		const char *v = env_raw(e, vars[i]);
		if (v && !v[0])
			return 0; /* set to "": no region, as the AWS CLI has it */
		if (v)
			return put(p, LOTA_AWS_FIELD_REGION, cview(v), LOTA_AWS_SOURCE_ENV, vars[i],
			           0);
	}
	return put_merged(p, LOTA_AWS_FIELD_REGION, cred, conf, P_REGION);
}

static int resolve_endpoint(lota_aws_profile *p, const env *e, const srcfile *cred,
                            const srcfile *conf, char *err, size_t err_cap)
{
	const char *ign = env_raw(e, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if (ign ? is_true(cview(ign))
	        : (slot_val(&cred->c.s[P_IGNORE]).len ? is_true(cred->c.s[P_IGNORE].val)
	                                              : is_true(slot_val(&conf->c.s[P_IGNORE]))))
		return 0;
	static const char *const vars[] = {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"};
	for (size_t i = 0; i < 2; i++) {
		const char *v = env_get(e, vars[i]);
		if (v)
			return put(p, LOTA_AWS_FIELD_ENDPOINT_URL, cview(v), LOTA_AWS_SOURCE_ENV,
			           vars[i], 0);
	}
	/* [services NAME] of the config file, NAME given by the profile's services key */
	const srcfile *sf = slot_val(&cred->c.s[P_SERVICES]).len ? cred : conf;
	lota_str sname = slot_val(&sf->c.s[P_SERVICES]);
	if (sname.len && conf->text) {
		pcollect sc;
		int rc = collect(conf->text, conf->len, conf->name, SEC_SERVICES, sname, &sc, err,
		                 err_cap);
		if (rc)
			return rc;
		if (slot_val(&sc.s[P_S3_ENDPOINT]).len)
			return put(p, LOTA_AWS_FIELD_ENDPOINT_URL, sc.s[P_S3_ENDPOINT].val,
			           LOTA_AWS_SOURCE_CONFIG_FILE, conf->name,
			           sc.s[P_S3_ENDPOINT].line);
	}
	if (has_merged(cred, conf, P_S3_ENDPOINT))
		return put_merged(p, LOTA_AWS_FIELD_ENDPOINT_URL, cred, conf, P_S3_ENDPOINT);
	return put_merged(p, LOTA_AWS_FIELD_ENDPOINT_URL, cred, conf, P_ENDPOINT);
}

/* The caller's options in this library's layout (lota/common.h, "Options structs"); the
 * released size of lota_aws_resolve_opts is the end of config_text. NULL: all defaults. */
static int opts_copy(const lota_aws_resolve_opts *in, lota_aws_resolve_opts *out)
{
	if (!in) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return lota__opts_load(in, LOTA__OFFSETOFEND(lota_aws_resolve_opts, config_text),
	                       sizeof(*out), out);
}

int lota_aws_profile_resolve(const lota_aws_resolve_opts *opts_in, lota_aws_profile **out,
                             char *err, size_t err_cap)
{
	lota_aws_resolve_opts o;
	srcfile cred = {0}, conf = {0};
	lota_aws_profile *p = NULL;
	msg m = {NULL, err, err_cap};
	int rc;
	if (err && err_cap)
		err[0] = '\0';
	if (!out)
		return fail(&m, 0, -EINVAL, "invalid argument");
	*out = NULL;
	if ((rc = opts_copy(opts_in, &o)) != 0)
		return fail(&m, 0, rc, "options: bad size");
	env e = {o.getenv_fn, o.getenv_ud, o.envp};
	if (!(p = calloc(1, sizeof(*p))))
		return fail(&m, 0, -ENOMEM, "out of memory");

	/* the profile name */
	const char *env_profile = env_raw(&e, "AWS_PROFILE"); /* "" names a profile too */
	bool explicit_opt = o.profile && o.profile[0];
	const char *pname = explicit_opt ? o.profile : env_profile ? env_profile : "default";
	rc = put(p, LOTA_AWS_FIELD_PROFILE, cview(pname),
	         explicit_opt  ? LOTA_AWS_SOURCE_OPTION
	         : env_profile ? LOTA_AWS_SOURCE_ENV
	                       : LOTA_AWS_SOURCE_DEFAULT,
	         explicit_opt  ? "option"
	         : env_profile ? "AWS_PROFILE"
	                       : "default",
	         0);
	if (rc)
		goto nomem;

	/* the files */
	if ((rc = pick_path(&e, o.credentials_path, "AWS_SHARED_CREDENTIALS_FILE",
	                    "~/.aws/credentials", &cred)) ||
	    (rc = pick_path(&e, o.config_path, "AWS_CONFIG_FILE", "~/.aws/config", &conf)))
		goto nomem;
	if ((cred.path && (rc = put(p, LOTA_AWS_FIELD_CREDENTIALS_FILE, cview(cred.path),
	                            cred.path_src, cred.path_origin, 0))) ||
	    (conf.path && (rc = put(p, LOTA_AWS_FIELD_CONFIG_FILE, cview(conf.path), conf.path_src,
	                            conf.path_origin, 0))))
		goto nomem;
	lota_str want = cview(pname);
	if ((rc = load(&cred, o.credentials_text, "credentials", SEC_CREDENTIALS, want, err,
	               err_cap)) ||
	    (rc = load(&conf, o.config_text, "config", SEC_CONFIG, want, err, err_cap)))
		goto fail;
	if ((explicit_opt || env_profile) && !cred.c.found && !conf.c.found) {
		rc = fail(&m, 0, LOTA_E_CONFIG_MISSING,
		          "profile \"%s\" (from %s) not found in %s or %s", pname,
		          explicit_opt ? "the options" : "AWS_PROFILE",
		          cred.path ? cred.path : "(no credentials file)",
		          conf.path ? conf.path : "(no config file)");
		goto fail;
	}

	if ((rc = resolve_keys(p, &e, explicit_opt, &cred, &conf, err, err_cap)) ||
	    (rc = resolve_region(p, &e, &cred, &conf)) ||
	    (rc = resolve_endpoint(p, &e, &cred, &conf, err, err_cap)))
		goto fail;
	if (has_merged(&cred, &conf, P_S3_ADDRESSING) &&
	    (rc = put_merged(p, LOTA_AWS_FIELD_S3_ADDRESSING_STYLE, &cred, &conf, P_S3_ADDRESSING)))
		goto fail;
	*out = p;
	p = NULL;
	goto out;
nomem:
	rc = fail(&m, 0, rc, "%s", lota_strerror(rc));
fail:
	if (rc == -ENOMEM && err && err_cap && !err[0])
		fail(&m, 0, rc, "out of memory");
out:
	lota_aws_profile_free(p);
	release(&cred);
	release(&conf);
	return rc;
}
