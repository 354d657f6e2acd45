/*
 * test_daemon_auth.c - lotad's credentials store (parsing, every error message, file
 * loading, reference counting and the swap of the current snapshot), the authentication
 * decision for every kind of request, the S3 error each failure maps to, the upstream
 * request lotad signs (a lota_request, checked by parsing and verifying it as the
 * upstream would, and the curl header list made from it), the removal of presign
 * parameters, and the aws-chunked re-signer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lota/log.h>
#include <lota/sigv4.h>

#include "crypto-internal.h"
#include "net/upstream.h"
#include "s3/auth.h"

#include "unit.h"

#define AK1 "AKIDLOTATEST1"
#define SK1 "secret/one+KEY0123456789abcdefghijklmn"
#define AKT "ASIATEMPKEY"
#define SKT "tempsecret"
#define TOK "FQoGZXIvYXdzEPT//////////wEaDToken="
#define NOW 1700000000

static const char creds_text[] = "# lotad test keys\n"
                                 "[default]\n"
                                 "aws_access_key_id = " AK1 "\n"
                                 "aws_secret_access_key=" SK1 "  \n"
                                 "region = us-east-1\n"
                                 "\n"
                                 "; temporary\n"
                                 "[temp]\r\n"
                                 "  AWS_ACCESS_KEY_ID\t=\t" AKT "\r\n"
                                 "aws_secret_access_key = " SKT "\r\n"
                                 "aws_session_token = " TOK "\r\n";

static const char *const own_names[] = {"lota.local"};
static const lotad_auth_config cfg = {
    .endpoint_names = own_names,
    .num_endpoint_names = 1,
    .upstream_host = "s3.upstream.test:7480",
    .region = "us-east-1",
    .max_skew_s = 900,
};

static lotad_creds *parse_ok(const char *text)
{
	char err[256];
	lotad_creds *c = lotad_creds_parse(text, strlen(text), "t", err, sizeof(err));
	if (!c)
		fprintf(stderr, "unexpected error: %s\n", err);
	return c;
}

/* ------------------------------------------------------------ credentials */

static void test_creds_parse_ok(void)
{
	lotad_creds *c = parse_ok(creds_text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(lotad_creds_count(c), 2);
	lota_str s, t;
	CU_ASSERT_TRUE(lotad_creds_lookup(c, LOTA_STR_LIT(AK1), &s, &t));
	CU_ASSERT_EQUAL(s.len, strlen(SK1));
	CU_ASSERT_EQUAL(memcmp(s.ptr, SK1, s.len), 0);
	CU_ASSERT_EQUAL(t.len, 0);
	CU_ASSERT_TRUE(lotad_creds_lookup(c, LOTA_STR_LIT(AKT), &s, &t));
	CU_ASSERT_EQUAL(s.len, strlen(SKT));
	CU_ASSERT_EQUAL(t.len, strlen(TOK));
	CU_ASSERT_EQUAL(memcmp(t.ptr, TOK, t.len), 0);
	/* lookups are exact (case, prefix, length) */
	CU_ASSERT_FALSE(lotad_creds_lookup(c, LOTA_STR_LIT("akidlotatest1"), &s, &t));
	CU_ASSERT_FALSE(lotad_creds_lookup(c, LOTA_STR_LIT("AKIDLOTATEST"), &s, &t));
	CU_ASSERT_FALSE(lotad_creds_lookup(c, LOTA_STR_LIT(""), &s, &t));
	CU_ASSERT_FALSE(lotad_creds_lookup(NULL, LOTA_STR_LIT(AK1), &s, &t));
	lotad_creds_unref(c);
	lotad_creds_unref(NULL);

	/* empty input, comments only, BOM, no final newline, many keys */
	c = parse_ok("");
	CU_ASSERT_EQUAL(lotad_creds_count(c), 0);
	lotad_creds_unref(c);
	c = parse_ok("# nothing\n;\n   \n");
	CU_ASSERT_EQUAL(lotad_creds_count(c), 0);
	lotad_creds_unref(c);
	c = parse_ok("\xef\xbb\xbf[a]\naws_access_key_id=A\naws_secret_access_key=B");
	CU_ASSERT_EQUAL(lotad_creds_count(c), 1);
	CU_ASSERT_TRUE(lotad_creds_lookup(c, LOTA_STR_LIT("A"), &s, NULL));
	CU_ASSERT_EQUAL(s.len, 1);
	lotad_creds_unref(c);
	char big[200 * 80];
	size_t n = 0;
	for (int i = 199; i >= 0; i--)
		n += (size_t)snprintf(big + n, sizeof(big) - n,
		                      "[s%d]\naws_access_key_id=K%03d\naws_secret_access_key=S%d\n",
		                      i, i, i);
	c = parse_ok(big);
	CU_ASSERT_EQUAL_FATAL(lotad_creds_count(c), 200);
	for (int i = 0; i < 200; i++) {
		char k[8], want[8];
		snprintf(k, sizeof(k), "K%03d", i);
		snprintf(want, sizeof(want), "S%d", i);
		CU_ASSERT_TRUE(lotad_creds_lookup(c, (lota_str){k, 4}, &s, NULL));
		CU_ASSERT(s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0);
	}
	lotad_creds_unref(c);
}

static void test_creds_parse_errors(void)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
	    {"[a]\naws_access_key_id=A\n", "t:1: section [a] has no aws_secret_access_key"},
	    {"x=1\n[a]\naws_secret_access_key=B\n", "t:1: key outside of any [section]"},
	    {"[a]\naws_secret_access_key=B\n\n[b]\naws_access_key_id=A\n"
	     "aws_secret_access_key=B\n",
	     "t:1: section [a] has no aws_access_key_id"},
	    {"[a]\naws_access_key_id=A\naws_secret_access_key=B\n[b]\n"
	     "aws_access_key_id=A\naws_secret_access_key=C\n",
	     "t:4: section [b] repeats the aws_access_key_id of section [a] (line 1)"},
	    {"[a]\naws_access_key_id=A\naws_secret_access_key=B\n[a]\n"
	     "aws_access_key_id=C\naws_secret_access_key=C\n",
	     "t:4: duplicate section [a] (first at line 1)"},
	    {"[a]\naws_access_key_id=A\naws_access_key_id=A\n",
	     "t:3: duplicate aws_access_key_id in section [a] (first at line 2)"},
	    {"[a]\naws_access_key_id=\n", "t:2: empty aws_access_key_id"},
	    {"[a]\naws_access_key_id=A B\n",
	     "t:2: aws_access_key_id contains a space, a control byte or a character that is "
	     "not allowed"},
	    {"[a]\naws_access_key_id=A/B\n",
	     "t:2: aws_access_key_id contains a space, a control byte or a character that is "
	     "not allowed"},
	    {"[a]\naws_secret_access_key=x\xc3\xa9\n",
	     "t:2: aws_secret_access_key contains a space, a control byte or a character that "
	     "is not allowed"},
	    {"[a\n", "t:1: section header without a closing ']'"},
	    {"[ ]\n", "t:1: empty section name"},
	    {"[a]b]\n", "t:1: '[' or ']' inside a section name"},
	    {"[a]\njunk\n", "t:2: expected '[section]' or 'key = value'"},
	    {"[a]\n = 1\n", "t:2: empty key before '='"},
	    {"[a]\naws_access_key_id=A\x01\n", "t:2: control byte 0x01"},
	    {"[a]\nx=\rA\n", "t:2: control byte 0x0d"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "unset";
		lotad_creds *c =
		    lotad_creds_parse(cases[i].in, strlen(cases[i].in), "t", err, sizeof(err));
		CU_ASSERT_PTR_NULL(c);
		if (strcmp(err, cases[i].msg) != 0)
			fprintf(stderr, "case %zu: got '%s' want '%s'\n", i, err, cases[i].msg);
		CU_ASSERT_STRING_EQUAL(err, cases[i].msg);
		lotad_creds_unref(c);
	}
	/* over-long values, with the cap in the message */
	char buf[400];
	int n = snprintf(buf, sizeof(buf), "[a]\naws_access_key_id=");
	memset(buf + n, 'A', 129);
	buf[n + 129] = '\0';
	char err[256];
	CU_ASSERT_PTR_NULL(lotad_creds_parse(buf, strlen(buf), "t", err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "t:2: aws_access_key_id longer than 128 bytes");
	/* a tiny error buffer is still terminated; NULL is fine */
	char small[8];
	CU_ASSERT_PTR_NULL(lotad_creds_parse("[a\n", 3, "t", small, sizeof(small)));
	CU_ASSERT_EQUAL(strlen(small), 7);
	CU_ASSERT_PTR_NULL(lotad_creds_parse("[a\n", 3, "t", NULL, 0));
	/* a NUL inside the buffer is a control byte, not an end */
	CU_ASSERT_PTR_NULL(lotad_creds_parse("[a]\n\0", 5, "t", err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "t:2: control byte 0x00");
}

static char log_buf[8192];
static void capture(lota_log_level level, const char *line, size_t len, void *ud)
{
	(void)level;
	(void)ud;
	size_t have = strlen(log_buf);
	if (have + len + 2 < sizeof(log_buf)) {
		memcpy(log_buf + have, line, len);
		log_buf[have + len] = '\n';
		log_buf[have + len + 1] = '\0';
	}
}

static void test_creds_load(void)
{
	char path[] = "/tmp/lota-creds-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, creds_text, sizeof(creds_text) - 1),
	                (ssize_t)(sizeof(creds_text) - 1));
	close(fd);
	char err[512];
	log_buf[0] = '\0';
	lota_log_set_sink(capture, NULL);

	CU_ASSERT_EQUAL(chmod(path, 0600), 0);
	lotad_creds *c = lotad_creds_load(path, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT_EQUAL(lotad_creds_count(c), 2);
	CU_ASSERT_EQUAL(log_buf[0], '\0'); /* mode 600: no warning */
	lotad_creds_unref(c);

	CU_ASSERT_EQUAL(chmod(path, 0644), 0);
	c = lotad_creds_load(path, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(c);
	lotad_creds_unref(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(log_buf, "accessible by group or others"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log_buf, path));
	CU_ASSERT_PTR_NULL(strstr(log_buf, SK1)); /* never a secret in a log line */
	CU_ASSERT_PTR_NULL(strstr(log_buf, TOK));
	lota_log_set_sink(NULL, NULL);
	CU_ASSERT_EQUAL(chmod(path, 0600), 0);

	/* errors name the path */
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("[x]\naws_access_key_id=A\n", f);
	fclose(f);
	CU_ASSERT_PTR_NULL(lotad_creds_load(path, err, sizeof(err)));
	char want[600];
	snprintf(want, sizeof(want), "%s:1: section [x] has no aws_secret_access_key", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	unlink(path);
	CU_ASSERT_PTR_NULL(lotad_creds_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_PTR_NULL(lotad_creds_load("/", err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "/: not a regular file");
	/* no path: an empty store */
	c = lotad_creds_load("", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT_EQUAL(lotad_creds_count(c), 0);
	lotad_creds_unref(c);
	c = lotad_creds_load(NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(c);
	lotad_creds_unref(c);
}

static void test_creds_swap(void)
{
	lotad_creds *a = parse_ok("[a]\naws_access_key_id=KA\naws_secret_access_key=SA\n");
	lotad_creds *b = parse_ok("[b]\naws_access_key_id=KB\naws_secret_access_key=SB\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	lotad_creds_set_current(a);
	lotad_creds_unref(a); /* the current slot holds the only reference now */
	lotad_creds *held = lotad_creds_current();
	CU_ASSERT_PTR_EQUAL(held, a);
	lotad_creds_set_current(b); /* a request in flight keeps its snapshot */
	lotad_creds_unref(b);
	lota_str s;
	CU_ASSERT_TRUE(lotad_creds_lookup(held, LOTA_STR_LIT("KA"), &s, NULL));
	CU_ASSERT(s.len == 2 && memcmp(s.ptr, "SA", 2) == 0);
	CU_ASSERT_FALSE(lotad_creds_lookup(held, LOTA_STR_LIT("KB"), &s, NULL));
	lotad_creds_unref(held); /* last reference to a: freed (ASan checks) */
	lotad_creds *now = lotad_creds_current();
	CU_ASSERT_PTR_EQUAL(now, b);
	CU_ASSERT_TRUE(lotad_creds_lookup(now, LOTA_STR_LIT("KB"), &s, NULL));
	lotad_creds_ref(now);
	lotad_creds_unref(now);
	lotad_creds_unref(now);
	lotad_creds_set_current(NULL);
	CU_ASSERT_PTR_NULL(lotad_creds_current());
}

/* ------------------------------------------------------------ test requests */

enum { SIGN_NONE, SIGN_HEADER, SIGN_QUERY };

typedef struct treq {
	lota_http_header h[16];
	lota_http_request r;
	char date[LOTA_SIGV4_AMZ_DATE_LEN + 1];
	char auth[LOTA_SIGV4_AUTH_MAX];
	char query[4096];
	char host[128];
} treq;

typedef struct tsign {
	const char *host;
	const char *ak, *sk, *token;
	int form;
	int64_t time;
	int64_t expires_s;
	const char *service;
	const char *region;
	bool no_sha256_header;
	const char *payload;           /* x-amz-content-sha256 value (default: the empty body's) */
	const char *query_sha256;      /* presigned: an X-Amz-Content-Sha256 parameter (a pin) */
	const lota_http_header *extra; /* added before signing (signed) */
	size_t nextra;
	const lota_http_header *added; /* added after signing (not signed) */
	size_t nadded;
} tsign;

static void make_req(treq *t, const tsign *o)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", o->host);
	lota_sigv4_format_amz_date(o->time, t->date);
	size_t n = 0;
	t->h[n++] = (lota_http_header){LOTA_STR_LIT("Host"), {t->host, strlen(t->host)}};
	if (o->form == SIGN_HEADER) {
		t->h[n++] = (lota_http_header){LOTA_STR_LIT("X-Amz-Date"),
		                               {t->date, LOTA_SIGV4_AMZ_DATE_LEN}};
		if (!o->no_sha256_header)
			t->h[n++] = (lota_http_header){
			    LOTA_STR_LIT("x-amz-content-sha256"),
			    o->payload ? (lota_str){o->payload, strlen(o->payload)}
			               : LOTA_STR_LIT(LOTA_SIGV4_EMPTY_SHA256)};
		if (o->token)
			t->h[n++] = (lota_http_header){LOTA_STR_LIT("X-Amz-Security-Token"),
			                               {o->token, strlen(o->token)}};
	}
	t->h[n++] = (lota_http_header){LOTA_STR_LIT("Range"), LOTA_STR_LIT("bytes=0-9")};
	for (size_t i = 0; i < o->nextra; i++)
		t->h[n++] = o->extra[i];
	t->r.method = LOTA_STR_LIT("GET");
	t->r.path = LOTA_STR_LIT("/bucket/dir/my%20key");
	if (o->query_sha256)
		snprintf(t->query, sizeof(t->query), "versionId=3&X-Amz-Content-Sha256=%s",
		         o->query_sha256);
	else
		snprintf(t->query, sizeof(t->query), "versionId=3");
	t->r.query = (lota_str){t->query, strlen(t->query)};
	t->r.headers = t->h;
	t->r.num_headers = n;
	t->r.host = t->h[0].value;
	if (o->form == SIGN_NONE)
		return;
	const char *region = o->region ? o->region : "us-east-1";
	lota_sigv4_params p = {
	    .sz = sizeof(p),
	    .access_key = {o->ak, strlen(o->ak)},
	    .secret_key = {o->sk, strlen(o->sk)},
	    .session_token = {o->token, o->token ? strlen(o->token) : 0},
	    .region = {region, strlen(region)},
	    .service = {o->service ? o->service : "s3", strlen(o->service ? o->service : "s3")},
	    .time = o->time,
	};
	lota_sigv4_request sr = {t->r.method, t->r.path, t->r.query, t->h, n, {0}};
	if (o->form == SIGN_HEADER) {
		lota_sigv4_signature sig;
		CU_ASSERT_EQUAL_FATAL(lota_sigv4_sign_header(&p, &sr, &sig), 0);
		memcpy(t->auth, sig.authorization, sizeof(t->auth));
		t->h[n++] =
		    (lota_http_header){LOTA_STR_LIT("Authorization"), {t->auth, strlen(t->auth)}};
		t->r.num_headers = n;
	} else {
		char q[4096];
		int len =
		    lota_sigv4_presign(&p, &sr, o->expires_s ? o->expires_s : 300, q, sizeof(q));
		CU_ASSERT_FATAL(len > 0);
		memcpy(t->query, q, (size_t)len + 1);
		t->r.query = (lota_str){t->query, (size_t)len};
	}
	for (size_t i = 0; i < o->nadded; i++)
		t->h[t->r.num_headers++] = o->added[i];
}

static void install_creds(void)
{
	lotad_creds *c = parse_ok(creds_text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	lotad_creds_set_current(c);
	lotad_creds_unref(c);
}

static lotad_auth_result check(const tsign *o)
{
	treq t;
	make_req(&t, o);
	lotad_auth_result r;
	int rc = lotad_auth_check(&cfg, &t.r, NOW, &r);
	CU_ASSERT_EQUAL(rc, 0);
	/* views into t die here: keep only what the callers look at */
	r.claim = (lota_sigv4_auth){.form = r.claim.form};
	r.access_key = (lota_str){0};
	return r;
}

#define UP  "s3.upstream.test:7480"
#define OWN "lota.local:8080"

static void expect_refused(const tsign *o, int status, const char *code, const char *msg)
{
	lotad_auth_result r = check(o);
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_REFUSED);
	CU_ASSERT_EQUAL(r.http_status, status);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.s3_code);
	if (strcmp(r.s3_code, code) != 0)
		fprintf(stderr, "got %s (%s) want %s\n", r.s3_code, r.message, code);
	CU_ASSERT_STRING_EQUAL(r.s3_code, code);
	if (msg)
		CU_ASSERT_STRING_EQUAL(r.message, msg);
	CU_ASSERT_PTR_NULL(r.creds);
	lotad_auth_result_cleanup(&r);
}

static void test_decision_table(void)
{
	install_creds();
	lotad_auth_result r;
	/* anonymous, to either */
	r = check(&(tsign){.host = OWN, .form = SIGN_NONE});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_ANONYMOUS);
	r = check(&(tsign){.host = UP, .form = SIGN_NONE});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_ANONYMOUS);

	/* signed for the upstream: forwarded; verified when the key is known */
	const char *up_hosts[] = {UP, "S3.Upstream.TEST:7480", "bucket.s3.upstream.test:7480",
	                          "s3.upstream.test.:7480"};
	for (size_t i = 0; i < 4; i++) {
		r = check(&(tsign){
		    .host = up_hosts[i], .ak = AK1, .sk = SK1, .form = SIGN_HEADER, .time = NOW});
		CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_FORWARD);
		CU_ASSERT_PTR_NOT_NULL(r.creds); /* known key: secret available for HEADs */
		CU_ASSERT_EQUAL(r.secret_key.len, strlen(SK1));
		lotad_auth_result_cleanup(&r);
		CU_ASSERT_PTR_NULL(r.creds);
	}
	r = check(
	    &(tsign){.host = UP, .ak = "UNKNOWNKEY", .sk = "x", .form = SIGN_HEADER, .time = NOW});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_FORWARD);
	CU_ASSERT_PTR_NULL(r.creds);
	r = check(
	    &(tsign){.host = UP, .ak = "UNKNOWNKEY", .sk = "x", .form = SIGN_QUERY, .time = NOW});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_FORWARD);
	expect_refused(
	    &(tsign){.host = UP, .ak = AK1, .sk = "wrong", .form = SIGN_HEADER, .time = NOW}, 403,
	    "SignatureDoesNotMatch", NULL);
	r = check(&(tsign){.host = UP, .ak = AK1, .sk = SK1, .form = SIGN_QUERY, .time = NOW});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_FORWARD);
	lotad_auth_result_cleanup(&r);

	/* signed for lotad (its name, an IP, the upstream name on another port) */
	const char *own_hosts[] = {OWN,
	                           "127.0.0.1:9000",
	                           "localhost",
	                           "[::1]:7480",
	                           "s3.upstream.test",
	                           "s3.upstream.test:7481",
	                           "xs3.upstream.test:7480",
	                           ".s3.upstream.test:7480"};
	for (size_t i = 0; i < 8; i++) {
		r = check(&(tsign){
		    .host = own_hosts[i], .ak = AK1, .sk = SK1, .form = SIGN_HEADER, .time = NOW});
		CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_RESIGN);
		CU_ASSERT_PTR_NOT_NULL(r.creds);
		CU_ASSERT(r.secret_key.len == strlen(SK1) &&
		          memcmp(r.secret_key.ptr, SK1, r.secret_key.len) == 0);
		lotad_auth_result_cleanup(&r);
	}
	r = check(&(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_QUERY, .time = NOW});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_RESIGN);
	CU_ASSERT_EQUAL(r.claim.form, LOTA_SIGV4_FORM_QUERY);
	lotad_auth_result_cleanup(&r);
	/* a presigned URL still valid 200 s after signing */
	r = check(&(tsign){.host = OWN,
	                   .ak = AK1,
	                   .sk = SK1,
	                   .form = SIGN_QUERY,
	                   .time = NOW - 200,
	                   .expires_s = 300});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_RESIGN);
	lotad_auth_result_cleanup(&r);
	/* the temporary key with its token */
	r = check(&(tsign){
	    .host = OWN, .ak = AKT, .sk = SKT, .token = TOK, .form = SIGN_HEADER, .time = NOW});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_RESIGN);
	CU_ASSERT_EQUAL(r.session_token.len, strlen(TOK));
	lotad_auth_result_cleanup(&r);
	lotad_creds_set_current(NULL);
}

static void test_error_mapping(void)
{
	install_creds();
	expect_refused(
	    &(tsign){.host = OWN, .ak = "NOSUCHKEY", .sk = "x", .form = SIGN_HEADER, .time = NOW},
	    403, "InvalidAccessKeyId",
	    "The AWS Access Key Id you provided does not exist in our records.");
	expect_refused(
	    &(tsign){.host = OWN, .ak = "NOSUCHKEY", .sk = "x", .form = SIGN_QUERY, .time = NOW},
	    403, "InvalidAccessKeyId", NULL);
	expect_refused(
	    &(tsign){.host = OWN, .ak = AK1, .sk = "wrong", .form = SIGN_HEADER, .time = NOW}, 403,
	    "SignatureDoesNotMatch",
	    "The request signature we calculated does not match the signature you "
	    "provided. Check your key and signing method.");
	expect_refused(
	    &(tsign){.host = OWN, .ak = AK1, .sk = "wrong", .form = SIGN_QUERY, .time = NOW}, 403,
	    "SignatureDoesNotMatch", NULL);
	/* the right key but signed for another service / region scope */
	/* (lotad cannot judge a claim for another service: the upstream answers it) */
	for (int f = SIGN_HEADER; f <= SIGN_QUERY; f++) {
		lotad_auth_result rl = check(&(tsign){
		    .host = OWN, .ak = AK1, .sk = SK1, .form = f, .time = NOW, .service = "iam"});
		CU_ASSERT_EQUAL(rl.mode, LOTAD_AUTH_RELAY);
		CU_ASSERT_PTR_NULL(rl.creds);
		lotad_auth_result_cleanup(&rl);
	}
	/* clock skew: 16 minutes either way; 14 minutes is fine */
	expect_refused(
	    &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_HEADER, .time = NOW - 960},
	    403, "RequestTimeTooSkewed",
	    "The difference between the request time and the current time is too "
	    "large.");
	expect_refused(
	    &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_HEADER, .time = NOW + 960},
	    403, "RequestTimeTooSkewed", NULL);
	lotad_auth_result r = check(
	    &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_HEADER, .time = NOW - 840});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_RESIGN);
	lotad_auth_result_cleanup(&r);
	/* presigned: expired, not yet valid */
	expect_refused(&(tsign){.host = OWN,
	                        .ak = AK1,
	                        .sk = SK1,
	                        .form = SIGN_QUERY,
	                        .time = NOW - 400,
	                        .expires_s = 300},
	               403, "AccessDenied", "Request has expired");
	expect_refused(
	    &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_QUERY, .time = NOW + 3600},
	    403, "AccessDenied", "Request is not yet valid");
	/* header form without x-amz-content-sha256, or with a bad one: the upstream's
	 * answer, not lotad's */
	r = check(&(tsign){.host = OWN,
	                   .ak = AK1,
	                   .sk = SK1,
	                   .form = SIGN_HEADER,
	                   .time = NOW,
	                   .no_sha256_header = true});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_RELAY);
	lotad_auth_result_cleanup(&r);
	r = check(&(tsign){
	    .host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_HEADER, .time = NOW, .payload = "xyz"});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_RELAY);
	lotad_auth_result_cleanup(&r);
	/* temporary key without / with another token */
	expect_refused(
	    &(tsign){.host = OWN, .ak = AKT, .sk = SKT, .form = SIGN_HEADER, .time = NOW}, 403,
	    "InvalidToken", "The provided token is malformed or otherwise invalid.");
	expect_refused(&(tsign){.host = OWN,
	                        .ak = AKT,
	                        .sk = SKT,
	                        .token = "OTHERTOKEN",
	                        .form = SIGN_HEADER,
	                        .time = NOW},
	               403, "InvalidToken", NULL);

	/* hand-made malformed claims */
	struct {
		const char *authz, *query, *code, *msg;
		int status;
	} bad[] = {
	    /* status 0: relayed to the upstream, which answers with its own error */
	    {"AWS4-HMAC-SHA256 Credential=" AK1 "/20231114/us-east-1/s3/aws4_request", NULL, NULL,
	     NULL, 0},
	    {"AWS4-HMAC-SHA256 garbage", NULL, NULL, NULL, 0},
	    {"AWS4-HMAC-SHA512 Credential=x", NULL, NULL, NULL, 0},
	    {"AWS " AK1 ":c2lnbmF0dXJl", NULL, "InvalidRequest",
	     "The authorization mechanism you have provided is not supported. Please use "
	     "AWS4-HMAC-SHA256.",
	     400},
	    {NULL, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AK1, NULL, NULL, 0},
	    {NULL, "X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=" AK1, NULL, NULL, 0},
	    /* presign parameters out of lotad's range (X-Amz-Expires above a week) */
	    {NULL,
	     "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AK1
	     "%2F20231114%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20231114T221320Z&"
	     "X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature="
	     "0000000000000000000000000000000000000000000000000000000000000000",
	     NULL, NULL, 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		treq t;
		make_req(&t, &(tsign){.host = OWN, .form = SIGN_NONE});
		if (bad[i].authz) {
			t.h[t.r.num_headers++] = (lota_http_header){
			    LOTA_STR_LIT("Authorization"), {bad[i].authz, strlen(bad[i].authz)}};
		} else {
			t.r.query = (lota_str){bad[i].query, strlen(bad[i].query)};
		}
		lotad_auth_result res;
		CU_ASSERT_EQUAL(lotad_auth_check(&cfg, &t.r, NOW, &res), 0);
		if (bad[i].status) {
			CU_ASSERT_EQUAL(res.mode, LOTAD_AUTH_REFUSED);
			CU_ASSERT_EQUAL(res.http_status, bad[i].status);
			CU_ASSERT_STRING_EQUAL(res.s3_code, bad[i].code);
			if (bad[i].msg)
				CU_ASSERT_STRING_EQUAL(res.message, bad[i].msg);
		} else {
			/* a malformed SigV4 claim: relayed, the upstream answers it */
			CU_ASSERT_EQUAL(res.mode, LOTAD_AUTH_RELAY);
			CU_ASSERT_PTR_NULL(res.creds);
		}
		lotad_auth_result_cleanup(&res);
		/* the same claims sent to the upstream's name are the upstream's business */
		t.h[0].value = t.r.host = LOTA_STR_LIT(UP);
		CU_ASSERT_EQUAL(lotad_auth_check(&cfg, &t.r, NOW, &res), 0);
		CU_ASSERT_EQUAL(res.mode, LOTAD_AUTH_FORWARD);
		lotad_auth_result_cleanup(&res);
	}
	/* a CORS preflight on a presigned URL is not a signed request: the upstream's */
	{
		treq t;
		make_req(
		    &t,
		    &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_QUERY, .time = NOW});
		t.r.method = LOTA_STR_LIT("OPTIONS");
		lotad_auth_result res;
		CU_ASSERT_EQUAL(lotad_auth_check(&cfg, &t.r, NOW, &res), 0);
		CU_ASSERT_EQUAL(res.mode, LOTAD_AUTH_RELAY);
		lotad_auth_result_cleanup(&res);
		t.h[0].value = t.r.host = LOTA_STR_LIT(UP);
		CU_ASSERT_EQUAL(lotad_auth_check(&cfg, &t.r, NOW, &res), 0);
		CU_ASSERT_EQUAL(res.mode, LOTAD_AUTH_FORWARD);
		lotad_auth_result_cleanup(&res);
	}
	/* with no credentials at all every signed request to lotad is an unknown key */
	lotad_creds_set_current(NULL);
	expect_refused(
	    &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_HEADER, .time = NOW}, 403,
	    "InvalidAccessKeyId", NULL);
}

static void test_host_match(void)
{
	struct {
		const char *up, *host;
		int dport;
		bool match;
	} cases[] = {
	    {"s3.up:7480", "s3.up:7480", 0, true},
	    {"s3.up:7480", "S3.UP:7480", 0, true},
	    {"s3.up:7480", "b.s3.up:7480", 0, true},
	    {"s3.up:7480", "a.b.s3.up:7480", 0, true},
	    {"s3.up:7480", "s3.up", 0, false},
	    {"s3.up:443", "s3.up", 0, true},
	    {"s3.up", "s3.up:443", 0, true},
	    {"s3.up", "s3.up:80", 0, false},
	    {"s3.up", "s3.up:80", 80, true},
	    {"s3.up", "s3.up", 80, true},
	    {"s3.up:7480", "s3.up:7480x", 0, false},
	    {"s3.up:7480", "s3.up:", 0, false},
	    {"s3.up:7480", "s3.upx:7480", 0, false},
	    {"s3.up:7480", "xs3.up:7480", 0, false},
	    {"s3.up:7480", ".s3.up:7480", 0, false},
	    {"[::1]:7480", "[::1]:7480", 0, true},
	    {"[::1]:7480", "[::2]:7480", 0, false},
	    {"[::1]:7480", "b.[::1]:7480", 0, false},
	    {"127.0.0.1:7480", "127.0.0.1:7480", 0, true},
	    {"s3.up:7480", "", 0, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lotad_auth_config c = {.upstream_host = cases[i].up,
		                       .upstream_default_port = cases[i].dport};
		bool m = lotad_auth__host_is_upstream(
		    &c, (lota_str){cases[i].host, strlen(cases[i].host)});
		if (m != cases[i].match)
			fprintf(stderr, "host case %zu: %s vs %s\n", i, cases[i].up, cases[i].host);
		CU_ASSERT_EQUAL(m, cases[i].match);
	}
	lotad_auth_config none = {0};
	CU_ASSERT_FALSE(lotad_auth__host_is_upstream(&none, LOTA_STR_LIT("s3.up")));

	/* redirect names: more names of the upstream (a name without a port matches any
	 * port; a Host without a port matches a name's 80 or 443) */
	const char *redirs[] = {"cwobject.com", "obj.example:8443", "edge.example:80", "bad:x"};
	lotad_auth_config rc = {.upstream_host = "127.0.0.1:7480",
	                        .upstream_default_port = 80,
	                        .redirect_names = redirs,
	                        .num_redirect_names = 4};
	struct {
		const char *host;
		bool match;
	} rcases[] = {
	    {"127.0.0.1:7480", true},
	    {"cwobject.com", true},
	    {"CWOBJECT.COM:443", true},
	    {"cwobject.com:9000", true},
	    {"b.cwobject.com", true},
	    {"b.cwobject.com:80", true},
	    {"xcwobject.com", false},
	    {"cwobject.com.evil", false},
	    {"obj.example:8443", true},
	    {"obj.example", false},
	    {"obj.example:443", false},
	    {"b.obj.example:8443", true},
	    {"edge.example", true},
	    {"edge.example:80", true},
	    {"edge.example:81", false},
	    {"bad", false},
	    {"bad:x", false},
	    {"other.example", false},
	    {"cwobject.com:99999", false},
	    {"", false},
	};
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		bool m = lotad_auth__host_is_upstream(
		    &rc, (lota_str){rcases[i].host, strlen(rcases[i].host)});
		if (m != rcases[i].match)
			fprintf(stderr, "redirect case %zu: %s\n", i, rcases[i].host);
		CU_ASSERT_EQUAL(m, rcases[i].match);
	}
}

/* ------------------------------------------------------------ re-signing */

/* The upstream request lotad makes for a RESIGN result: the client's fields sent[0..n)
 * through lotad_auth_request_add_client, lotad's own own[0..nown) signed, then signed at
 * `now` with payload hash ph. *rc gets the result of lotad_auth_request_sign (or of an
 * add); the request is returned either way (free it). */
static lota_request *upstream_req(const lotad_auth_result *r, const lotad_auth_config *c,
                                  const char *method, lota_str path, lota_str query,
                                  const lota_http_header *sent, size_t n,
                                  const lota_http_header *own, size_t nown, lota_str ph,
                                  int64_t now, char *seed, int *rc)
{
	lota_request *q = lota_request_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL_FATAL(
	    lota_request_reset(q, (lota_str){method, strlen(method)}, path, query), 0);
	*rc = 0;
	for (size_t i = 0; *rc == 0 && i < n; i++)
		*rc = lotad_auth_request_add_client(r, q, sent[i].name, sent[i].value);
	for (size_t i = 0; *rc == 0 && i < nown; i++)
		*rc = lota_request_header_add(q, own[i].name, own[i].value, 0) < 0 ? -1 : 0;
	if (*rc == 0)
		*rc = lotad_auth_request_sign(r, c, q, ph, now, seed);
	return q;
}

/* The value of the first field called name, NUL-terminated ("" when there is none) and
 * how many fields have that name. */
static const char *field(const lota_request *q, const char *name, int *count)
{
	const char *first = NULL;
	int k = 0;
	for (size_t i = 0; i < lota_request_header_count(q); i++) {
		lota_http_header h;
		CU_ASSERT_EQUAL_FATAL(lota_request_header_get(q, i, &h, NULL), 0);
		if (lota_str_eq_nocase(h.name, name, strlen(name))) {
			if (!first)
				first =
				    h.value.ptr; /* views into the request's lines: terminated */
			k++;
		}
	}
	if (count)
		*count = k;
	return first ? first : "";
}

/* The upstream's check of q: every field as it is sent (signed or not), parsed and
 * verified with secret at NOW + 5. */
static void verify_upstream(const lota_request *q, const char *secret, int want)
{
	lota_http_header hs[LOTA_REQUEST_MAX_HEADERS];
	size_t n = lota_request_header_count(q);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(lota_request_header_get(q, i, &hs[i], NULL), 0);
	lota_sigv4_request sr = {
	    lota_request_method(q), lota_request_path(q), lota_request_query(q), hs, n, {0}};
	lota_sigv4_auth a;
	CU_ASSERT_EQUAL_FATAL(lota_sigv4_parse(&sr, &a), 0);
	CU_ASSERT_EQUAL(a.form, LOTA_SIGV4_FORM_HEADER);
	CU_ASSERT(a.region.len == 9 && memcmp(a.region.ptr, "eu-west-9", 9) == 0);
	CU_ASSERT(a.access_key.len > 0);
	CU_ASSERT_EQUAL(
	    lota_sigv4_verify(&sr, &a, (lota_str){secret, strlen(secret)}, NOW + 5, 900, 0), want);
}

/* The curl header list of q, as one string of lines separated by '|'. */
static void curl_lines(const lota_request *q, char *out, size_t cap)
{
	struct curl_slist *l = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_curl_headers(&l, q), 0);
	size_t n = 0;
	out[0] = '\0';
	for (struct curl_slist *it = l; it; it = it->next)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "|" : "", it->data);
	curl_slist_free_all(l);
}

static void test_resign(void)
{
	install_creds();
	lotad_auth_config c = cfg;
	c.region = "eu-west-9";
	treq t;
	make_req(&t, &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_HEADER, .time = NOW});
	lotad_auth_result r;
	CU_ASSERT_EQUAL(lotad_auth_check(&c, &t.r, NOW, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.mode, LOTAD_AUTH_RESIGN);
	lota_http_header extra[] = {
	    {LOTA_STR_LIT("Range"), LOTA_STR_LIT("bytes=0-9")},
	    {LOTA_STR_LIT("Connection"), LOTA_STR_LIT("keep-alive")},              /* not signed */
	    {LOTA_STR_LIT("Authorization"), LOTA_STR_LIT("AWS4-HMAC-SHA256 old")}, /* dropped */
	    {LOTA_STR_LIT("X-Amz-Date"), LOTA_STR_LIT("20000101T000000Z")},        /* dropped */
	};
	lota_str path = LOTA_STR_LIT("/bucket/dir/my%20key");
	lota_str query = LOTA_STR_LIT("versionId=3");
	char sig[65] = "x";
	int rc, k;
	lota_request *q = upstream_req(&r, &c, "GET", path, query, extra, 4, NULL, 0,
	                               r.claim.payload_hash, NOW + 5, sig, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(strlen(sig), 64);
	CU_ASSERT_STRING_EQUAL(field(q, "Host", &k), UP);
	CU_ASSERT_EQUAL(k, 1);
	CU_ASSERT_STRING_EQUAL(field(q, "X-Amz-Content-Sha256", NULL), LOTA_SIGV4_EMPTY_SHA256);
	char date[LOTA_SIGV4_AMZ_DATE_LEN + 1];
	lota_sigv4_format_amz_date(NOW + 5, date);
	CU_ASSERT_STRING_EQUAL(field(q, "X-Amz-Date", &k), date);
	CU_ASSERT_EQUAL(k, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(field(q, "Authorization", &k), sig));
	CU_ASSERT_EQUAL(k, 1); /* the client's is not carried over */
	field(q, "X-Amz-Security-Token", &k);
	CU_ASSERT_EQUAL(k, 0);
	CU_ASSERT_STRING_EQUAL(field(q, "Connection", NULL), "keep-alive"); /* sent, unsigned */
	verify_upstream(q, SK1, 0);
	verify_upstream(q, "not the secret", LOTA_E_SIGV4_MISMATCH);
	/* what curl is given: every field as it is, then no Expect and no Accept of curl's */
	char lines[4096], want[4096];
	curl_lines(q, lines, sizeof(lines));
	snprintf(want, sizeof(want),
	         "Range: bytes=0-9|Connection: keep-alive|Host: " UP "|X-Amz-Date: %s|"
	         "X-Amz-Content-Sha256: " LOTA_SIGV4_EMPTY_SHA256 "|Authorization: %s|Expect:|"
	         "Accept:",
	         date, field(q, "Authorization", NULL));
	CU_ASSERT_STRING_EQUAL(lines, want);
	/* any change to a signed field breaks it; an unsigned one may change */
	CU_ASSERT(lota_request_header_set(q, LOTA_STR_LIT("Connection"), LOTA_STR_LIT("close"),
	                                  LOTA_REQUEST_UNSIGNED) >= 0);
	verify_upstream(q, SK1, 0);
	CU_ASSERT(
	    lota_request_header_set(q, LOTA_STR_LIT("Range"), LOTA_STR_LIT("bytes=0-99"), 0) >= 0);
	verify_upstream(q, SK1, LOTA_E_SIGV4_MISMATCH);
	lota_request_free(q);
	/* more fields than the request holds once the signature's are added: refused, no
	 * Authorization (the proxy then answers an error) */
	lota_http_header *pad = calloc(LOTA_REQUEST_MAX_HEADERS, sizeof(*pad));
	CU_ASSERT_PTR_NOT_NULL_FATAL(pad);
	for (size_t i = 0; i < LOTA_REQUEST_MAX_HEADERS - 2; i++)
		pad[i] = (lota_http_header){LOTA_STR_LIT("X-Pad"), LOTA_STR_LIT("1")};
	q = upstream_req(&r, &c, "GET", path, query, pad, LOTA_REQUEST_MAX_HEADERS - 2, NULL, 0,
	                 r.claim.payload_hash, NOW + 5, sig, &rc);
	CU_ASSERT_EQUAL(rc, LOTA_E_HTTP_TOO_MANY_HEADERS);
	CU_ASSERT_STRING_EQUAL(sig, "");
	field(q, "Authorization", &k);
	CU_ASSERT_EQUAL(k, 0);
	lota_request_free(q);
	free(pad);
	lotad_auth_result_cleanup(&r);
	/* nothing to sign with */
	lotad_auth_result empty = {0};
	q = upstream_req(&empty, &c, "GET", path, query, NULL, 0, NULL, 0, (lota_str){0}, NOW, NULL,
	                 &rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	field(q, "Authorization", &k);
	CU_ASSERT_EQUAL(k, 0);
	lota_request_free(q);

	/* presigned client request with a session token: header form, UNSIGNED-PAYLOAD */
	make_req(
	    &t,
	    &(tsign){
	        .host = OWN, .ak = AKT, .sk = SKT, .token = TOK, .form = SIGN_QUERY, .time = NOW});
	CU_ASSERT_EQUAL(lotad_auth_check(&c, &t.r, NOW, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.mode, LOTAD_AUTH_RESIGN);
	char stripped[4096];
	size_t sl = lotad_auth_strip_presign(t.r.query, stripped, sizeof(stripped));
	CU_ASSERT_STRING_EQUAL(stripped, "versionId=3");
	q = upstream_req(&r, &c, "GET", path, (lota_str){stripped, sl}, extra, 1, NULL, 0,
	                 (lota_str){0}, NOW + 5, NULL, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(field(q, "X-Amz-Content-Sha256", NULL), "UNSIGNED-PAYLOAD");
	CU_ASSERT_STRING_EQUAL(field(q, "X-Amz-Security-Token", NULL), TOK);
	CU_ASSERT_STRING_EQUAL(lota_request_target(q), "/bucket/dir/my%20key?versionId=3");
	verify_upstream(q, SKT, 0);
	lota_request_free(q);
	lotad_auth_result_cleanup(&r);
	lotad_creds_set_current(NULL);
}

/* lotad_curl_headers: every field as curl takes it, Content-Length left to curl, an empty
 * value in curl's "Name;" spelling, a request's own Accept kept. */
static void test_curl_headers(void)
{
	lota_request *q = lota_request_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	char lines[1024];
	curl_lines(q, lines, sizeof(lines));
	CU_ASSERT_STRING_EQUAL(lines, "Expect:|Accept:");
	CU_ASSERT(
	    lota_request_header_add(q, LOTA_STR_LIT("Content-Length"), LOTA_STR_LIT("5"), 0) >= 0);
	CU_ASSERT(lota_request_header_add(q, LOTA_STR_LIT("X-Empty"), LOTA_STR_LIT(""),
	                                  LOTA_REQUEST_UNSIGNED) >= 0);
	CU_ASSERT(lota_request_header_add(q, LOTA_STR_LIT("accept"), LOTA_STR_LIT("*/*"), 0) >= 0);
	CU_ASSERT(lota_request_header_add(q, LOTA_STR_LIT("X-Two"), LOTA_STR_LIT("a"), 0) >= 0);
	CU_ASSERT(lota_request_header_add(q, LOTA_STR_LIT("X-Two"), LOTA_STR_LIT("b c"), 0) >= 0);
	curl_lines(q, lines, sizeof(lines));
	CU_ASSERT_STRING_EQUAL(lines, "X-Empty;|accept: */*|X-Two: a|X-Two: b c|Expect:");
	lota_request_free(q);
}

/* The SignedHeaders list of an Authorization value lotad wrote ("" when absent). */
static void signed_list_of(const char *out, char *list, size_t cap)
{
	list[0] = '\0';
	const char *p = strstr(out, "SignedHeaders=");
	if (!p)
		return;
	p += strlen("SignedHeaders=");
	const char *e = strchr(p, ',');
	size_t n = e ? (size_t)(e - p) : strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(list, p, n);
	list[n] = '\0';
}

/* S3 refuses a request that carries an x-amz-* header its signature does not cover. */
static void test_unsigned_amz_headers(void)
{
	install_creds();
	const char *msg = "There were headers present in the request which were not signed";
	lota_http_header copy[] = {
	    {LOTA_STR_LIT("x-amz-copy-source"), LOTA_STR_LIT("alice-priv/secret.bin")},
	    {LOTA_STR_LIT("X-Amz-Acl"), LOTA_STR_LIT("public-read")},
	};
	int forms[] = {SIGN_HEADER, SIGN_QUERY};
	const char *hosts[] = {OWN, UP};
	for (size_t f = 0; f < 2; f++) {
		for (size_t h = 0; h < 2; h++) {
			/* one unsigned x-amz-* header, or two */
			for (size_t k = 1; k <= 2; k++)
				expect_refused(&(tsign){.host = hosts[h],
				                        .ak = AK1,
				                        .sk = SK1,
				                        .form = forms[f],
				                        .time = NOW,
				                        .added = copy + 2 - k,
				                        .nadded = k},
				               403, "AccessDenied", msg);
			/* the same headers signed are the client's own request */
			lotad_auth_result r = check(&(tsign){.host = hosts[h],
			                                     .ak = AK1,
			                                     .sk = SK1,
			                                     .form = forms[f],
			                                     .time = NOW,
			                                     .extra = copy,
			                                     .nextra = 2});
			CU_ASSERT_EQUAL(r.mode, h == 0 ? LOTAD_AUTH_RESIGN : LOTAD_AUTH_FORWARD);
			lotad_auth_result_cleanup(&r);
		}
	}
	/* the exemptions: x-amzn-* is not x-amz-*; unsigned non-amz headers are fine */
	lota_http_header fine[] = {
	    {LOTA_STR_LIT("X-Amzn-Trace-Id"), LOTA_STR_LIT("Root=1-abc")},
	    {LOTA_STR_LIT("Content-Type"), LOTA_STR_LIT("text/plain")},
	    {LOTA_STR_LIT("X-Amz"), LOTA_STR_LIT("short")},
	};
	lotad_auth_result r = check(&(tsign){.host = OWN,
	                                     .ak = AK1,
	                                     .sk = SK1,
	                                     .form = SIGN_QUERY,
	                                     .time = NOW,
	                                     .added = fine,
	                                     .nadded = 3});
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_RESIGN);
	lotad_auth_result_cleanup(&r);
	/* a wrong signature is still reported as such, before the header rule */
	expect_refused(&(tsign){.host = OWN,
	                        .ak = AK1,
	                        .sk = "wrong",
	                        .form = SIGN_HEADER,
	                        .time = NOW,
	                        .added = copy,
	                        .nadded = 1},
	               403, "SignatureDoesNotMatch", NULL);

	/* the list helper: ';' or %3B separators, case-insensitive, whole names only */
	lota_http_header one[] = {{LOTA_STR_LIT("x-amz-meta-a"), LOTA_STR_LIT("1")}};
	lota_str which = {0};
	CU_ASSERT_FALSE(
	    lotad_auth__unsigned_amz_header(one, 1, LOTA_STR_LIT("host;x-amz-meta-a"), &which));
	CU_ASSERT_FALSE(lotad_auth__unsigned_amz_header(
	    one, 1, LOTA_STR_LIT("host%3bX-Amz-Meta-A%3Bx-amz-date"), &which));
	CU_ASSERT_TRUE(
	    lotad_auth__unsigned_amz_header(one, 1, LOTA_STR_LIT("host;x-amz-meta-ab"), &which));
	CU_ASSERT(which.len == 12 && memcmp(which.ptr, "x-amz-meta-a", 12) == 0);
	CU_ASSERT_TRUE(
	    lotad_auth__unsigned_amz_header(one, 1, LOTA_STR_LIT("host;x-amz-meta-"), NULL));
	CU_ASSERT_TRUE(lotad_auth__unsigned_amz_header(one, 1, LOTA_STR_LIT(""), NULL));
	lota_http_header sha[] = {
	    {LOTA_STR_LIT("X-Amz-Content-Sha256"), LOTA_STR_LIT(LOTA_SIGV4_UNSIGNED_PAYLOAD)}};
	CU_ASSERT_FALSE(lotad_auth__unsigned_amz_header(sha, 1, LOTA_STR_LIT("host"), NULL));
	lotad_creds_set_current(NULL);
}

/* The upstream request signs what the client signed, and nothing else of the client's. */
static void test_resign_signs_only_signed(void)
{
	install_creds();
	lotad_auth_config c = cfg;
	c.region = "eu-west-9";
	lota_http_header meta[] = {{LOTA_STR_LIT("x-amz-meta-color"), LOTA_STR_LIT("blue")},
	                           {LOTA_STR_LIT("Content-Type"), LOTA_STR_LIT("text/plain")}};
	treq t;
	/* presigned with SignedHeaders=host;range: the client vouched for nothing else */
	make_req(&t, &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_QUERY, .time = NOW});
	lotad_auth_result r;
	CU_ASSERT_EQUAL(lotad_auth_check(&c, &t.r, NOW, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.mode, LOTAD_AUTH_RESIGN);
	lota_http_header sent[] = {
	    {LOTA_STR_LIT("Range"), LOTA_STR_LIT("bytes=0-9")},
	    {LOTA_STR_LIT("Content-Type"), LOTA_STR_LIT("text/plain")}, /* not signed */
	    {LOTA_STR_LIT("If-Match"), LOTA_STR_LIT("\"abc\"")},
	    {LOTA_STR_LIT("User-Agent"), LOTA_STR_LIT("x")}, /* never signed */
	};
	char list[512];
	int rc;
	lota_str path = LOTA_STR_LIT("/bucket/dir/my%20key");
	lota_str query = LOTA_STR_LIT("versionId=3");
	lota_request *q = upstream_req(&r, &c, "GET", path, query, sent, 4, NULL, 0, (lota_str){0},
	                               NOW + 5, NULL, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	signed_list_of(field(q, "Authorization", NULL), list, sizeof(list));
	CU_ASSERT_STRING_EQUAL(list, "host;range;x-amz-content-sha256;x-amz-date");
	verify_upstream(q, SK1, 0); /* with the unsigned fields present */
	unsigned flags = 0;
	lota_http_header h;
	CU_ASSERT_EQUAL(
	    lota_request_header_get(
	        q, (size_t)lota_request_header_find(q, LOTA_STR_LIT("Content-Type")), &h, &flags),
	    0);
	CU_ASSERT_EQUAL(flags, LOTA_REQUEST_UNSIGNED);
	lota_request_free(q);
	/* lotad's own headers (a fill's range and pin) are signed */
	lota_http_header own[] = {{LOTA_STR_LIT("Range"), LOTA_STR_LIT("bytes=0-1048575")},
	                          {LOTA_STR_LIT("If-Match"), LOTA_STR_LIT("\"e\"")}};
	q = upstream_req(&r, &c, "GET", path, query, NULL, 0, own, 2, (lota_str){0}, NOW + 5, NULL,
	                 &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	signed_list_of(field(q, "Authorization", NULL), list, sizeof(list));
	CU_ASSERT_STRING_EQUAL(list, "host;if-match;range;x-amz-content-sha256;x-amz-date");
	verify_upstream(q, SK1, 0);
	lota_request_free(q);
	lotad_auth_result_cleanup(&r);

	/* header form that signed range, x-amz-meta-color and content-type: exactly those */
	make_req(&t, &(tsign){.host = OWN,
	                      .ak = AK1,
	                      .sk = SK1,
	                      .form = SIGN_HEADER,
	                      .time = NOW,
	                      .extra = meta,
	                      .nextra = 2});
	CU_ASSERT_EQUAL(lotad_auth_check(&c, &t.r, NOW, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.mode, LOTAD_AUTH_RESIGN);
	lota_http_header sent2[] = {
	    {LOTA_STR_LIT("Range"), LOTA_STR_LIT("bytes=0-9")},
	    meta[0],
	    meta[1],
	    {LOTA_STR_LIT("Accept-Encoding"), LOTA_STR_LIT("identity")}, /* not signed */
	};
	q = upstream_req(&r, &c, "GET", path, query, sent2, 4, NULL, 0, r.claim.payload_hash,
	                 NOW + 5, NULL, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	signed_list_of(field(q, "Authorization", NULL), list, sizeof(list));
	CU_ASSERT_STRING_EQUAL(
	    list, "content-type;host;range;x-amz-content-sha256;x-amz-date;x-amz-meta-color");
	/* and the upstream verifies it with the unsigned header present */
	verify_upstream(q, SK1, 0);
	lota_request_free(q);
	lotad_auth_result_cleanup(&r);
	lotad_creds_set_current(NULL);
}

/* A payload hash the client pinned stays pinned in the upstream request. */
static void test_resign_keeps_payload_pin(void)
{
	install_creds();
	lotad_auth_config c = cfg;
	const char *pin = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
	treq t;
	int rc;
	/* presigned with an X-Amz-Content-Sha256 parameter */
	make_req(&t, &(tsign){.host = OWN,
	                      .ak = AK1,
	                      .sk = SK1,
	                      .form = SIGN_QUERY,
	                      .time = NOW,
	                      .query_sha256 = pin});
	lotad_auth_result r;
	CU_ASSERT_EQUAL(lotad_auth_check(&c, &t.r, NOW, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.mode, LOTAD_AUTH_RESIGN);
	CU_ASSERT(r.claim.payload_hash.len == 64);
	/* a client's own X-Amz-Content-Sha256 field is not what decides */
	lota_http_header other[] = {
	    {LOTA_STR_LIT("X-Amz-Content-Sha256"), LOTA_STR_LIT(LOTA_SIGV4_UNSIGNED_PAYLOAD)}};
	lota_request *q = upstream_req(&r, &c, "PUT", t.r.path, LOTA_STR_LIT("a=1"), other, 1, NULL,
	                               0, r.claim.payload_hash, NOW, NULL, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	int k;
	CU_ASSERT_STRING_EQUAL(field(q, "X-Amz-Content-Sha256", &k), pin);
	CU_ASSERT_EQUAL(k, 1);
	lota_request_free(q);
	lotad_auth_result_cleanup(&r);
	/* presigned without a pin: UNSIGNED-PAYLOAD, as before */
	make_req(&t, &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_QUERY, .time = NOW});
	CU_ASSERT_EQUAL(lotad_auth_check(&c, &t.r, NOW, &r), 0);
	q = upstream_req(&r, &c, "PUT", t.r.path, LOTA_STR_LIT("a=1"), NULL, 0, NULL, 0,
	                 r.claim.payload_hash, NOW, NULL, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(field(q, "X-Amz-Content-Sha256", NULL), "UNSIGNED-PAYLOAD");
	lota_request_free(q);
	lotad_auth_result_cleanup(&r);
	/* header form with a body hash */
	make_req(&t, &(tsign){.host = OWN,
	                      .ak = AK1,
	                      .sk = SK1,
	                      .form = SIGN_HEADER,
	                      .time = NOW,
	                      .payload = pin});
	CU_ASSERT_EQUAL(lotad_auth_check(&c, &t.r, NOW, &r), 0);
	q = upstream_req(&r, &c, "PUT", t.r.path, LOTA_STR_LIT("a=1"), NULL, 0, NULL, 0,
	                 r.claim.payload_hash, NOW, NULL, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(field(q, "X-Amz-Content-Sha256", NULL), pin);
	lota_request_free(q);
	lotad_auth_result_cleanup(&r);
	lotad_creds_set_current(NULL);
}

/* More headers than lotad can verify: relayed for the upstream's verdict, not an
 * internal error. */
static void test_too_many_headers(void)
{
	install_creds();
	treq t;
	make_req(&t, &(tsign){.host = OWN, .ak = AK1, .sk = SK1, .form = SIGN_HEADER, .time = NOW});
	lota_http_header *many = calloc(LOTA_SIGV4_MAX_HEADERS + 2, sizeof(*many));
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	size_t n = 0;
	for (size_t i = 0; i < t.r.num_headers; i++)
		many[n++] = t.r.headers[i];
	while (n < LOTA_SIGV4_MAX_HEADERS + 1)
		many[n++] = (lota_http_header){LOTA_STR_LIT("X-Pad"), LOTA_STR_LIT("1")};
	t.r.headers = many;
	t.r.num_headers = n;
	lotad_auth_result r;
	CU_ASSERT_EQUAL(lotad_auth_check(&cfg, &t.r, NOW, &r), 0);
	CU_ASSERT_EQUAL(r.mode, LOTAD_AUTH_RELAY);
	CU_ASSERT_PTR_NULL(r.creds);
	lotad_auth_result_cleanup(&r);
	free(many);
	lotad_creds_set_current(NULL);
}

static void test_strip_presign(void)
{
	char out[256];
	struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},
	    {"a=1", "a=1"},
	    {"X-Amz-Signature=abc", ""},
	    {"uploadId=7&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F2&"
	     "X-Amz-Date=20231114T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&"
	     "x-amz-security-token=t&partNumber=2&X-Amz-Signature=ff",
	     "uploadId=7&partNumber=2"},
	    {"acl", "acl"},
	    {"X-Amz-Date&tagging", "tagging"},
	    {"a=1&&b=2&", "a=1&b=2"},
	    {"X-Amz-Meta=1&X-Amz-Signaturex=2", "X-Amz-Meta=1&X-Amz-Signaturex=2"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = lotad_auth_strip_presign((lota_str){cases[i].in, strlen(cases[i].in)},
		                                    out, sizeof(out));
		CU_ASSERT_STRING_EQUAL(out, cases[i].out);
		CU_ASSERT_EQUAL(n, strlen(cases[i].out));
	}
	/* truncation: the full length is returned, the output stays terminated */
	size_t n = lotad_auth_strip_presign(LOTA_STR_LIT("abcdef=1&X-Amz-Date=2&g=3"), out, 5);
	CU_ASSERT_EQUAL(n, strlen("abcdef=1&g=3"));
	CU_ASSERT_STRING_EQUAL(out, "abcd");
}

/* ------------------------------------------------------------ aws-chunked */

/* Build an aws-chunked body of the given chunk sizes (then the final 0 chunk), signed
 * with a chain from seed. Returns its length. */
static size_t make_chunked(const uint8_t key[32], const char *amz_date, const char *scope,
                           const char *seed, const size_t *sizes, size_t nsizes, char *out,
                           size_t cap, char *payload_out)
{
	char prev[65];
	memcpy(prev, seed, 65);
	size_t len = 0, pl = 0;
	for (size_t i = 0; i <= nsizes; i++) {
		size_t sz = i < nsizes ? sizes[i] : 0;
		char data[70000];
		for (size_t k = 0; k < sz; k++)
			data[k] = (char)('a' + (pl + k) % 26);
		memcpy(payload_out + pl, data, sz);
		pl += sz;
		uint8_t h[32];
		CU_ASSERT_EQUAL_FATAL(lota__sha256(data, sz, h), 0);
		char sig[65];
		CU_ASSERT_EQUAL_FATAL(lota_sigv4_chunk_signature(key, (lota_str){amz_date, 16},
		                                                 (lota_str){scope, strlen(scope)},
		                                                 (lota_str){prev, 64}, h, sig),
		                      0);
		len +=
		    (size_t)snprintf(out + len, cap - len, "%zx;chunk-signature=%s\r\n", sz, sig);
		memcpy(out + len, data, sz);
		len += sz;
		memcpy(out + len, "\r\n", 2);
		len += 2;
		memcpy(prev, sig, 65);
	}
	return len;
}

/* Verify an aws-chunked body against a chain from seed; returns the number of chunks
 * verified (including the final one) or -1 at the first bad one. */
static int verify_chunked(const uint8_t key[32], const char *amz_date, const char *scope,
                          const char *seed, const char *body, size_t len)
{
	char prev[65];
	memcpy(prev, seed, 65);
	size_t p = 0;
	int n = 0;
	while (p < len) {
		char *end;
		unsigned long sz = strtoul(body + p, &end, 16);
		if (strncmp(end, ";chunk-signature=", 17) != 0)
			return -1;
		const char *sig = end + 17;
		const char *data = sig + 66;
		uint8_t h[32];
		char want[65];
		if (lota__sha256(data, sz, h) ||
		    lota_sigv4_chunk_signature(key, (lota_str){amz_date, 16},
		                               (lota_str){scope, strlen(scope)},
		                               (lota_str){prev, 64}, h, want) ||
		    memcmp(want, sig, 64) != 0)
			return -1;
		memcpy(prev, want, 65);
		n++;
		p = (size_t)(data - body) + sz + 2;
		if (sz == 0)
			break;
	}
	return p == len ? n : -1;
}

static char cbody[300000], cpay[300000], cout[300000];

static void test_chunk_resigner(void)
{
	install_creds();
	lotad_auth_config c = cfg;
	c.region = "eu-west-9";
	treq t;
	make_req(&t, &(tsign){.host = OWN,
	                      .ak = AK1,
	                      .sk = SK1,
	                      .form = SIGN_HEADER,
	                      .time = NOW,
	                      .payload = LOTA_SIGV4_STREAMING_PAYLOAD});
	lotad_auth_result r;
	CU_ASSERT_EQUAL(lotad_auth_check(&c, &t.r, NOW, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.mode, LOTAD_AUTH_RESIGN);
	char seed[65];
	int hl;
	lota_request *q = upstream_req(&r, &c, "PUT", t.r.path, t.r.query, NULL, 0, NULL, 0,
	                               r.claim.payload_hash, NOW + 7, seed, &hl);
	CU_ASSERT_EQUAL_FATAL(hl, 0);
	CU_ASSERT_STRING_EQUAL(field(q, "X-Amz-Content-Sha256", NULL),
	                       LOTA_SIGV4_STREAMING_PAYLOAD);
	lota_request_free(q);

	/* the client's chain */
	uint8_t ckey[32], ukey[32];
	char cdate[17], udate[17];
	lota_sigv4_format_amz_date(NOW, cdate);
	lota_sigv4_format_amz_date(NOW + 7, udate);
	char cscope[64], uscope[64];
	snprintf(cscope, sizeof(cscope), "%.8s/us-east-1/s3/aws4_request", cdate);
	snprintf(uscope, sizeof(uscope), "%.8s/eu-west-9/s3/aws4_request", udate);
	CU_ASSERT_EQUAL_FATAL(lota_sigv4_signing_key(LOTA_STR_LIT(SK1), (lota_str){cdate, 8},
	                                             LOTA_STR_LIT("us-east-1"), LOTA_STR_LIT("s3"),
	                                             ckey),
	                      0);
	CU_ASSERT_EQUAL_FATAL(lota_sigv4_signing_key(LOTA_STR_LIT(SK1), (lota_str){udate, 8},
	                                             LOTA_STR_LIT("eu-west-9"), LOTA_STR_LIT("s3"),
	                                             ukey),
	                      0);
	char cseed[65];
	memcpy(cseed, r.claim.signature.ptr, 64);
	cseed[64] = '\0';
	const size_t sizes[] = {65536, 65536, 1000, 1};
	size_t blen =
	    make_chunked(ckey, cdate, cscope, cseed, sizes, 4, cbody, sizeof(cbody), cpay);
	CU_ASSERT_EQUAL(verify_chunked(ckey, cdate, cscope, cseed, cbody, blen), 5);

	/* any split of the input and any output room give the same result */
	const size_t in_steps[] = {1, 7, 100, 4096, sizeof(cbody)};
	const size_t out_caps[] = {1, 13, 70000, sizeof(cout)};
	for (size_t a = 0; a < 5; a++) {
		for (size_t b = 0; b < 4; b++) {
			if (in_steps[a] == 1 && out_caps[b] == 1)
				continue; /* slow and adds nothing over (1, 13) */
			lota_chunk_resigner *rs =
			    lotad_auth_chunk_resigner(&r, &c, NOW + 7, seed, 0);
			CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
			size_t ip = 0, op = 0;
			int rc = 0;
			for (int guard = 0; guard < 10000000 && rc == 0; guard++) {
				size_t step = blen - ip < in_steps[a] ? blen - ip : in_steps[a];
				size_t room = sizeof(cout) - op < out_caps[b] ? sizeof(cout) - op
				                                              : out_caps[b];
				size_t used, made;
				rc = lota_chunk_resigner_feed(rs, cbody + ip, step, &used,
				                              cout + op, room, &made);
				ip += used;
				op += made;
				CU_ASSERT_FATAL(rc >= 0);
			}
			CU_ASSERT_EQUAL(rc, 1);
			CU_ASSERT_EQUAL(ip, blen);
			CU_ASSERT_EQUAL(op, blen); /* same length: Content-Length holds */
			CU_ASSERT_EQUAL(verify_chunked(ukey, udate, uscope, seed, cout, op), 5);
			CU_ASSERT_EQUAL(verify_chunked(ckey, cdate, cscope, cseed, cout, op), -1);
			lota_chunk_resigner_free(rs);
		}
	}

	/* bytes after the final chunk are left alone */
	memcpy(cbody + blen, "GET / HTTP/1.1\r\n", 16);
	lota_chunk_resigner *rs = lotad_auth_chunk_resigner(&r, &c, NOW + 7, seed, 0);
	size_t used, made;
	CU_ASSERT_EQUAL(
	    lota_chunk_resigner_feed(rs, cbody, blen + 16, &used, cout, sizeof(cout), &made), 1);
	CU_ASSERT_EQUAL(used, blen);
	lota_chunk_resigner_free(rs);

	/* a tampered byte, a wrong signature, a wrong chain */
	cbody[200] ^= 1;
	rs = lotad_auth_chunk_resigner(&r, &c, NOW + 7, seed, 0);
	CU_ASSERT_EQUAL(lota_chunk_resigner_feed(rs, cbody, blen, &used, cout, sizeof(cout), &made),
	                LOTA_E_SIGV4_MISMATCH);
	CU_ASSERT_EQUAL(made, 0); /* nothing of the bad chunk went out */
	CU_ASSERT_EQUAL(lota_chunk_resigner_feed(rs, "x", 1, &used, cout, sizeof(cout), &made),
	                LOTA_E_HTTP_CHUNK); /* dead after an error */
	lota_chunk_resigner_free(rs);
	cbody[200] ^= 1;
	/* the client's chain from the wrong seed */
	lota_chunk_chain_params cs = LOTA_OPTS(
	    lota_chunk_chain_params, .secret_key = LOTA_STR_LIT(SK1), .amz_date = {cdate, 16},
	    .region = LOTA_STR_LIT("us-east-1"), .seed_signature = {seed, 64});
	lota_chunk_chain_params us = LOTA_OPTS(
	    lota_chunk_chain_params, .secret_key = LOTA_STR_LIT(SK1), .amz_date = {udate, 16},
	    .region = LOTA_STR_LIT("eu-west-9"), .seed_signature = {seed, 64});
	rs = NULL;
	CU_ASSERT_EQUAL_FATAL(lota_chunk_resigner_new(&cs, &us, 0, &rs), 0);
	CU_ASSERT_EQUAL(lota_chunk_resigner_feed(rs, cbody, blen, &used, cout, sizeof(cout), &made),
	                LOTA_E_SIGV4_MISMATCH);
	lota_chunk_resigner_free(rs);
	/* a chunk over the cap */
	rs = lotad_auth_chunk_resigner(&r, &c, NOW + 7, seed, 4096);
	CU_ASSERT_EQUAL(lota_chunk_resigner_feed(rs, cbody, blen, &used, cout, sizeof(cout), &made),
	                LOTA_E_TOO_LARGE);
	lota_chunk_resigner_free(rs);
	/* framing errors */
	const char *bad[] = {
	    "zz;chunk-signature=00\r\n",
	    ("1;chunk-signature=0000000000000000000000000000000000000000000000000000000000000000"
	     "\r\nxAB"),
	    "1;chunk-sig=0000000000000000000000000000000000000000000000000000000000000000\r\n",
	    "1;chunk-signature=0000\n",
	};
	const int bad_rc[] = {LOTA_E_HTTP_CHUNK_SIZE, LOTA_E_HTTP_CHUNK, LOTA_E_SIGV4_MALFORMED,
	                      LOTA_E_HTTP_BARE_CR};
	for (size_t i = 0; i < 4; i++) {
		rs = lotad_auth_chunk_resigner(&r, &c, NOW + 7, seed, 0);
		CU_ASSERT_EQUAL(lota_chunk_resigner_feed(rs, bad[i], strlen(bad[i]), &used, cout,
		                                         sizeof(cout), &made),
		                bad_rc[i]);
		lota_chunk_resigner_free(rs);
	}
	/* bad arguments */
	CU_ASSERT_PTR_NULL(lotad_auth_chunk_resigner(&r, &c, NOW, "short", 0));
	CU_ASSERT_PTR_NULL(lotad_auth_chunk_resigner(NULL, &c, NOW, seed, 0));
	lota_chunk_resigner_free(NULL);
	lotad_auth_result_cleanup(&r);
	lotad_creds_set_current(NULL);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"credentials parse", test_creds_parse_ok},
	    {"credentials parse errors", test_creds_parse_errors},
	    {"credentials load", test_creds_load},
	    {"credentials refcount and swap", test_creds_swap},
	    {"decision table", test_decision_table},
	    {"S3 error mapping", test_error_mapping},
	    {"upstream host match", test_host_match},
	    {"resign for the upstream", test_resign},
	    {"upstream request to curl's header list", test_curl_headers},
	    {"unsigned x-amz-* headers refused", test_unsigned_amz_headers},
	    {"resign signs only what the client signed", test_resign_signs_only_signed},
	    {"resign keeps the payload pin", test_resign_keeps_payload_pin},
	    {"too many headers to verify: relayed", test_too_many_headers},
	    {"strip presign parameters", test_strip_presign},
	    {"aws-chunked re-signing", test_chunk_resigner},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_auth", tests);
}
