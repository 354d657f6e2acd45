/*
 * test_awsconf.c - the AWS shared credentials / config files and environment
 * (lota/awsconf.h): every section of a credentials file in lotad's strict mode (each of
 * lotad's error messages, word for word) and in the AWS mode, the file form (mode
 * warning, missing and odd files, size cap), and profile resolution with the AWS CLI's
 * precedence for keys, region and endpoint, from an explicit environment (an envp array
 * or a getenv callback), in-memory texts and real files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lota/awsconf.h>
#include <lota/log.h>

#include "unit.h"

#define AK1 "AKIDLOTATEST1"
#define SK1 "secret/one+KEY0123456789abcdefghijklmn"
#define AKT "ASIATEMPKEY"
#define SKT "tempsecret"
#define TOK "FQoGZXIvYXdzEPT//////////wEaDToken="

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

/* Collects the entries a walk reports. */
struct seen {
	int n;
	char text[16][256];
	int stop_at; /* return stop_rc at this entry (1-based), 0: never */
	int stop_rc;
};

static int record(void *ud, const lota_aws_credentials_entry *e)
{
	struct seen *s = ud;
	if (s->n < 16)
		snprintf(s->text[s->n], sizeof(s->text[0]), "%.*s|%.*s|%.*s|%.*s|%zu",
		         (int)e->section.len, e->section.ptr, (int)e->access_key_id.len,
		         e->access_key_id.ptr ? e->access_key_id.ptr : "",
		         (int)e->secret_access_key.len,
		         e->secret_access_key.ptr ? e->secret_access_key.ptr : "",
		         (int)e->session_token.len,
		         e->session_token.ptr ? e->session_token.ptr : "", e->line);
	s->n++;
	return s->stop_at == s->n ? s->stop_rc : 0;
}

static int walk(const char *text, unsigned flags, struct seen *s, char *err, size_t cap)
{
	memset(s, 0, sizeof(*s));
	return lota_aws_credentials_foreach(text, strlen(text), "t", flags, record, s, err, cap);
}

/* ------------------------------------------------------------ foreach */

static void test_foreach_strict_ok(void)
{
	struct seen s;
	char err[LOTA_AWSCONF_ERR_LEN] = "x";
	CU_ASSERT_EQUAL_FATAL(walk(creds_text, LOTA_AWSCONF_STRICT, &s, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	CU_ASSERT_STRING_EQUAL(s.text[0], "default|" AK1 "|" SK1 "||2");
	CU_ASSERT_STRING_EQUAL(s.text[1], "temp|" AKT "|" SKT "|" TOK "|8");
	/* empty input, comments only, BOM, no final newline */
	CU_ASSERT_EQUAL(walk("", LOTA_AWSCONF_STRICT, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL(walk("# nothing\n;\n   \n", LOTA_AWSCONF_STRICT, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL(walk("\xef\xbb\xbf[a]\naws_access_key_id=A\naws_secret_access_key=B",
	                     LOTA_AWSCONF_STRICT, &s, err, sizeof(err)),
	                0);
	CU_ASSERT_STRING_EQUAL(s.text[0], "a|A|B||1");
	/* aws_security_token is the older name of aws_session_token */
	CU_ASSERT_EQUAL(walk("[a]\naws_access_key_id=A\naws_secret_access_key=B\n"
	                     "aws_security_token=T\n",
	                     LOTA_AWSCONF_STRICT, &s, err, sizeof(err)),
	                0);
	CU_ASSERT_STRING_EQUAL(s.text[0], "a|A|B|T|1");
	/* NULL buffer of length 0 is an empty file */
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach(NULL, 0, "t", LOTA_AWSCONF_STRICT, record, &s,
	                                             err, sizeof(err)),
	                0);
	/* many sections, reported in file order */
	size_t cap = 2000 * 80, n = 0;
	char *big = malloc(cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	for (int i = 1999; i >= 0; i--)
		n += (size_t)snprintf(big + n, cap - n,
		                      "[s%d]\naws_access_key_id=K%04d\naws_secret_access_key=S%d\n",
		                      i, i, i);
	CU_ASSERT_EQUAL(walk(big, LOTA_AWSCONF_STRICT, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(s.n, 2000);
	CU_ASSERT_STRING_EQUAL(s.text[0], "s1999|K1999|S1999||1");
	CU_ASSERT_STRING_EQUAL(s.text[1], "s1998|K1998|S1998||4");
	free(big);
}

/* Each of lotad's messages (daemon/auth.c, tests/unit/test_daemon_auth.c), word for word. */
static void test_foreach_strict_errors(void)
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
	    /* a session token and its older name are one key */
	    {"[a]\naws_session_token=T\naws_security_token=U\n",
	     "t:3: duplicate aws_security_token in section [a] (first at line 2)"},
	    /* strict mode has no nested blocks: an indented key is a key of the section */
	    {"[a]\ns3 =\n  aws_access_key_id = A\n  aws_access_key_id = B\n",
	     "t:4: duplicate aws_access_key_id in section [a] (first at line 3)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[LOTA_AWSCONF_ERR_LEN] = "unset";
		struct seen s;
		int rc = walk(cases[i].in, LOTA_AWSCONF_STRICT, &s, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, LOTA_E_CONFIG_VALUE);
		CU_ASSERT_EQUAL(s.n, 0); /* an invalid file reports nothing */
		if (strcmp(err, cases[i].msg) != 0)
			fprintf(stderr, "case %zu: got '%s' want '%s'\n", i, err, cases[i].msg);
		CU_ASSERT_STRING_EQUAL(err, cases[i].msg);
	}
	/* over-long values, with the cap in the message */
	char buf[400], err[LOTA_AWSCONF_ERR_LEN];
	struct seen s;
	int n = snprintf(buf, sizeof(buf), "[a]\naws_access_key_id=");
	memset(buf + n, 'A', 129);
	buf[n + 129] = '\0';
	CU_ASSERT_EQUAL(walk(buf, LOTA_AWSCONF_STRICT, &s, err, sizeof(err)), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "t:2: aws_access_key_id longer than 128 bytes");
	buf[n + 128] = '\0'; /* exactly at the cap is fine */
	strcat(buf, "\naws_secret_access_key=s\n");
	CU_ASSERT_EQUAL(walk(buf, LOTA_AWSCONF_STRICT, &s, err, sizeof(err)), 0);
	/* a tiny error buffer is still terminated; NULL is fine */
	char small[8];
	CU_ASSERT_EQUAL(walk("[a\n", LOTA_AWSCONF_STRICT, &s, small, sizeof(small)),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_EQUAL(strlen(small), 7);
	CU_ASSERT_EQUAL(walk("[a\n", LOTA_AWSCONF_STRICT, &s, NULL, 0), LOTA_E_CONFIG_VALUE);
	/* a NUL inside the buffer is a control byte, not an end */
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach("[a]\n\0", 5, "t", LOTA_AWSCONF_STRICT, record,
	                                             &s, err, sizeof(err)),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "t:2: control byte 0x00");
	/* a name is optional */
	CU_ASSERT_EQUAL(
	    lota_aws_credentials_foreach("[a\n", 3, NULL, 0, record, &s, err, sizeof(err)),
	    LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "credentials:1: section header without a closing ']'");
	/* bad arguments */
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach("", 0, "t", 0, NULL, NULL, err, sizeof(err)),
	                -EINVAL);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach(NULL, 3, "t", 0, record, &s, err, sizeof(err)),
	                -EINVAL);
}

static void test_foreach_limits(void)
{
	char err[LOTA_AWSCONF_ERR_LEN];
	struct seen s;
	/* a line above LOTA_AWSCONF_LINE_MAX, even of a key lota ignores */
	size_t n = LOTA_AWSCONF_LINE_MAX + 16;
	char *line = malloc(n + 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	memcpy(line, "[a]\nx=", 6);
	memset(line + 6, 'v', LOTA_AWSCONF_LINE_MAX - 2);
	line[6 + LOTA_AWSCONF_LINE_MAX - 2] = '\0'; /* exactly the cap */
	CU_ASSERT_EQUAL(walk(line, 0, &s, err, sizeof(err)), 0);
	strcat(line, "v\n");
	CU_ASSERT_EQUAL(walk(line, 0, &s, err, sizeof(err)), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "t:2: line longer than 65536 bytes");
	free(line);
	/* a file above LOTA_AWSCONF_FILE_MAX */
	char *big = calloc(1, LOTA_AWSCONF_FILE_MAX + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, '\n', LOTA_AWSCONF_FILE_MAX + 1);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach(big, LOTA_AWSCONF_FILE_MAX + 1, "t", 0, record,
	                                             &s, err, sizeof(err)),
	                LOTA_E_TOO_LARGE);
	CU_ASSERT_STRING_EQUAL(err, "t: larger than 16777216 bytes");
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach(big, LOTA_AWSCONF_FILE_MAX, "t", 0, record, &s,
	                                             err, sizeof(err)),
	                0);
	free(big);
	/* more sections than LOTA_AWSCONF_SECTIONS_MAX */
	size_t cap = (LOTA_AWSCONF_SECTIONS_MAX + 1) * 16, len = 0;
	char *many = malloc(cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	for (unsigned i = 0; i <= LOTA_AWSCONF_SECTIONS_MAX; i++)
		len += (size_t)snprintf(many + len, cap - len, "[%u]\n", i);
	CU_ASSERT_EQUAL(
	    lota_aws_credentials_foreach(many, len, "t", 0, record, &s, err, sizeof(err)),
	    LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "t:100001: more than 100000 sections");
	CU_ASSERT_EQUAL(s.n, 0);
	free(many);
}

static void test_foreach_aws_mode(void)
{
	char err[LOTA_AWSCONF_ERR_LEN];
	struct seen s;
	/* sections may lack keys; an empty value is none; other keys and blocks are ignored */
	CU_ASSERT_EQUAL(walk("[a]\nregion = x\n[b]\naws_access_key_id =\naws_secret_access_key=S\n"
	                     "s3 =\n  aws_access_key_id = nested\n[c d]\naws_access_key_id=A B\n",
	                     0, &s, err, sizeof(err)),
	                0);
	CU_ASSERT_EQUAL_FATAL(s.n, 3);
	CU_ASSERT_STRING_EQUAL(s.text[0], "a||||1");
	CU_ASSERT_STRING_EQUAL(s.text[1], "b||S||3");
	CU_ASSERT_STRING_EQUAL(s.text[2], "c d|A B|||8");
	/* two sections may share an access key id; a section name may not repeat */
	CU_ASSERT_EQUAL(
	    walk("[a]\naws_access_key_id=A\n[b]\naws_access_key_id=A\n", 0, &s, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(walk("[a]\n[b]\n[a]\n", 0, &s, err, sizeof(err)), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "t:3: duplicate section [a] (first at line 1)");
	/* duplicates of a key lota reads are errors in every mode, even an empty one */
	CU_ASSERT_EQUAL(
	    walk("[a]\naws_session_token=\naws_session_token=T\n", 0, &s, err, sizeof(err)),
	    LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err,
	                       "t:3: duplicate aws_session_token in section [a] (first at line 2)");
	/* length caps stay */
	char tok[LOTA_AWSCONF_TOKEN_MAX + 40];
	int n = snprintf(tok, sizeof(tok), "[a]\naws_session_token=");
	memset(tok + n, 't', LOTA_AWSCONF_TOKEN_MAX + 1);
	tok[n + LOTA_AWSCONF_TOKEN_MAX + 1] = '\0';
	CU_ASSERT_EQUAL(walk(tok, 0, &s, err, sizeof(err)), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "t:2: aws_session_token longer than 8192 bytes");
	/* a nested block takes only "key = value" lines */
	CU_ASSERT_EQUAL(walk("[a]\ns3 =\n  junk\n", 0, &s, err, sizeof(err)), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "t:3: expected 'key = value' in the block of s3");
	/* an indented line after a non-empty value is a plain line, not a continuation */
	CU_ASSERT_EQUAL(walk("[a]\nregion = x\n  more\n", 0, &s, err, sizeof(err)),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "t:3: expected '[section]' or 'key = value'");
}

static void test_foreach_reject_unknown_and_stop(void)
{
	char err[LOTA_AWSCONF_ERR_LEN];
	struct seen s;
	unsigned f = LOTA_AWSCONF_STRICT | LOTA_AWSCONF_REJECT_UNKNOWN;
	CU_ASSERT_EQUAL(walk(creds_text, f, &s, err, sizeof(err)), LOTA_E_CONFIG_UNKNOWN_KEY);
	CU_ASSERT_STRING_EQUAL(err, "t:5: unknown key region in section [default]");
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL(walk("[a]\naws_access_key_id=A\naws_secret_access_key=B\n"
	                     "AWS_SESSION_TOKEN=T\n",
	                     f, &s, err, sizeof(err)),
	                0);
	/* without STRICT it still rejects unknown keys */
	CU_ASSERT_EQUAL(
	    walk("[a]\noutput = json\n", LOTA_AWSCONF_REJECT_UNKNOWN, &s, err, sizeof(err)),
	    LOTA_E_CONFIG_UNKNOWN_KEY);
	CU_ASSERT_STRING_EQUAL(err, "t:2: unknown key output in section [a]");
	/* the callback stops the walk with its code */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	s.stop_rc = -ENOMEM;
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach(creds_text, strlen(creds_text), "t",
	                                             LOTA_AWSCONF_STRICT, record, &s, err,
	                                             sizeof(err)),
	                -ENOMEM);
	CU_ASSERT_EQUAL(s.n, 1);
	char want[LOTA_AWSCONF_ERR_LEN];
	snprintf(want, sizeof(want), "t:2: %s", lota_strerror(-ENOMEM));
	CU_ASSERT_STRING_EQUAL(err, want);
}

static char log_buf[4096];
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

static char tmpdir[64];

static const char *tmp_file(const char *name, const char *text, mode_t mode)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	CU_ASSERT_EQUAL(fchmod(fd, mode), 0);
	close(fd);
	return p;
}

static void test_foreach_file(void)
{
	char err[LOTA_AWSCONF_ERR_LEN], want[LOTA_AWSCONF_ERR_LEN];
	struct seen s;
	memset(&s, 0, sizeof(s));
	const char *path = tmp_file("credentials", creds_text, 0600);
	log_buf[0] = '\0';
	lota_log_set_sink(capture, NULL);
	CU_ASSERT_EQUAL(
	    lota_aws_credentials_foreach_file(path, LOTA_AWSCONF_STRICT | LOTA_AWSCONF_WARN_MODE,
	                                      record, &s, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(s.n, 2);
	CU_ASSERT_EQUAL(log_buf[0], '\0'); /* mode 600: no warning */
	/* readable by others: a warning naming the file, only when asked for */
	CU_ASSERT_EQUAL(chmod(path, 0644), 0);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach_file(path, LOTA_AWSCONF_STRICT, record, &s,
	                                                  err, sizeof(err)),
	                0);
	CU_ASSERT_EQUAL(log_buf[0], '\0');
	CU_ASSERT_EQUAL(
	    lota_aws_credentials_foreach_file(path, LOTA_AWSCONF_STRICT | LOTA_AWSCONF_WARN_MODE,
	                                      record, &s, err, sizeof(err)),
	    0);
	CU_ASSERT_PTR_NOT_NULL(strstr(log_buf, "accessible by group or others"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log_buf, path));
	CU_ASSERT_PTR_NULL(strstr(log_buf, SK1));
	lota_log_set_sink(NULL, NULL);
	/* messages name the file */
	path = tmp_file("bad", "[x]\naws_access_key_id=A\n", 0600);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach_file(path, LOTA_AWSCONF_STRICT, record, &s,
	                                                  err, sizeof(err)),
	                LOTA_E_CONFIG_VALUE);
	snprintf(want, sizeof(want), "%s:1: section [x] has no aws_secret_access_key", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	/* missing, not a regular file, too large, no path */
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/none", tmpdir);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach_file(missing, 0, record, &s, err, sizeof(err)),
	                -ENOENT);
	snprintf(want, sizeof(want), "%s: %s", missing, strerror(ENOENT));
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach_file("/", 0, record, &s, err, sizeof(err)),
	                -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "/: not a regular file");
	/* a FIFO does not block the reader */
	char fifo[300];
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach_file(fifo, 0, record, &s, err, sizeof(err)),
	                -EINVAL);
	path = tmp_file("huge", "", 0600);
	CU_ASSERT_EQUAL(truncate(path, LOTA_AWSCONF_FILE_MAX + 1), 0);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach_file(path, 0, record, &s, err, sizeof(err)),
	                LOTA_E_TOO_LARGE);
	snprintf(want, sizeof(want), "%s: larger than 16777216 bytes", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach_file("", 0, record, &s, err, sizeof(err)),
	                -EINVAL);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach_file(NULL, 0, record, &s, err, sizeof(err)),
	                -EINVAL);
	CU_ASSERT_EQUAL(lota_aws_credentials_foreach_file(missing, 0, NULL, NULL, err, sizeof(err)),
	                -EINVAL);
}

/* ------------------------------------------------------------ resolve */

/* Resolve with envp and in-memory files; NULL text = no such file. */
static int resolve(const char *const *envp, const char *profile, const char *creds,
                   const char *config, lota_aws_profile **p, char *err)
{
	lota_aws_resolve_opts o =
	    LOTA_OPTS(lota_aws_resolve_opts, .envp = envp, .profile = profile);
	/* the texts stand for these (missing) files, which name them in messages */
	o.credentials_path = "/nonexistent/lota-test/credentials";
	o.config_path = "/nonexistent/lota-test/config";
	if (creds)
		o.credentials_text = (lota_str){creds, strlen(creds)};
	if (config)
		o.config_text = (lota_str){config, strlen(config)};
	return lota_aws_profile_resolve(&o, p, err, LOTA_AWSCONF_ERR_LEN);
}

#define GET(p, f) lota_aws_profile_get(p, LOTA_AWS_FIELD_##f)
#define SRC(p, f) lota_aws_profile_source(p, LOTA_AWS_FIELD_##f)
#define ORG(p, f) lota_aws_profile_origin(p, LOTA_AWS_FIELD_##f)

static bool is(const char *got, const char *want)
{
	if (!got || !want)
		return got == want;
	return strcmp(got, want) == 0;
}

static const char files_creds[] = "[default]\n"
                                  "aws_access_key_id = CREDAK\n"
                                  "aws_secret_access_key = CREDSK\n"
                                  "aws_session_token = CREDTOK\n"
                                  "[dev]\n"
                                  "aws_access_key_id = DEVAK\n"
                                  "aws_secret_access_key = DEVSK\n"
                                  "region = cred-region\n";
static const char files_config[] = "[default]\n"
                                   "region = conf-region\n"
                                   "endpoint_url = http://conf-global\n"
                                   "[profile dev]\n"
                                   "aws_access_key_id = CONFAK\n"
                                   "aws_secret_access_key = CONFSK\n"
                                   "region = dev-conf-region\n"
                                   "services = local\n"
                                   "endpoint_url = http://dev-global\n"
                                   "[profile cfgonly]\n"
                                   "aws_access_key_id = CFGAK\n"
                                   "aws_secret_access_key = CFGSK\n"
                                   "aws_session_token = CFGTOK\n"
                                   "s3 =\n"
                                   "  endpoint_url = http://cfgonly-s3\n"
                                   "  addressing_style = path\n"
                                   "endpoint_url = http://cfgonly-global\n"
                                   "[services local]\n"
                                   "s3 =\n"
                                   "  endpoint_url = http://local-s3\n"
                                   "sts =\n"
                                   "  endpoint_url = http://local-sts\n";

static void test_resolve_files(void)
{
	static const char *const noenv[] = {NULL};
	char err[LOTA_AWSCONF_ERR_LEN];
	lota_aws_profile *p = NULL;
	/* default: keys (and the token with them) from the credentials file, region and
	 * endpoint from the config file */
	CU_ASSERT_EQUAL_FATAL(resolve(noenv, NULL, files_creds, files_config, &p, err), 0);
	CU_ASSERT(is(GET(p, PROFILE), "default") && SRC(p, PROFILE) == LOTA_AWS_SOURCE_DEFAULT);
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "CREDAK"));
	CU_ASSERT(is(GET(p, SECRET_ACCESS_KEY), "CREDSK"));
	CU_ASSERT(is(GET(p, SESSION_TOKEN), "CREDTOK"));
	CU_ASSERT_EQUAL(SRC(p, ACCESS_KEY_ID), LOTA_AWS_SOURCE_CREDENTIALS_FILE);
	CU_ASSERT(is(ORG(p, ACCESS_KEY_ID), "/nonexistent/lota-test/credentials:2"));
	CU_ASSERT(is(GET(p, REGION), "conf-region"));
	CU_ASSERT(is(ORG(p, REGION), "/nonexistent/lota-test/config:2"));
	CU_ASSERT(is(GET(p, ENDPOINT_URL), "http://conf-global"));
	CU_ASSERT_EQUAL(SRC(p, ENDPOINT_URL), LOTA_AWS_SOURCE_CONFIG_FILE);
	CU_ASSERT(is(GET(p, CREDENTIALS_FILE), "/nonexistent/lota-test/credentials"));
	CU_ASSERT_EQUAL(SRC(p, CREDENTIALS_FILE), LOTA_AWS_SOURCE_OPTION);
	lota_aws_profile_free(p);

	/* dev: the credentials file's keys and region win over the config file's; the
	 * [services local] s3 endpoint wins over the profile's endpoint_url */
	CU_ASSERT_EQUAL_FATAL(resolve(noenv, "dev", files_creds, files_config, &p, err), 0);
	CU_ASSERT(is(GET(p, PROFILE), "dev") && SRC(p, PROFILE) == LOTA_AWS_SOURCE_OPTION);
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "DEVAK") && is(GET(p, SECRET_ACCESS_KEY), "DEVSK"));
	CU_ASSERT_PTR_NULL(GET(p, SESSION_TOKEN));
	CU_ASSERT(is(GET(p, REGION), "cred-region"));
	CU_ASSERT_EQUAL(SRC(p, REGION), LOTA_AWS_SOURCE_CREDENTIALS_FILE);
	CU_ASSERT(is(GET(p, ENDPOINT_URL), "http://local-s3"));
	CU_ASSERT(is(ORG(p, ENDPOINT_URL), "/nonexistent/lota-test/config:20"));
	lota_aws_profile_free(p);

	/* cfgonly: keys from the config file; the nested s3 endpoint wins over endpoint_url */
	CU_ASSERT_EQUAL_FATAL(resolve(noenv, "cfgonly", files_creds, files_config, &p, err), 0);
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "CFGAK") && is(GET(p, SESSION_TOKEN), "CFGTOK"));
	CU_ASSERT_EQUAL(SRC(p, SECRET_ACCESS_KEY), LOTA_AWS_SOURCE_CONFIG_FILE);
	CU_ASSERT_PTR_NULL(GET(p, REGION));
	CU_ASSERT_EQUAL(SRC(p, REGION), LOTA_AWS_SOURCE_NONE);
	CU_ASSERT_PTR_NULL(ORG(p, REGION));
	CU_ASSERT(is(GET(p, ENDPOINT_URL), "http://cfgonly-s3"));
	CU_ASSERT(is(GET(p, S3_ADDRESSING_STYLE), "path"));
	CU_ASSERT(is(ORG(p, S3_ADDRESSING_STYLE), "/nonexistent/lota-test/config:16"));
	lota_aws_profile_free(p);

	/* no files at all: an anonymous default profile */
	CU_ASSERT_EQUAL_FATAL(resolve(noenv, NULL, NULL, NULL, &p, err), 0);
	CU_ASSERT_PTR_NULL(GET(p, ACCESS_KEY_ID));
	CU_ASSERT_PTR_NULL(GET(p, REGION));
	CU_ASSERT_PTR_NULL(GET(p, ENDPOINT_URL));
	lota_aws_profile_free(p);
}

static void test_resolve_env(void)
{
	char err[LOTA_AWSCONF_ERR_LEN];
	lota_aws_profile *p = NULL;
	/* the environment's keys win over the files', with AWS_PROFILE too; the token
	 * comes with the keys, never from another source */
	static const char *const e1[] = {
	    "AWS_ACCESS_KEY_ID=ENVAK", "AWS_SECRET_ACCESS_KEY=ENVSK",       "AWS_PROFILE=dev",
	    "AWS_REGION=env-region",   "AWS_DEFAULT_REGION=default-region", NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(e1, NULL, files_creds, files_config, &p, err), 0);
	CU_ASSERT(is(GET(p, PROFILE), "dev") && is(ORG(p, PROFILE), "AWS_PROFILE"));
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "ENVAK") && is(GET(p, SECRET_ACCESS_KEY), "ENVSK"));
	CU_ASSERT_EQUAL(SRC(p, ACCESS_KEY_ID), LOTA_AWS_SOURCE_ENV);
	CU_ASSERT(is(ORG(p, SECRET_ACCESS_KEY), "AWS_SECRET_ACCESS_KEY"));
	CU_ASSERT_PTR_NULL(GET(p, SESSION_TOKEN));
	CU_ASSERT(is(GET(p, REGION), "env-region") && is(ORG(p, REGION), "AWS_REGION"));
	lota_aws_profile_free(p);
	/* a profile named explicitly (like --profile) takes its own keys over the env's */
	CU_ASSERT_EQUAL_FATAL(resolve(e1, "cfgonly", files_creds, files_config, &p, err), 0);
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "CFGAK"));
	CU_ASSERT(is(GET(p, REGION), "env-region")); /* the region still comes from the env */
	lota_aws_profile_free(p);
	/* AWS_DEFAULT_REGION after AWS_REGION; the session token from the env */
	static const char *const e2[] = {"AWS_ACCESS_KEY_ID=ENVAK", "AWS_SECRET_ACCESS_KEY=ENVSK",
	                                 "AWS_SESSION_TOKEN=ENVTOK",
	                                 "AWS_DEFAULT_REGION=default-region", NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(e2, NULL, files_creds, files_config, &p, err), 0);
	CU_ASSERT(is(GET(p, SESSION_TOKEN), "ENVTOK"));
	CU_ASSERT(is(GET(p, REGION), "default-region"));
	lota_aws_profile_free(p);
	/* empty variables as the AWS CLI reads them: a setting set to "" decides (no
	 * region, no file, a profile named ""), a credential set to "" is unset */
	static const char *const e2e[] = {
	    "AWS_REGION=",          "AWS_DEFAULT_REGION=default-region",
	    "AWS_ACCESS_KEY_ID=",   "AWS_SECRET_ACCESS_KEY=S",
	    "AWS_ENDPOINT_URL_S3=", NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(e2e, NULL, files_creds, files_config, &p, err), 0);
	CU_ASSERT_PTR_NULL(GET(p, REGION));
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "CREDAK"));
	CU_ASSERT(is(GET(p, ENDPOINT_URL), "http://conf-global"));
	lota_aws_profile_free(p);
	static const char *const e2p[] = {"AWS_PROFILE=", NULL};
	CU_ASSERT_EQUAL(resolve(e2p, NULL, files_creds, files_config, &p, err),
	                LOTA_E_CONFIG_MISSING);
	static const char *const e2k[] = {"AWS_ACCESS_KEY_ID=A", "AWS_SECRET_ACCESS_KEY=", NULL};
	CU_ASSERT_EQUAL(resolve(e2k, NULL, files_creds, files_config, &p, err),
	                LOTA_E_CONFIG_MISSING);
	static const char *const e2f[] = {"AWS_CONFIG_FILE=", "HOME=/nonexistent", NULL};
	lota_aws_resolve_opts fo = LOTA_OPTS(lota_aws_resolve_opts, .envp = e2f);
	CU_ASSERT_EQUAL_FATAL(lota_aws_profile_resolve(&fo, &p, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(GET(p, CONFIG_FILE));
	CU_ASSERT(is(GET(p, CREDENTIALS_FILE), "/nonexistent/.aws/credentials"));
	lota_aws_profile_free(p);
	/* endpoints: AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL over every file */
	static const char *const e3[] = {"AWS_ENDPOINT_URL=http://env-global",
	                                 "AWS_ENDPOINT_URL_S3=http://env-s3", "AWS_PROFILE=dev",
	                                 NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(e3, NULL, files_creds, files_config, &p, err), 0);
	CU_ASSERT(is(GET(p, ENDPOINT_URL), "http://env-s3"));
	CU_ASSERT(is(ORG(p, ENDPOINT_URL), "AWS_ENDPOINT_URL_S3"));
	lota_aws_profile_free(p);
	CU_ASSERT_EQUAL_FATAL(resolve(e3 + 0, NULL, files_creds, files_config, &p, err), 0);
	lota_aws_profile_free(p);
	static const char *const e4[] = {"AWS_ENDPOINT_URL=http://env-global", "AWS_PROFILE=dev",
	                                 NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(e4, NULL, files_creds, files_config, &p, err), 0);
	CU_ASSERT(is(GET(p, ENDPOINT_URL), "http://env-global"));
	lota_aws_profile_free(p);
	/* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS drops them all; so does the profile's key */
	static const char *const e5[] = {"AWS_ENDPOINT_URL_S3=http://env-s3",
	                                 "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=True", NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(e5, NULL, files_creds, files_config, &p, err), 0);
	CU_ASSERT_PTR_NULL(GET(p, ENDPOINT_URL));
	lota_aws_profile_free(p);
	static const char *const noenv[] = {NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(noenv, NULL, NULL,
	                              "[default]\nendpoint_url = http://x\n"
	                              "ignore_configured_endpoint_urls = true\n",
	                              &p, err),
	                      0);
	CU_ASSERT_PTR_NULL(GET(p, ENDPOINT_URL));
	lota_aws_profile_free(p);
	/* the env variable decides over the profile's key */
	static const char *const e6[] = {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false", NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(e6, NULL, NULL,
	                              "[default]\nendpoint_url = http://x\n"
	                              "ignore_configured_endpoint_urls = true\n",
	                              &p, err),
	                      0);
	CU_ASSERT(is(GET(p, ENDPOINT_URL), "http://x"));
	lota_aws_profile_free(p);
}

static const char *lookup(void *ud, const char *name)
{
	const char *const *kv = ud;
	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static void test_resolve_getenv_and_paths(void)
{
	char err[LOTA_AWSCONF_ERR_LEN];
	lota_aws_profile *p = NULL;
	/* files found through HOME, then through the variables; a getenv callback */
	char home[128], aws[160];
	snprintf(home, sizeof(home), "%s/home", tmpdir);
	snprintf(aws, sizeof(aws), "%s/.aws", home);
	CU_ASSERT_EQUAL(mkdir(home, 0700), 0);
	CU_ASSERT_EQUAL(mkdir(aws, 0700), 0);
	tmp_file("home/.aws/credentials",
	         "[default]\naws_access_key_id=HOMEAK\n"
	         "aws_secret_access_key=HOMESK\n",
	         0600);
	tmp_file("home/.aws/config", "[default]\nregion = home-region\n", 0600);
	const char *kv[] = {"HOME", home, NULL};
	lota_aws_resolve_opts o =
	    LOTA_OPTS(lota_aws_resolve_opts, .getenv_fn = lookup, .getenv_ud = kv);
	CU_ASSERT_EQUAL_FATAL(lota_aws_profile_resolve(&o, &p, err, sizeof(err)), 0);
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "HOMEAK") && is(GET(p, REGION), "home-region"));
	char want[300];
	snprintf(want, sizeof(want), "%s/credentials", aws);
	CU_ASSERT(is(GET(p, CREDENTIALS_FILE), want));
	CU_ASSERT_EQUAL(SRC(p, CREDENTIALS_FILE), LOTA_AWS_SOURCE_DEFAULT);
	snprintf(want, sizeof(want), "%s/config:2", aws);
	CU_ASSERT(is(ORG(p, REGION), want));
	lota_aws_profile_free(p);
	/* AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE, "~/" expanded */
	tmp_file("home/other-creds", "[x]\naws_access_key_id=XAK\naws_secret_access_key=XSK\n",
	         0600);
	const char *kv2[] = {"HOME",
	                     home,
	                     "AWS_SHARED_CREDENTIALS_FILE",
	                     "~/other-creds",
	                     "AWS_CONFIG_FILE",
	                     "/dev/null", /* not a regular file: skipped, as the CLI does */
	                     "AWS_PROFILE",
	                     "x",
	                     NULL};
	o.getenv_ud = kv2;
	CU_ASSERT_EQUAL_FATAL(lota_aws_profile_resolve(&o, &p, err, sizeof(err)), 0);
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "XAK"));
	CU_ASSERT_PTR_NULL(GET(p, REGION));
	CU_ASSERT_EQUAL(SRC(p, CONFIG_FILE), LOTA_AWS_SOURCE_ENV);
	CU_ASSERT(is(ORG(p, CONFIG_FILE), "AWS_CONFIG_FILE"));
	lota_aws_profile_free(p);
	/* without HOME the default files are not looked at */
	const char *kv3[] = {NULL};
	o.getenv_ud = kv3;
	CU_ASSERT_EQUAL_FATAL(lota_aws_profile_resolve(&o, &p, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(GET(p, ACCESS_KEY_ID));
	CU_ASSERT_PTR_NULL(GET(p, CREDENTIALS_FILE));
	lota_aws_profile_free(p);
	/* a syntax error in a real file names the file and line */
	const char *bad = tmp_file("badconf", "[default]\nregion\n", 0600);
	o = LOTA_OPTS(lota_aws_resolve_opts, .getenv_fn = lookup, .getenv_ud = kv3,
	              .config_path = bad);
	CU_ASSERT_EQUAL(lota_aws_profile_resolve(&o, &p, err, sizeof(err)), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_PTR_NULL(p);
	snprintf(want, sizeof(want), "%s:2: expected '[section]' or 'key = value'", bad);
	CU_ASSERT_STRING_EQUAL(err, want);
	/* a file that exists but cannot be read is an error (root reads anything: skip) */
	if (geteuid() != 0) {
		const char *locked = tmp_file("locked", "[default]\n", 0000);
		o.config_path = locked;
		CU_ASSERT_EQUAL(lota_aws_profile_resolve(&o, &p, err, sizeof(err)), -EACCES);
	}
	/* the process environment when no env is given */
	setenv("AWS_ACCESS_KEY_ID", "PROCAK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "PROCSK", 1);
	o = LOTA_OPTS(lota_aws_resolve_opts, .credentials_path = "/nonexistent/lota-test/x",
	              .config_path = "/nonexistent/lota-test/x");
	CU_ASSERT_EQUAL_FATAL(lota_aws_profile_resolve(&o, &p, err, sizeof(err)), 0);
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "PROCAK"));
	lota_aws_profile_free(p);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
}

static void test_resolve_profiles(void)
{
	static const char *const noenv[] = {NULL};
	char err[LOTA_AWSCONF_ERR_LEN];
	lota_aws_profile *p = NULL;
	/* [default] then [profile default]: the later one counts, in either order */
	CU_ASSERT_EQUAL_FATAL(resolve(noenv, NULL, NULL,
	                              "[default]\nregion = a\n[profile default]\nregion = b\n", &p,
	                              err),
	                      0);
	CU_ASSERT(is(GET(p, REGION), "b"));
	lota_aws_profile_free(p);
	CU_ASSERT_EQUAL_FATAL(resolve(noenv, NULL, NULL,
	                              "[profile default]\nregion = b\n[default]\nregion = a\n", &p,
	                              err),
	                      0);
	CU_ASSERT(is(GET(p, REGION), "a"));
	lota_aws_profile_free(p);
	/* "profile" must be followed by one name; other sections are not profiles */
	static const char *const sel[] = {"AWS_PROFILE=x", NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(sel, NULL, NULL,
	                              "[profilex]\nregion = 1\n[profile x y]\nregion = 2\n"
	                              "[x]\nregion = 3\n[profile\tx ]\nregion = 4\n",
	                              &p, err),
	                      0);
	CU_ASSERT(is(GET(p, REGION), "4"));
	lota_aws_profile_free(p);
	/* a named profile that no file has */
	CU_ASSERT_EQUAL(resolve(sel, NULL, NULL, "[profile y]\n", &p, err), LOTA_E_CONFIG_MISSING);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_STRING_EQUAL(err, "profile \"x\" (from AWS_PROFILE) not found in "
	                            "/nonexistent/lota-test/credentials or "
	                            "/nonexistent/lota-test/config");
	CU_ASSERT_EQUAL(resolve(noenv, "nope", "[a]\n", "[profile y]\n", &p, err),
	                LOTA_E_CONFIG_MISSING);
	/* a profile in the credentials file alone is enough */
	CU_ASSERT_EQUAL(resolve(sel, NULL, "[x]\n", NULL, &p, err), 0);
	lota_aws_profile_free(p);
	/* the wanted profile twice, or a key of it twice */
	CU_ASSERT_EQUAL(resolve(noenv, NULL, NULL, "[default]\n[default]\n", &p, err),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(
	    err, "/nonexistent/lota-test/config:2: duplicate section [default] (first "
	         "at line 1)");
	CU_ASSERT_EQUAL(resolve(noenv, NULL, "[default]\nregion=a\nREGION=b\n", NULL, &p, err),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/lota-test/credentials:3: duplicate REGION in "
	                            "section [default] (first at line 2)");
	CU_ASSERT_EQUAL(resolve(noenv, NULL, NULL,
	                        "[default]\ns3 =\n  endpoint_url = a\n"
	                        "  endpoint_url = b\n",
	                        &p, err),
	                LOTA_E_CONFIG_VALUE);
	/* other profiles' duplicates are none of its business, their syntax errors are */
	CU_ASSERT_EQUAL(resolve(noenv, NULL, NULL, "[profile o]\nregion=a\nregion=b\n", &p, err),
	                0);
	lota_aws_profile_free(p);
	CU_ASSERT_EQUAL(resolve(noenv, NULL, NULL, "[profile o]\njunk\n", &p, err),
	                LOTA_E_CONFIG_VALUE);
	/* partial keys */
	CU_ASSERT_EQUAL(resolve(noenv, NULL, "[default]\naws_access_key_id = A\n", NULL, &p, err),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/lota-test/credentials:1: profile [default] has "
	                            "aws_access_key_id but no aws_secret_access_key");
	static const char *const half[] = {"AWS_ACCESS_KEY_ID=A", NULL};
	CU_ASSERT_EQUAL(resolve(half, NULL, NULL, NULL, &p, err), LOTA_E_CONFIG_MISSING);
	CU_ASSERT_STRING_EQUAL(err, "environment: AWS_ACCESS_KEY_ID is set but "
	                            "AWS_SECRET_ACCESS_KEY is not");
	/* a secret alone is no credential: the next source is used */
	static const char *const sk_only[] = {"AWS_SECRET_ACCESS_KEY=S", NULL};
	CU_ASSERT_EQUAL_FATAL(resolve(sk_only, NULL, "[default]\naws_secret_access_key = X\n",
	                              "[default]\naws_access_key_id=C\naws_secret_access_key=D\n",
	                              &p, err),
	                      0);
	CU_ASSERT(is(GET(p, ACCESS_KEY_ID), "C"));
	lota_aws_profile_free(p);
	/* an over-long secret in the environment */
	char longsk[LOTA_AWSCONF_SECRET_MAX + 40];
	snprintf(longsk, sizeof(longsk), "AWS_SECRET_ACCESS_KEY=%0*d",
	         (int)LOTA_AWSCONF_SECRET_MAX + 1, 0);
	const char *const env_long[] = {"AWS_ACCESS_KEY_ID=A", longsk, NULL};
	CU_ASSERT_EQUAL(resolve(env_long, NULL, NULL, NULL, &p, err), LOTA_E_CONFIG_VALUE);
}

static void test_resolve_args(void)
{
	char err[LOTA_AWSCONF_ERR_LEN];
	lota_aws_profile *p = (lota_aws_profile *)&err;
	static const char *const noenv[] = {NULL};
	CU_ASSERT_EQUAL(lota_aws_profile_resolve(NULL, NULL, err, sizeof(err)), -EINVAL);
	/* sz (lota/common.h): a larger struct is fine when its extra bytes are zero */
	struct {
		lota_aws_resolve_opts o;
		char extra[16];
	} big;
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.o.envp = noenv;
	big.o.credentials_path = big.o.config_path = "/nonexistent/x";
	CU_ASSERT_EQUAL(lota_aws_profile_resolve(&big.o, &p, err, sizeof(err)), 0);
	lota_aws_profile_free(p);
	/* a newer caller's field this library does not know, set: refused */
	big.extra[3] = 1;
	CU_ASSERT_EQUAL(lota_aws_profile_resolve(&big.o, &p, err, sizeof(err)), LOTA_E_OPTS);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_STRING_EQUAL(err, "options: bad size");
	big.extra[3] = 0;
	/* sz not set, refused before anything is read */
	big.o.sz = 0;
	CU_ASSERT_EQUAL(lota_aws_profile_resolve(&big.o, &p, err, sizeof(err)), LOTA_E_OPTS);
	CU_ASSERT_PTR_NULL(p);
	big.o.sz = LOTA_OPTS_MAX + 1; /* refused unread */
	CU_ASSERT_EQUAL(lota_aws_profile_resolve(&big.o, &p, err, sizeof(err)), LOTA_E_OPTS);
	/* below the first released size (which ends with config_text): refused */
	big.o.sz = offsetof(lota_aws_resolve_opts, config_text) + sizeof(lota_str) - 1;
	CU_ASSERT_EQUAL(lota_aws_profile_resolve(&big.o, &p, err, sizeof(err)), LOTA_E_OPTS);
	big.o.sz = offsetof(lota_aws_resolve_opts, credentials_path);
	CU_ASSERT_EQUAL(lota_aws_profile_resolve(&big.o, &p, err, sizeof(err)), LOTA_E_OPTS);
	/* exactly the released size: accepted */
	big.o.sz = offsetof(lota_aws_resolve_opts, config_text) + sizeof(lota_str);
	CU_ASSERT_EQUAL(lota_aws_profile_resolve(&big.o, &p, err, sizeof(err)), 0);
	lota_aws_profile_free(p);
	/* getters on NULL or an unknown field */
	CU_ASSERT_PTR_NULL(lota_aws_profile_get(NULL, LOTA_AWS_FIELD_REGION));
	CU_ASSERT_EQUAL(lota_aws_profile_source(NULL, LOTA_AWS_FIELD_REGION), LOTA_AWS_SOURCE_NONE);
	CU_ASSERT_PTR_NULL(lota_aws_profile_origin(NULL, LOTA_AWS_FIELD_REGION));
	CU_ASSERT_EQUAL(resolve(noenv, NULL, NULL, NULL, &p, err), 0);
	CU_ASSERT_PTR_NULL(lota_aws_profile_get(p, (lota_aws_field)99));
	CU_ASSERT_PTR_NULL(lota_aws_profile_get(p, (lota_aws_field)-1));
	lota_aws_profile_free(p);
	lota_aws_profile_free(NULL);
}

static void cleanup_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lota-awsconf-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 2;
	CU_TestInfo tests[] = {
	    {"credentials: strict, valid", test_foreach_strict_ok},
	    {"credentials: strict, every lotad message", test_foreach_strict_errors},
	    {"credentials: line, file and section caps", test_foreach_limits},
	    {"credentials: AWS mode", test_foreach_aws_mode},
	    {"credentials: unknown keys, callback stop", test_foreach_reject_unknown_and_stop},
	    {"credentials: files", test_foreach_file},
	    {"resolve: files", test_resolve_files},
	    {"resolve: environment precedence", test_resolve_env},
	    {"resolve: getenv callback and paths", test_resolve_getenv_and_paths},
	    {"resolve: profiles and errors", test_resolve_profiles},
	    {"resolve: arguments and option sizes", test_resolve_args},
	    CU_TEST_INFO_NULL,
	};
	int rc = lota_unit_run("awsconf", tests);
	cleanup_tmp();
	return rc;
}
