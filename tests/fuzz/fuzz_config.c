/*
 * fuzz_config.c - arbitrary bytes into the config loaders and value parsers, with a small
 * fixed schema holding every key type. Besides "no crash, no leak" it checks properties:
 * a failed load changes nothing (the dump is byte-identical before and after), a
 * successful load dumps to JSON that loads again to the same values, and a parsed size
 * or duration formats back to text that parses to the same number. The same bytes, cut
 * at newlines, are also fed to the flag parser as argv.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/config.h>

static const lota_config_key keys[] = {
    {"name", LOTA_CONFIG_STRING, "n", 0, 0, false, false, 'n', "NAME", "a string"},
    {"config", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 'c', "FILE", "config file"},
    {"count", LOTA_CONFIG_INT, "4", 1, 64, false, false, 'w', NULL, "bounded int"},
    {"delta", LOTA_CONFIG_INT, NULL, 0, 0, false, false, 0, NULL, "unbounded int"},
    {"size", LOTA_CONFIG_SIZE, "64MiB", 4096, 1ll << 40, false, false, 0, NULL, "a size"},
    {"any_size", LOTA_CONFIG_SIZE, NULL, 0, 0, false, false, 0, NULL, "unbounded size"},
    {"ttl", LOTA_CONFIG_DURATION, "15s", 1, 0, false, false, 0, NULL, "a duration"},
    {"flag", LOTA_CONFIG_BOOL, "true", 0, 0, false, false, 'f', NULL, "a boolean"},
    {"items", LOTA_CONFIG_LIST, "a,b", 0, 0, false, false, 'i', NULL, "a list"},
    {"password", LOTA_CONFIG_STRING, NULL, 0, 0, true, true, 0, NULL, "a secret"},
};
#define NK (sizeof(keys) / sizeof(keys[0]))

static char *dump(const lota_config *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		abort();
	lota_config_dump(c, f);
	fclose(f);
	return buf;
}

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

static void same_values(const lota_config *a, const lota_config *b)
{
	check(lota_config_get_int(a, "count") == lota_config_get_int(b, "count"), "count");
	check(lota_config_get_int(a, "delta") == lota_config_get_int(b, "delta"), "delta");
	check(lota_config_get_size(a, "size") == lota_config_get_size(b, "size"), "size");
	check(lota_config_get_size(a, "any_size") == lota_config_get_size(b, "any_size"),
	      "any_size");
	check(lota_config_get_duration_ms(a, "ttl") == lota_config_get_duration_ms(b, "ttl"),
	      "ttl");
	check(lota_config_get_bool(a, "flag") == lota_config_get_bool(b, "flag"), "flag");
	const char *const *ia, *const *ib;
	size_t na = lota_config_get_list(a, "items", &ia);
	check(na == lota_config_get_list(b, "items", &ib), "items count");
	for (size_t i = 0; i < na; i++)
		check(strcmp(ia[i], ib[i]) == 0, "items");
	const char *sa = lota_config_get_string(a, "name"), *sb = lota_config_get_string(b, "name");
	check((!sa && !sb) || (sa && sb && strcmp(sa, sb) == 0), "name");
}

static void fuzz_json(const uint8_t *data, size_t size)
{
	lota_config *c = lota_config_new(keys, NK);
	if (!c)
		return;
	size_t l0, l1;
	char *before = dump(c, &l0);
	int rc = lota_config_load_json(c, (const char *)data, size);
	char *after = dump(c, &l1);
	if (rc != 0) {
		check(l0 == l1 && memcmp(before, after, l0) == 0, "failed load changed cfg");
		check(lota_config_error(c)[0] != '\0', "error without message");
	} else {
		/* The dump reloads to the same values. */
		lota_config *c2 = lota_config_new(keys, NK);
		if (c2) {
			check(lota_config_load_json(c2, after, l1) == 0, "dump does not reload");
			same_values(c, c2);
			lota_config_free(c2);
		}
		rc = lota_config_validate(c);
		check(rc == 0 || rc == LOTA_E_CONFIG_MISSING, "validate code");
	}
	free(before);
	free(after);
	lota_config_free(c);
}

static void fuzz_args(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	char *argv[17] = {"fuzz"};
	int argc = 1;
	if (!copy)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy; argc < 16;) {
		argv[argc++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	argv[argc] = NULL;
	lota_config *c = lota_config_new(keys, NK);
	if (c) {
		bool help;
		int pos;
		size_t l0, l1;
		char *before = dump(c, &l0);
		/* No config_key: the fuzzer must not open files named by its input. */
		int rc = lota_config_parse_args(c, argc, argv, NULL, &help, &pos);
		char *after = dump(c, &l1);
		if (rc != 0)
			check(l0 == l1 && memcmp(before, after, l0) == 0,
			      "failed parse changed cfg");
		else
			check(help || (pos >= 1 && pos <= argc), "positional index");
		free(before);
		free(after);
		lota_config_free(c);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char buf[64];
	uint64_t bytes, back;
	int64_t ms, ms2;
	bool b;
	if (lota_parse_size(s, size, &bytes) == 0) {
		lota_format_size(bytes, buf, sizeof(buf));
		check(lota_parse_size(buf, strlen(buf), &back) == 0 && back == bytes,
		      "size round trip");
	}
	if (lota_parse_duration_ms(s, size, &ms) == 0) {
		check(ms >= 0, "negative duration");
		lota_format_duration_ms(ms, buf, sizeof(buf));
		check(lota_parse_duration_ms(buf, strlen(buf), &ms2) == 0 && ms2 == ms,
		      "duration round trip");
	}
	if (lota_parse_bool(s, size, &b) == 0)
		check(size >= 1 && size <= 5, "bool length");
	fuzz_json(data, size);
	if (size <= 4096)
		fuzz_args(data, size);
	return 0;
}
