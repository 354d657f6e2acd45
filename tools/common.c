/*
 * common.c - what the S3 subcommands of `lota` share: flags and positional arguments in
 * any order (as `aws s3 cp SRC DST --recursive` takes them), the common flags turned
 * into a client handle, s3:// URIs, error messages that name the S3 error, and the
 * progress bar (bytes/s and ETA, on a terminal only).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"

const lota_config_key lota_tool_common_keys[] = {
    {.name = "endpoint_url",
     .type = LOTA_CONFIG_STRING,
     .metavar = "URL",
     .help = "S3 endpoint (else LOTA_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the "
             "profile)"},
    {.name = "profile", .type = LOTA_CONFIG_STRING, .metavar = "NAME", .help = "AWS profile"},
    {.name = "region", .type = LOTA_CONFIG_STRING, .help = "region (else AWS_REGION, profile)"},
    {.name = "concurrency",
     .type = LOTA_CONFIG_INT,
     .def = "16",
     .min = 1,
     .max = LOTA_CLIENT_MAX_CONCURRENCY,
     .help = "requests in flight per object"},
    {.name = "part_size",
     .type = LOTA_CONFIG_SIZE,
     .def = "16MiB",
     .min = 1,
     .max = -1,
     .help = "size of each ranged GET"},
    {.name = "multipart_threshold",
     .type = LOTA_CONFIG_SIZE,
     .def = "64MiB",
     .min = 1,
     .max = -1,
     .help = "uploads this large and above are multipart"},
    {.name = "multipart_part_size",
     .type = LOTA_CONFIG_SIZE,
     .def = "50MiB",
     .min = 5 << 20,
     .max = -1,
     .help = "part size of a multipart upload"},
    {.name = "admin_url",
     .type = LOTA_CONFIG_STRING,
     .metavar = "URL",
     .help = "lotad's admin endpoint (else LOTA_ADMIN_URL)"},
    {.name = "addressing_style",
     .type = LOTA_CONFIG_STRING,
     .metavar = "path|virtual|auto",
     .help = "bucket in the path or in the host name (else the profile's s3 "
             "addressing_style; default path)"},
    {.name = "extent_size",
     .type = LOTA_CONFIG_SIZE,
     .def = "64MiB",
     .min = 1,
     .max = -1,
     .help = "the cluster's extent size (lotad --extent-size), for owner"},
};
const size_t lota_tool_common_nkeys =
    sizeof(lota_tool_common_keys) / sizeof(lota_tool_common_keys[0]);

uint64_t tool_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void tool_args_free(tool_args *a)
{
	lota_config_free(a->cfg);
	a->cfg = NULL;
}

int tool_parse(const char *cmd, const lota_config_key *own, size_t nown, int argc, char **argv,
               const char *usage, size_t min_pos, size_t max_pos, tool_args *out)
{
	/* the key table must outlive the config: one per process is enough (one command) */
	static lota_config_key keys[64];
	size_t n = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < lota_tool_common_nkeys && n < 64; i++)
		keys[n++] = lota_tool_common_keys[i];
	for (size_t i = 0; i < nown && n < 64; i++)
		keys[n++] = own[i];
	out->cfg = lota_config_new(keys, n);
	if (!out->cfg) {
		fprintf(stderr, "lota %s: out of memory\n", cmd);
		return 1;
	}
	/* flags up to the first positional argument, then the positional arguments up to
	 * the next flag, and so on ("-" alone is a positional: stdin or stdout) */
	int i = 0;
	while (i < argc) {
		bool help = false;
		int pos = 0;
		int rc = lota_config_parse_args(out->cfg, argc - i, argv + i, NULL, &help, &pos);
		if (rc == 0 && help) {
			lota_config_print_help(out->cfg, stdout, usage);
			tool_args_free(out);
			return 0;
		}
		if (rc != 0) {
			fprintf(stderr, "lota %s: %s\n", cmd, lota_config_error(out->cfg));
			tool_args_free(out);
			return 2;
		}
		i += pos;
		if (i >= argc)
			break;
		if (!strcmp(argv[i], "--"))
			i++;
		while (i < argc && (argv[i][0] != '-' || !strcmp(argv[i], "-"))) {
			if (out->npos == TOOL_MAX_POS) {
				fprintf(stderr, "lota %s: too many arguments\n", cmd);
				tool_args_free(out);
				return 2;
			}
			out->pos[out->npos++] = argv[i++];
		}
		i--; /* parse_args skips argv[0]: the next round starts before the flag */
	}
	int rc = lota_config_validate(out->cfg);
	if (rc != 0) {
		fprintf(stderr, "lota %s: %s\n", cmd, lota_config_error(out->cfg));
		tool_args_free(out);
		return 2;
	}
	if (out->npos < min_pos || out->npos > max_pos) {
		fprintf(stderr, "usage: %s\n", usage);
		tool_args_free(out);
		return 2;
	}
	return -1;
}

int tool_client_status = 1;

lota_client *tool_client(const char *cmd, const lota_config *cfg)
{
	lota_client *c = NULL;
	lota_client_error e;
	lota_client_opts o = LOTA_OPTS(
	    lota_client_opts, .endpoint_url = lota_config_get_string(cfg, "endpoint_url"),
	    .profile = lota_config_get_string(cfg, "profile"),
	    .region = lota_config_get_string(cfg, "region"),
	    .concurrency = (unsigned)lota_config_get_int(cfg, "concurrency"),
	    .part_size_bytes = lota_config_get_size(cfg, "part_size"),
	    .multipart_threshold_bytes = lota_config_get_size(cfg, "multipart_threshold"),
	    .multipart_part_size_bytes = lota_config_get_size(cfg, "multipart_part_size"),
	    .admin_url = lota_config_get_string(cfg, "admin_url"),
	    .extent_size_bytes = lota_config_get_size(cfg, "extent_size"),
	    .addressing_style = lota_config_get_string(cfg, "addressing_style"), .err = &e);
	int rc = lota_client_new(&o, &c);
	if (rc < 0) {
		fprintf(stderr, "lota %s: %s\n", cmd, e.message[0] ? e.message : lota_strerror(rc));
		/* a bad endpoint or setting is a usage error; a broken AWS file or no memory not */
		tool_client_status = rc == LOTA_E_CLIENT_URI || rc == -EINVAL ? 2 : 1;
		return NULL;
	}
	return c;
}

bool tool_s3_uri(const char *arg, char *bucket, size_t bcap, char *key, size_t kcap)
{
	if (strncmp(arg, "s3://", 5) != 0)
		return false;
	const char *b = arg + 5, *slash = strchr(b, '/');
	size_t bl = slash ? (size_t)(slash - b) : strlen(b);
	const char *k = slash ? slash + 1 : "";
	if (bl == 0 || bl >= bcap || strlen(k) >= kcap)
		return false;
	memcpy(bucket, b, bl);
	bucket[bl] = '\0';
	snprintf(key, kcap, "%s", k);
	return true;
}

int tool_fail(const char *cmd, const char *what, int rc, const lota_client_error *e)
{
	char msg[1024];
	if (e && e->code)
		lota_client_error_format(e, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "%s", lota_strerror(rc));
	fprintf(stderr, "lota %s: %s: %s\n", cmd, what, msg);
	return 1;
}

const char *tool_human(uint64_t b, char *buf, size_t cap)
{
	static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)b);
	else
		snprintf(buf, cap, "%.1f %s", v, u[i]);
	return buf;
}

void tool_progress_init(tool_progress *p, const char *label, bool objects)
{
	memset(p, 0, sizeof(*p));
	p->on = isatty(STDERR_FILENO) == 1;
	p->label = label;
	p->objects = objects;
	p->start_ms = tool_now_ms();
}

int tool_progress_cb(void *ud, uint64_t done, uint64_t total)
{
	tool_progress *p = ud;
	if (!p || !p->on)
		return 0;
	uint64_t now = tool_now_ms();
	if (now - p->last_ms < 200 && done != total)
		return 0;
	p->last_ms = now;
	double s = (double)(now - p->start_ms) / 1000.0;
	double rate = s > 0 ? (double)done / s : 0;
	char a[32], t[32], r[32], eta[32] = "";
	if (total && rate > 0 && done < total) {
		uint64_t left = (uint64_t)((double)(total - done) / rate);
		snprintf(eta, sizeof(eta), "  ETA %llu:%02llu", (unsigned long long)(left / 60),
		         (unsigned long long)(left % 60));
	}
	if (p->objects)
		fprintf(stderr, "\r%s %llu/%llu objects%s\033[K", p->label,
		        (unsigned long long)done, (unsigned long long)total, eta);
	else
		fprintf(stderr, "\r%s %s / %s  %s/s%s\033[K", p->label,
		        tool_human(done, a, sizeof(a)),
		        total ? tool_human(total, t, sizeof(t)) : "?",
		        tool_human((uint64_t)rate, r, sizeof(r)), eta);
	return 0;
}

void tool_progress_end(tool_progress *p)
{
	if (p->on && p->last_ms)
		fputc('\n', stderr);
}
