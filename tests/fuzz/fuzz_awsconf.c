/*
 * fuzz_awsconf.c - libFuzzer harness for the AWS credentials / config parser
 * (lota/awsconf.h). The input is a file's text: it is walked as a credentials file in
 * every mode, and resolved as both files for the profiles "default" and "dev" with an
 * environment picked by its first byte. Checks: a failure leaves a terminated message
 * naming the input, a success reports views that lie inside the input (strict entries
 * with both keys), and a resolved profile's values are terminated strings with a source.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lota/awsconf.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
	const char *buf;
	size_t len;
	unsigned flags;
	size_t last_line;
};

static void inside(const struct walk *w, lota_str v)
{
	if (!v.ptr) {
		if (v.len)
			abort();
		return;
	}
	if (v.ptr < w->buf || v.ptr + v.len > w->buf + w->len || v.len == 0)
		abort();
}

static int check_entry(void *ud, const lota_aws_credentials_entry *e)
{
	struct walk *w = ud;
	inside(w, e->section);
	inside(w, e->access_key_id);
	inside(w, e->secret_access_key);
	inside(w, e->session_token);
	if (!e->section.ptr || e->line <= w->last_line)
		abort(); /* file order, one header per line */
	w->last_line = e->line;
	if ((w->flags & LOTA_AWSCONF_STRICT) &&
	    (!e->access_key_id.len || !e->secret_access_key.len))
		abort();
	return 0;
}

static void check_err(int rc, const char *err, const char *name)
{
	if (!memchr(err, '\0', LOTA_AWSCONF_ERR_LEN))
		abort();
	if (rc && strncmp(err, name, strlen(name)) != 0)
		abort();
	if (!rc && err[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char err[LOTA_AWSCONF_ERR_LEN];
	static const unsigned modes[] = {0, LOTA_AWSCONF_STRICT, LOTA_AWSCONF_REJECT_UNKNOWN,
	                                 LOTA_AWSCONF_STRICT | LOTA_AWSCONF_REJECT_UNKNOWN};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct walk w = {text, size, modes[i], 0};
		memset(err, 'x', sizeof(err));
		int rc = lota_aws_credentials_foreach(text, size, "fuzz", modes[i], check_entry, &w,
		                                      err, sizeof(err));
		check_err(rc, err, "fuzz");
	}

	static const char *const envs[4][4] = {
	    {NULL},
	    {"AWS_PROFILE=dev", NULL},
	    {"AWS_ACCESS_KEY_ID=A", "AWS_SECRET_ACCESS_KEY=S", "AWS_ENDPOINT_URL=http://e", NULL},
	    {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true", "AWS_REGION=r", NULL},
	};
	static const char *const profiles[] = {NULL, "dev"};
	for (size_t i = 0; i < 2; i++) {
		lota_aws_resolve_opts o = LOTA_OPTS(lota_aws_resolve_opts, .profile = NULL);
		lota_aws_profile *p = NULL;
		o.envp = envs[size ? data[0] % 4 : 0];
		o.profile = profiles[i];
		o.credentials_path = "/nonexistent/fuzz/credentials";
		o.config_path = "/nonexistent/fuzz/config";
		o.credentials_text = (lota_str){text, size};
		o.config_text = (lota_str){text, size};
		memset(err, 'x', sizeof(err));
		int rc = lota_aws_profile_resolve(&o, &p, err, sizeof(err));
		if (!memchr(err, '\0', sizeof(err)))
			abort();
		if (rc) {
			if (p || !err[0])
				abort();
			continue;
		}
		for (int f = LOTA_AWS_FIELD_PROFILE; f <= LOTA_AWS_FIELD_CONFIG_FILE; f++) {
			const char *v = lota_aws_profile_get(p, (lota_aws_field)f);
			lota_aws_source s = lota_aws_profile_source(p, (lota_aws_field)f);
			const char *org = lota_aws_profile_origin(p, (lota_aws_field)f);
			if (!v != (s == LOTA_AWS_SOURCE_NONE) || !v != !org)
				abort();
			if (v && strlen(v) > size + 64)
				abort();
		}
		/* keys come in pairs */
		if (!lota_aws_profile_get(p, LOTA_AWS_FIELD_ACCESS_KEY_ID) !=
		    !lota_aws_profile_get(p, LOTA_AWS_FIELD_SECRET_ACCESS_KEY))
			abort();
		lota_aws_profile_free(p);
	}
	return 0;
}
