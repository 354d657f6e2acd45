/*
 * lota.c - the `lota` command-line tool, built only on the public liblota API.
 *
 *   lota version
 *   lota cp       SRC DST [--recursive]      (s3://bucket/key, a path, or -)
 *   lota ls       s3://bucket[/prefix] [--recursive]
 *   lota rm       s3://bucket/key | --recursive s3://bucket/prefix
 *   lota prestage s3://bucket/prefix
 *   lota cluster  [ADMIN_URL...] [--admin-url URL]
 *   lota bench    get|put s3://bucket/prefix [--objects N] [--size S] [--duration D]
 *   lota bench    cipher [--block 64KiB] [--duration 1s]   (AES-GCM per core, cipher.c)
 *   lota presign  --endpoint URL --bucket B --key K [--expires 1h] [--method GET]
 *   lota owner    --node ID[=WEIGHT]... --bucket B --key K --etag E --size N
 *                 [--version-id V] [--extent-size 64MiB] [--offset N]
 *   lota owner    s3://bucket/key [--offset N] [--admin-url URL] [--extent-size 64MiB]
 *   lota profile  [--profile NAME]
 *   lota ca-bundle [--ca-dir DIR]
 *
 * presign takes credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN and the region from AWS_REGION (default us-east-1), like the AWS CLI.
 * owner prints the extent's cache name and the nodes in placement order (the first is
 * the owner), as lotad computes them; a data loader can use it to read from the node
 * that holds an extent (a 0-byte object has none: exit status 2). With an s3:// URI it
 * asks the running cluster instead (lota_client_owner: the object's ETag and size from a
 * HEAD, the members that are up from lotad's /cluster). profile prints what
 * the AWS environment and shared files resolve to (lota_aws_profile_resolve: the AWS
 * CLI's precedence), each value with where it came from; a secret is only said to be
 * set, never printed. Flags are parsed by lota_config, so every subcommand has --help
 * and precise errors. Exit status: 0 ok, 1 failure, 2 usage. The S3 commands (cp, ls,
 * rm, prestage, cluster, bench) live in s3.c and bench.c, on lota/client.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lota/awsconf.h>
#include <lota/config.h>
#include <lota/extent.h>
#include <lota/placement.h>
#include <lota/sigv4.h>

#include "cmds.h"

static lota_str view(const char *s)
{
	return (lota_str){s, s ? strlen(s) : 0};
}

/* Parse argv with a key table; returns NULL after printing help or an error. */
static lota_config *parse(const lota_config_key *keys, size_t n, int argc, char **argv,
                          const char *usage, int *status)
{
	lota_config *cfg = lota_config_new(keys, n);
	bool help = false;
	if (!cfg) {
		*status = 1;
		return NULL;
	}
	int rc = lota_config_parse_args(cfg, argc, argv, NULL, &help, NULL);
	if (rc == 0 && help) {
		lota_config_print_help(cfg, stdout, usage);
		*status = 0;
		goto out;
	}
	if (rc == 0)
		rc = lota_config_validate(cfg);
	if (rc != 0) {
		fprintf(stderr, "lota: %s\n", lota_config_error(cfg));
		*status = 2;
		goto out;
	}
	return cfg;
out:
	lota_config_free(cfg);
	return NULL;
}

static int cmd_presign(int argc, char **argv)
{
	static const lota_config_key keys[] = {
	    {.name = "endpoint",
	     .type = LOTA_CONFIG_STRING,
	     .required = true,
	     .metavar = "URL",
	     .help = "S3 endpoint, http[s]://host[:port]"},
	    {.name = "bucket", .type = LOTA_CONFIG_STRING, .required = true, .help = "bucket"},
	    {.name = "key", .type = LOTA_CONFIG_STRING, .required = true, .help = "object key"},
	    {.name = "method",
	     .type = LOTA_CONFIG_STRING,
	     .def = "GET",
	     .help = "HTTP method the URL is for"},
	    {.name = "expires",
	     .type = LOTA_CONFIG_DURATION,
	     .def = "1h",
	     .min = 1000,
	     .max = 604800000,
	     .help = "validity (at most 7d)"},
	};
	int status = 1;
	lota_config *cfg = parse(keys, sizeof(keys) / sizeof(keys[0]), argc, argv,
	                         "lota presign --endpoint URL --bucket B --key K", &status);
	if (!cfg)
		return status;
	const char *endpoint = lota_config_get_string(cfg, "endpoint");
	const char *bucket = lota_config_get_string(cfg, "bucket");
	const char *key = lota_config_get_string(cfg, "key");
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *region = getenv("AWS_REGION");
	const char *host = strstr(endpoint, "://");
	char path[8192], query[8192];
	int n, len;

	status = 2;
	if (!ak || !sk) {
		fprintf(stderr, "lota presign: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n");
		goto out;
	}
	if (!host || strncmp(endpoint, "http", 4) != 0 || host[3] == '\0' ||
	    strchr(host + 3, '/')) {
		fprintf(stderr, "lota presign: --endpoint \"%s\" is not http[s]://host[:port]\n",
		        endpoint);
		goto out;
	}
	host += 3;
	len = snprintf(path, sizeof(path), "/");
	n = lota_uri_encode(bucket, strlen(bucket), true, path + len, sizeof(path) - (size_t)len);
	if (n < 0)
		goto toolong;
	len += n;
	path[len++] = '/';
	n = lota_uri_encode(key, strlen(key), false, path + len, sizeof(path) - (size_t)len);
	if (n < 0)
		goto toolong;

	lota_http_header hdr = {LOTA_STR_LIT("Host"), view(host)};
	lota_sigv4_request req = {.method = view(lota_config_get_string(cfg, "method")),
	                          .path = view(path),
	                          .headers = &hdr,
	                          .num_headers = 1};
	lota_sigv4_params p =
	    LOTA_OPTS(lota_sigv4_params, .access_key = view(ak), .secret_key = view(sk),
	              .session_token = view(getenv("AWS_SESSION_TOKEN")),
	              .region = view(region ? region : "us-east-1"), .service = LOTA_STR_LIT("s3"),
	              .time = (int64_t)time(NULL));
	int64_t expires_s = lota_config_get_duration_ms(cfg, "expires") / 1000;
	n = lota_sigv4_presign(&p, &req, expires_s, query, sizeof(query));
	if (n < 0) {
		fprintf(stderr, "lota presign: %s\n", lota_strerror(n));
		status = 1;
		goto out;
	}
	printf("%.*s%s?%s\n", (int)(host - endpoint) + (int)strlen(host), endpoint, path, query);
	status = 0;
	goto out;
toolong:
	fprintf(stderr, "lota presign: bucket or key too long\n");
out:
	lota_config_free(cfg);
	return status;
}

static int cmd_owner(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "s3://", 5) == 0)
			return lota_cmd_owner_live(argc, argv);
	static const lota_config_key keys[] = {
	    {.name = "node",
	     .type = LOTA_CONFIG_LIST,
	     .required = true,
	     .metavar = "ID[=WEIGHT]",
	     .help = "a cluster node (repeat for each node; weight defaults to 1)"},
	    {.name = "bucket", .type = LOTA_CONFIG_STRING, .required = true, .help = "bucket"},
	    {.name = "key", .type = LOTA_CONFIG_STRING, .required = true, .help = "object key"},
	    {.name = "etag",
	     .type = LOTA_CONFIG_STRING,
	     .required = true,
	     .help = "the object's ETag, quotes included"},
	    {.name = "size",
	     .type = LOTA_CONFIG_SIZE,
	     .required = true,
	     .help = "the object's size"},
	    {.name = "version_id", .type = LOTA_CONFIG_STRING, .help = "version id, if any"},
	    {.name = "extent_size",
	     .type = LOTA_CONFIG_SIZE,
	     .def = "64MiB",
	     .min = 1,
	     .max = -1,
	     .help = "extent size of the cluster"},
	    {.name = "offset",
	     .type = LOTA_CONFIG_SIZE,
	     .def = "0",
	     .help = "byte offset whose extent to place"},
	};
	int status = 1;
	lota_config *cfg =
	    parse(keys, sizeof(keys) / sizeof(keys[0]), argc, argv,
	          "lota owner --node ID[=W]... --bucket B --key K --etag E --size N", &status);
	if (!cfg)
		return status;
	lota_placement *pl = lota_placement_new();
	const char *const *nodes;
	size_t nn = lota_config_get_list(cfg, "node", &nodes);
	uint64_t size = lota_config_get_size(cfg, "size");
	uint64_t extent = lota_config_get_size(cfg, "extent_size");
	uint64_t offset = lota_config_get_size(cfg, "offset");
	size_t *rank = calloc(nn ? nn : 1, sizeof(*rank));
	status = 2;
	if (!pl || !rank) {
		status = 1;
		goto out;
	}
	for (size_t i = 0; i < nn; i++) {
		const char *eq = strchr(nodes[i], '=');
		size_t idlen = eq ? (size_t)(eq - nodes[i]) : strlen(nodes[i]);
		double w = 1.0;
		if (eq) {
			char *end;
			errno = 0;
			w = strtod(eq + 1, &end);
			if (errno || *end || end == eq + 1) {
				fprintf(stderr, "lota owner: --node %s: weight is not a number\n",
				        nodes[i]);
				goto out;
			}
		}
		int rc = lota_placement_add_node(pl, nodes[i], idlen, w);
		if (rc < 0) {
			fprintf(stderr, "lota owner: --node %s: %s\n", nodes[i], lota_strerror(rc));
			goto out;
		}
	}
	/* The extent holding the offset, and its name, exactly as lotad computes them. */
	uint64_t index;
	int rc = lota_extent_index(size, extent, offset, &index);
	if (rc == -ERANGE && size == 0) {
		fprintf(stderr, "lota owner: a 0-byte object has no extent (lotad does not cache "
		                "it)\n");
		goto out;
	}
	if (rc == -ERANGE) {
		fprintf(stderr, "lota owner: --offset %llu is beyond the object (%llu bytes)\n",
		        (unsigned long long)offset, (unsigned long long)size);
		goto out;
	}
	lota_object_id obj = {.bucket = view(lota_config_get_string(cfg, "bucket")),
	                      .key = view(lota_config_get_string(cfg, "key")),
	                      .etag = view(lota_config_get_string(cfg, "etag")),
	                      .version_id = view(lota_config_get_string(cfg, "version_id")),
	                      .size_bytes = size};
	lota_hash128 h;
	if (rc == 0)
		rc = lota_extent_name(&obj, extent, index, &h);
	if (rc == 0)
		rc = lota_placement_rank(pl, h, rank, nn);
	if (rc < 0) {
		fprintf(stderr, "lota owner: %s\n", lota_strerror(rc));
		status = 1;
		goto out;
	}
	char hex[LOTA_HASH128_HEX_LEN + 1];
	lota_hash128_format(h, hex);
	printf("extent %llu name %s\n", (unsigned long long)index, hex);
	for (int i = 0; i < rc; i++) {
		lota_str id = lota_placement_node_id(pl, rank[i]);
		printf("%d %.*s\n", i + 1, (int)id.len, id.ptr);
	}
	status = 0;
out:
	free(rank);
	lota_placement_free(pl);
	lota_config_free(cfg);
	return status;
}

static int cmd_profile(int argc, char **argv)
{
	static const lota_config_key keys[] = {
	    {.name = "profile",
	     .type = LOTA_CONFIG_STRING,
	     .metavar = "NAME",
	     .help = "the profile to use, like aws --profile (default: AWS_PROFILE, else "
	             "\"default\")"},
	};
	static const struct {
		lota_aws_field field;
		const char *name;
		bool secret;
	} rows[] = {
	    {LOTA_AWS_FIELD_PROFILE, "profile", false},
	    {LOTA_AWS_FIELD_ACCESS_KEY_ID, "access_key_id", false},
	    {LOTA_AWS_FIELD_SECRET_ACCESS_KEY, "secret_access_key", true},
	    {LOTA_AWS_FIELD_SESSION_TOKEN, "session_token", true},
	    {LOTA_AWS_FIELD_REGION, "region", false},
	    {LOTA_AWS_FIELD_ENDPOINT_URL, "endpoint_url", false},
	    {LOTA_AWS_FIELD_CREDENTIALS_FILE, "credentials_file", false},
	    {LOTA_AWS_FIELD_CONFIG_FILE, "config_file", false},
	    {LOTA_AWS_FIELD_S3_ADDRESSING_STYLE, "s3.addressing_style", false},
	};
	int status = 1;
	lota_config *cfg = parse(keys, sizeof(keys) / sizeof(keys[0]), argc, argv,
	                         "lota profile [--profile NAME]", &status);
	if (!cfg)
		return status;
	lota_aws_resolve_opts o =
	    LOTA_OPTS(lota_aws_resolve_opts, .profile = lota_config_get_string(cfg, "profile"));
	lota_aws_profile *p = NULL;
	char err[LOTA_AWSCONF_ERR_LEN];
	int rc = lota_aws_profile_resolve(&o, &p, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "lota profile: %s\n", err[0] ? err : lota_strerror(rc));
		goto out;
	}
	/* "name value (origin)", or "name -" when there is none */
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *v = lota_aws_profile_get(p, rows[i].field);
		if (!v)
			printf("%s -\n", rows[i].name);
		else
			printf("%s %s (%s)\n", rows[i].name, rows[i].secret ? "set" : v,
			       lota_aws_profile_origin(p, rows[i].field));
	}
	status = 0;
out:
	lota_aws_profile_free(p);
	lota_config_free(cfg);
	return status;
}

/* The path of the node CA's bundle (the system roots + lotad's node CA, made by lotad
 * --tls-listen in its --ca-dir), for programs redirected to lotad's HTTPS endpoint without
 * the LD_PRELOAD shim: SSL_CERT_FILE=$(lota ca-bundle). Exit 1 when it is not there. */
static int cmd_ca_bundle(int argc, char **argv)
{
	static const lota_config_key keys[] = {
	    {.name = "ca_dir",
	     .type = LOTA_CONFIG_STRING,
	     .def = "/var/lib/lota/ca",
	     .metavar = "DIR",
	     .help = "lotad's --ca-dir"},
	};
	int status = 1;
	lota_config *cfg = parse(keys, sizeof(keys) / sizeof(keys[0]), argc, argv,
	                         "lota ca-bundle [--ca-dir DIR]", &status);
	if (!cfg)
		return status;
	char path[4096];
	const char *dir = lota_config_get_string(cfg, "ca_dir");
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	if (snprintf(path, sizeof(path), "%.*s/bundle.pem", (int)dl, dir) >= (int)sizeof(path)) {
		fprintf(stderr, "lota ca-bundle: --ca-dir is too long\n");
		status = 2;
	} else if (access(path, R_OK) != 0) {
		fprintf(stderr,
		        "lota ca-bundle: %s: %s (lotad makes it when started with "
		        "--tls-listen)\n",
		        path, strerror(errno));
	} else {
		printf("%s\n", path);
		status = 0;
	}
	lota_config_free(cfg);
	return status;
}

/* The subcommands: one line each (name, function, what it does). */
static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
    {"cp", lota_cmd_cp, "copy objects: S3 <-> file, stdin/stdout, --recursive"},
    {"ls", lota_cmd_ls, "list objects under s3://bucket/prefix"},
    {"rm", lota_cmd_rm, "delete an object, or a prefix with --recursive"},
    {"prestage", lota_cmd_prestage, "ask lotad to cache every object under a prefix"},
    {"cluster", lota_cmd_cluster, "the cluster's members, state, cache use and hit rate"},
    {"bench", lota_cmd_bench,
     "bench get|put: throughput, ops/s, latency p50/p99; bench cipher: AES-GCM per core"},
    {"presign", cmd_presign, "a presigned URL"},
    {"owner", cmd_owner, "which node holds an extent"},
    {"profile", cmd_profile, "the resolved AWS profile"},
    {"ca-bundle", cmd_ca_bundle, "the path of the node CA's bundle (lotad --tls-listen)"},
};

static void print_usage(FILE *out)
{
	fprintf(out, "usage: lota COMMAND [ARGS] (lota COMMAND --help)\n\ncommands:\n");
	fprintf(out, "  %-9s %s\n", "version", "the version of lota");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\nS3 commands take --endpoint-url URL, --profile NAME, --region R and "
	             "s3://bucket/key URIs.\nExit status: 0 done, 1 failed, 2 usage.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("lota %s\n", lota_version());
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return 0;
	}
	/* `lota --endpoint-url URL cp ...`, as `aws --endpoint-url URL s3 cp ...`: the
	 * command is the first argument that is not a flag or a common flag's value; it
	 * moves to the front (the S3 commands take their flags anywhere). */
	int at = 1;
	while (at < argc && argv[at][0] == '-' && strcmp(argv[at], "-") != 0) {
		bool takes_value = false;
		for (size_t k = 0; k < lota_tool_common_nkeys && !strchr(argv[at], '='); k++) {
			char flag[64];
			snprintf(flag, sizeof(flag), "--%s", lota_tool_common_keys[k].name);
			for (char *p = flag; *p; p++)
				if (*p == '_')
					*p = '-';
			takes_value =
			    takes_value || (lota_tool_common_keys[k].type != LOTA_CONFIG_BOOL &&
			                    strcmp(argv[at], flag) == 0);
		}
		at += takes_value ? 2 : 1;
	}
	for (char *moved = at < argc ? argv[at] : NULL; moved && at > 1; at--)
		argv[at] = argv[at - 1], argv[at - 1] = moved;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "lota: unknown command \"%s\"\n", argv[1]);
	print_usage(stderr);
	return 2;
}
