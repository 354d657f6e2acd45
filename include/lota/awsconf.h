/*
 * lota/awsconf.h - the AWS shared credentials and config files (~/.aws/credentials,
 * ~/.aws/config) and the AWS_* environment, resolved the way the AWS CLI resolves them;
 * and a strict reader of a credentials file that lotad builds its key store from.
 *
 * File syntax (both files). UTF-8 text, a UTF-8 byte-order mark ignored, LF or CRLF line
 * ends, at most LOTA_AWSCONF_FILE_MAX bytes and LOTA_AWSCONF_LINE_MAX bytes per line.
 *   [section]                  a section header (name trimmed; no '[' or ']' inside)
 *   key = value                key and value trimmed of spaces and tabs; keys compare
 *                              case-insensitively (aws_access_key_id = AWS_ACCESS_KEY_ID)
 *   # comment, ; comment       whole-line comments only ("a = b # c" has value "b # c")
 *   s3 =                       a key with an empty value opens a nested block: the
 *     endpoint_url = URL       indented "key = value" lines after it are its sub-keys
 * A control byte (other than tab), a key outside any section, a line that is neither a
 * header nor "key = value", and a key lota reads given twice in one section are errors,
 * reported as "NAME:LINE: reason". Keys lota does not read are ignored (or refused with
 * LOTA_AWSCONF_REJECT_UNKNOWN). Unlike Python's configparser, ':' is not a separator, a
 * line that continues a non-empty value is an error, and quotes are not special.
 *
 * Profiles. In the credentials file a profile is [name]; in the config file it is
 * [profile name] (one name without spaces) or [default] for the profile "default" (when
 * both [default] and [profile default] are there, the later one counts, as in the AWS
 * CLI). [services name] sections hold service-specific settings (see below); other
 * sections are ignored.
 *
 * Precedence, as the AWS CLI documents it ("Configuration and credential file settings",
 * "Service-specific endpoints"), highest first:
 *   profile name:  opts->profile, AWS_PROFILE, "default"
 *   files:         opts->*_path, AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE,
 *                  ~/.aws/credentials and ~/.aws/config ("~" is HOME of the environment)
 *   access key, secret and session token, always taken together from one source:
 *                  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), unless
 *                  opts->profile names a profile explicitly (like `aws --profile`: the
 *                  profile's keys then win over the environment's; AWS_PROFILE does not
 *                  do that); then the profile in the credentials file; then the profile in
 *                  the config file. Nothing is not an error (anonymous requests).
 *   region:        AWS_REGION, AWS_DEFAULT_REGION, the profile's region (the credentials
 *                  file's value over the config file's, as the AWS CLI merges them)
 *   endpoint:      none at all when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true or the
 *                  profile says ignore_configured_endpoint_urls = true; else
 *                  AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the s3 endpoint_url of the
 *                  [services NAME] section the profile names with services = NAME, the
 *                  s3 endpoint_url nested in the profile itself (a lota extension: the
 *                  older "s3 =" block of the CLI), the profile's endpoint_url
 * Empty variables, as the AWS CLI reads them: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN and the AWS_ENDPOINT_URL* variables set to "" count as unset; the
 * settings AWS_PROFILE, AWS_REGION, AWS_DEFAULT_REGION, AWS_SHARED_CREDENTIALS_FILE,
 * AWS_CONFIG_FILE and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS decide even when set to ""
 * (no region; no such file; a profile named "", which does not exist).
 * Files: a missing file, or one that is not a regular file (AWS_CONFIG_FILE=/dev/null),
 * is skipped as the AWS CLI skips it; a file that exists but cannot be read is an error;
 * a syntax error anywhere in a file is an error, and so is the wanted profile's section
 * given twice. A profile named explicitly (opts->profile or AWS_PROFILE, even "default")
 * must exist in one of the files; the implicit "default" need not.
 *
 * Secrets (secret keys, session tokens) are held in memory lota allocates and wiped when
 * it is freed; file contents read here are wiped after parsing. Nothing is logged, except
 * the mode warning that LOTA_AWSCONF_WARN_MODE asks for (it names the file, never a
 * value).
 */
#ifndef LOTA_AWSCONF_H
#define LOTA_AWSCONF_H

#include <lota/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOTA_AWSCONF_FILE_MAX     (16u << 20) /* bytes of one file */
#define LOTA_AWSCONF_LINE_MAX     65536u      /* bytes of one line, without its end */
#define LOTA_AWSCONF_SECTIONS_MAX 100000u     /* sections lota_aws_credentials_foreach takes */
#define LOTA_AWSCONF_KEY_ID_MAX   128u        /* = LOTA_SIGV4_ACCESS_KEY_MAX */
#define LOTA_AWSCONF_SECRET_MAX   256u        /* = LOTA_SIGV4_SECRET_MAX */
#define LOTA_AWSCONF_TOKEN_MAX    8192u
#define LOTA_AWSCONF_ERR_LEN      512u /* an error buffer this large never truncates */

/* ---- reading every section of a credentials file ----------------------------------- */

/*
 * Flags of lota_aws_credentials_foreach*.
 * LOTA_AWSCONF_STRICT: lotad's rules for its key store. Every section must hold a
 *   non-empty aws_access_key_id (visible ASCII without '/', at most
 *   LOTA_AWSCONF_KEY_ID_MAX bytes) and aws_secret_access_key (visible ASCII, at most
 *   LOTA_AWSCONF_SECRET_MAX), and may hold aws_session_token (alias aws_security_token,
 *   visible ASCII, at most LOTA_AWSCONF_TOKEN_MAX); an empty value of these keys is an
 *   error; no two sections may carry the same access key id; indented lines are plain
 *   lines (no nested blocks). Without it, a section may lack keys (its entry then has
 *   empty views), an empty value is as good as none, and only the length caps apply.
 * LOTA_AWSCONF_REJECT_UNKNOWN: any key other than the four above is an error.
 * LOTA_AWSCONF_WARN_MODE (file form only): log a warning (lota_log) when the file can be
 *   read or written by its group or others.
 * In every mode a section name appearing twice is an error.
 */
#define LOTA_AWSCONF_STRICT         0x1u
#define LOTA_AWSCONF_REJECT_UNKNOWN 0x2u
#define LOTA_AWSCONF_WARN_MODE      0x4u

/* One section of a credentials file. Views point into the parsed buffer: valid only
 * during the callback (copy what you keep; the file form wipes its buffer afterwards).
 * Absent keys are {NULL, 0}. */
typedef struct lota_aws_credentials_entry {
	lota_str section;
	lota_str access_key_id;
	lota_str secret_access_key;
	lota_str session_token;
	size_t line; /* line of the [section] header, from 1 */
} lota_aws_credentials_entry;

/* Called once per section, in file order. Return 0 to go on; anything else stops the
 * walk and is returned by lota_aws_credentials_foreach (use a negative code). */
typedef int (*lota_aws_credentials_fn)(void *ud, const lota_aws_credentials_entry *entry);

/*
 * Parse a credentials file held in buf[0..len) (no NUL needed; a NUL byte is a control
 * byte) and call fn for each section, but only once the whole input has been checked: an
 * invalid file produces no callback at all. name is used in messages (NULL:
 * "credentials"). On error err (capacity err_cap, may be NULL) gets "name:line: reason"
 * or "name: reason", always NUL-terminated. Returns 0, fn's non-zero result (err then
 * says "name:line: <lota_strerror of it>"), LOTA_E_CONFIG_VALUE for any error in the
 * content, LOTA_E_CONFIG_UNKNOWN_KEY for an unknown key under
 * LOTA_AWSCONF_REJECT_UNKNOWN, LOTA_E_TOO_LARGE for input above LOTA_AWSCONF_FILE_MAX,
 * -EINVAL (NULL fn, NULL buf with len > 0), -ENOMEM.
 */
LOTA_API int lota_aws_credentials_foreach(const char *buf, size_t len, const char *name,
                                          unsigned flags, lota_aws_credentials_fn fn, void *ud,
                                          char *err, size_t err_cap) LOTA_WUR;

/*
 * The same for the file at path (messages are named by the path). Besides the above:
 * "path: <strerror>" with -errno when it cannot be opened or read, "path: not a regular
 * file" with -EINVAL, "path: larger than N bytes" with LOTA_E_TOO_LARGE. NULL or empty
 * path: -EINVAL.
 */
LOTA_API int lota_aws_credentials_foreach_file(const char *path, unsigned flags,
                                               lota_aws_credentials_fn fn, void *ud, char *err,
                                               size_t err_cap) LOTA_WUR;

/* ---- resolving a profile ------------------------------------------------------------ */

/* What a resolved profile holds. Append-only. */
typedef enum lota_aws_field {
	LOTA_AWS_FIELD_PROFILE = 0, /* the profile name used */
	LOTA_AWS_FIELD_ACCESS_KEY_ID = 1,
	LOTA_AWS_FIELD_SECRET_ACCESS_KEY = 2,
	LOTA_AWS_FIELD_SESSION_TOKEN = 3,
	LOTA_AWS_FIELD_REGION = 4,
	LOTA_AWS_FIELD_ENDPOINT_URL = 5,     /* the S3 endpoint, e.g. "http://127.0.0.1:8000" */
	LOTA_AWS_FIELD_CREDENTIALS_FILE = 6, /* the path of the credentials file consulted */
	LOTA_AWS_FIELD_CONFIG_FILE = 7,      /* the path of the config file consulted */
	/* the s3 block's addressing_style ("path", "virtual", "auto"), as written */
	LOTA_AWS_FIELD_S3_ADDRESSING_STYLE = 8,
} lota_aws_field;

/* Where a value came from. Append-only. */
typedef enum lota_aws_source {
	LOTA_AWS_SOURCE_NONE = 0,             /* no value */
	LOTA_AWS_SOURCE_OPTION = 1,           /* lota_aws_resolve_opts */
	LOTA_AWS_SOURCE_ENV = 2,              /* an environment variable */
	LOTA_AWS_SOURCE_CREDENTIALS_FILE = 3, /* the shared credentials file */
	LOTA_AWS_SOURCE_CONFIG_FILE = 4,      /* the shared config file */
	LOTA_AWS_SOURCE_DEFAULT = 5,          /* a built-in default ("default", ~/.aws/...) */
} lota_aws_source;

/* A getenv-like lookup: the value of name, or NULL when unset. The string must stay
 * valid until lota_aws_profile_resolve returns. */
typedef const char *(*lota_aws_getenv_fn)(void *ud, const char *name);

/*
 * Options of lota_aws_profile_resolve, an options struct (lota/common.h): build it with
 * LOTA_OPTS(lota_aws_resolve_opts, ...), which sets sz and zeroes every field not named.
 * Fields are only appended; an sz that is not set, above LOTA_OPTS_MAX, or larger than
 * this library knows with a non-zero byte in the part it does not know is LOTA_E_OPTS.
 */
typedef struct lota_aws_resolve_opts {
	size_t sz; /* sizeof(lota_aws_resolve_opts) */
	/* The profile to use, like `aws --profile`: wins over AWS_PROFILE, and its keys win
	 * over the environment's. NULL or "": AWS_PROFILE, else "default". */
	const char *profile;
	/* The environment: getenv_fn if set, else envp ("NAME=value" strings, NULL-ended;
	 * the first entry of a name counts), else the process environment. To resolve with
	 * no environment at all, pass an envp holding only NULL. */
	lota_aws_getenv_fn getenv_fn;
	void *getenv_ud;
	const char *const *envp;
	/* Files, over AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE and the defaults. */
	const char *credentials_path;
	const char *config_path;
	/* A file's contents given in memory (ptr != NULL, even with len 0): used instead of
	 * reading that file; messages name it by its path as resolved above, or
	 * "credentials" / "config". */
	lota_str credentials_text;
	lota_str config_text;
} lota_aws_resolve_opts;

typedef struct lota_aws_profile lota_aws_profile;

/*
 * Resolve the profile (see the precedence at the top). opts may be NULL (the process
 * environment and the default files). On success *out gets a new profile (free it with
 * lota_aws_profile_free) and 0 is returned. On failure *out is NULL, err (may be NULL)
 * gets a message naming the file and line or the variable, and the code is:
 * LOTA_E_CONFIG_VALUE (a file's content, including a profile with aws_access_key_id but
 * no aws_secret_access_key), LOTA_E_CONFIG_MISSING (AWS_ACCESS_KEY_ID without
 * AWS_SECRET_ACCESS_KEY; a profile named explicitly that no file has), LOTA_E_TOO_LARGE
 * (a file above LOTA_AWSCONF_FILE_MAX), -errno (a file that exists but cannot be read),
 * LOTA_E_OPTS (a bad opts->sz, see above), -EINVAL (NULL out), -ENOMEM.
 */
LOTA_API int lota_aws_profile_resolve(const lota_aws_resolve_opts *opts, lota_aws_profile **out,
                                      char *err, size_t err_cap) LOTA_WUR;

/* The value of a field (NUL-terminated, owned by p, valid until lota_aws_profile_free),
 * or NULL when it has none (or for NULL p or an unknown field). */
LOTA_API const char *lota_aws_profile_get(const lota_aws_profile *p, lota_aws_field field);

/* Where the field's value came from (LOTA_AWS_SOURCE_NONE when it has none). */
LOTA_API lota_aws_source lota_aws_profile_source(const lota_aws_profile *p, lota_aws_field field);

/* A description of that place, for messages: the variable's name ("AWS_ENDPOINT_URL_S3"),
 * "path:line" for a file, "option", "default"; NULL when the field has no value. Owned
 * by p. Never a secret. */
LOTA_API const char *lota_aws_profile_origin(const lota_aws_profile *p, lota_aws_field field);

/* Wipe every value and free. NULL is fine. */
LOTA_API void lota_aws_profile_free(lota_aws_profile *p);

#ifdef __cplusplus
}
#endif
#endif
