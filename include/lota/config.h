/*
 * lota/config.h - one configuration schema, filled from a JSON file and from command-line
 * flags, with sizes ("64MiB", "1TiB", "4096"), durations ("15s", "250ms", "2m", "1h") and
 * exact error messages.
 *
 * A program describes its keys once in a lota_config_key table (name, type, default,
 * bounds, help). Every key `foo_bar` is also the flag `--foo-bar VALUE` or
 * `--foo-bar=VALUE` (booleans: `--foo-bar`, `--no-foo-bar`, `--foo-bar=true|false`).
 * Precedence: defaults < JSON file < flags. List keys (LOTA_CONFIG_LIST) accumulate
 * values from repeated flags; flags replace the file's list as a whole. Unknown JSON
 * keys and unknown flags are errors, never ignored. Every error message names the key
 * (or flag) and the reason, e.g.
 *   config key "extent_size": "64XB" is not a size (use a number with B, KiB, MiB, GiB or TiB)
 *   unknown config key "extnet_size" (did you mean "extent_size"?)
 *   flag --workers: 0 is below the minimum 1
 *   config file /etc/lota/lotad.json: line 3: syntax error at column 7
 *
 * Value syntax (flags, JSON strings and defaults alike):
 * - size: a decimal number, optionally with a fraction, optional spaces, an optional unit
 *   (case-insensitive): B; KiB MiB GiB TiB PiB (powers of 1024); K KB M MB G GB T TB P PB
 *   (powers of 1000). "64MiB", "1.5GiB", "4096", "10 GB". The result must be a whole
 *   number of bytes ("0.3KiB" is refused) that fits uint64. No sign, no exponent.
 * - duration: a decimal number (fraction allowed) with ms, s, m, h or d (lower case);
 *   a bare number is seconds. "250ms", "1.5s", "2m", "15". Must be whole milliseconds
 *   and fit int64. Negative values are refused.
 * - bool: true/false, yes/no, on/off, 1/0 (case-insensitive).
 * - int: an optional sign and decimal digits, within int64.
 * In JSON, INT/SIZE/DURATION/BOOL also take a string in the syntax above; a number is
 * bytes for a SIZE (an integer up to 2^53) and seconds for a DURATION (fractions
 * allowed). A key given twice is an error; `null` puts a key back to its default. The
 * JSON text may be at most 1 MiB (LOTA_E_TOO_LARGE).
 *
 * Flags: parsing stops at the first argument that is not a flag, or after "--". A value
 * flag followed by another "--flag" (or by nothing) is "missing value"; write
 * `--x=--odd` for such values. Booleans never consume the next argument. `--no-LIST`
 * clears a list. `-h`/`--help` are built in unless a key takes them.
 *
 * Thread-safety: loads and parse_args modify cfg and must not run concurrently with
 * anything else on it; once loaded, any number of threads may call the getters.
 */
#ifndef LOTA_CONFIG_H
#define LOTA_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <lota/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lota_config_type {
	LOTA_CONFIG_BOOL = 0,
	LOTA_CONFIG_INT = 1,      /* int64, bounds min..max */
	LOTA_CONFIG_SIZE = 2,     /* bytes as uint64: number with optional unit B/KiB/MiB/GiB/TiB
				     (also K/M/G/T and KB/MB/GB/TB = powers of 1000) */
	LOTA_CONFIG_DURATION = 3, /* milliseconds as int64: number with unit ms/s/m/h/d
				     (a bare number is seconds) */
	LOTA_CONFIG_STRING = 4,
	LOTA_CONFIG_LIST = 5, /* list of strings; JSON array or repeated flag */
} lota_config_type;

typedef struct lota_config_key {
	const char *name; /* snake_case; the flag is --name-with-dashes */
	lota_config_type type;
	const char *def;     /* default as text (parsed like a flag value; for a LIST,
				    comma-separated items); NULL = none */
	int64_t min, max;    /* inclusive bounds for INT/SIZE/DURATION; min == max == 0: none;
				    max < min: only the minimum applies */
	bool required;       /* must have a value after file and flags */
	bool secret;         /* never printed by lota_config_dump() */
	char short_flag;     /* optional single-letter flag (-l), 0 = none */
	const char *metavar; /* for --help, e.g. "HOST:PORT" */
	const char *help;    /* one line */
} lota_config_key;

typedef struct lota_config lota_config;

/* A config for `keys` (n entries; the table must outlive the config), all defaults
 * applied. Returns NULL only on allocation failure. A broken table (NULL with n > 0, a
 * bad or duplicate name, an unknown type, a duplicate short flag, a default that does
 * not parse or is out of bounds) is a programming error that is reported, not fatal: the
 * config is returned without any key, and lota_config_load_file(), _load_json(),
 * _parse_args() and _validate() on it all return LOTA_E_CONFIG_SCHEMA, with
 * lota_config_error() naming the key and the fault ("config schema: key \"x\" is
 * declared twice"). */
LOTA_API lota_config *lota_config_new(const lota_config_key *keys, size_t n);
LOTA_API void lota_config_free(lota_config *cfg);

/* Load a JSON object from a file / from memory (no NUL needed). On error, returns a
 * LOTA_E_CONFIG_* code (or -errno for the file, LOTA_E_TOO_LARGE above 1 MiB) and
 * lota_config_error() says which key and why. Nothing is changed in cfg on error (the
 * load is all-or-nothing). */
LOTA_API int lota_config_load_file(lota_config *cfg, const char *path) LOTA_WUR;
LOTA_API int lota_config_load_json(lota_config *cfg, const char *json, size_t len) LOTA_WUR;

/*
 * Apply command-line flags argv[1..argc). `--config FILE` (if `config_key` names a STRING
 * key, e.g. "config"; any other config_key is LOTA_E_CONFIG_SCHEMA) is loaded first,
 * wherever it appears, then the other flags on top.
 * `--help`/`-h` sets *help_requested and stops. Arguments that are not flags (and all
 * after "--") are returned through *positional_start (index of the first one; argc when
 * there are none) or are an error when positional_start is NULL. All-or-nothing like the
 * loaders. Several --config flags load their files in order. With help_requested NULL,
 * --help is an unknown flag. A default config file, if any, is the caller's business:
 * load it with lota_config_load_file() before this call.
 */
LOTA_API int lota_config_parse_args(lota_config *cfg, int argc, char *const argv[],
                                    const char *config_key, bool *help_requested,
                                    int *positional_start) LOTA_WUR;

/* Checks `required` keys (a required LIST needs at least one item). Returns 0 or
 * LOTA_E_CONFIG_MISSING with the message set. Not called by the loaders. */
LOTA_API int lota_config_validate(lota_config *cfg) LOTA_WUR;

/* The message of the last error ("" when none). Valid until the next call on cfg. */
LOTA_API const char *lota_config_error(const lota_config *cfg);

/* Getters. Strings are owned by cfg; NULL when unset. A key that does not exist, or has
 * another type, or a NULL argument, is a programming error: the getter returns the zero
 * value (false, 0, NULL; a list of 0 items with *items NULL) and sets errno to ENOENT
 * (no such key) or EINVAL; errno is left alone otherwise. lota_config_is_set() takes a
 * key of any type. */
LOTA_API bool lota_config_get_bool(const lota_config *cfg, const char *name);
LOTA_API int64_t lota_config_get_int(const lota_config *cfg, const char *name);
LOTA_API uint64_t lota_config_get_size(const lota_config *cfg, const char *name);
LOTA_API int64_t lota_config_get_duration_ms(const lota_config *cfg, const char *name);
LOTA_API const char *lota_config_get_string(const lota_config *cfg, const char *name);
LOTA_API size_t lota_config_get_list(const lota_config *cfg, const char *name,
                                     const char *const **items);
/* Whether the key was set by the file or a flag (not only its default). */
LOTA_API bool lota_config_is_set(const lota_config *cfg, const char *name);

/* Write --help text for all keys (flag, metavar, default, help) to `out`. */
LOTA_API void lota_config_print_help(const lota_config *cfg, FILE *out, const char *usage);
/* Write the effective config as JSON (secrets shown as "REDACTED", keys without a value
 * as null, sizes and durations as strings in their largest exact unit). Loading the
 * output again gives the same config, secrets aside. */
LOTA_API void lota_config_dump(const lota_config *cfg, FILE *out);

/* The value parsers, also usable alone. Return 0 or LOTA_E_CONFIG_VALUE. */
LOTA_API int lota_parse_size(const char *s, size_t len, uint64_t *bytes) LOTA_WUR;
LOTA_API int lota_parse_duration_ms(const char *s, size_t len, int64_t *ms) LOTA_WUR;
LOTA_API int lota_parse_bool(const char *s, size_t len, bool *out) LOTA_WUR;

/* The inverse of the parsers: the largest exact unit ("64MiB", "4097", "90s", "250ms").
 * snprintf semantics: returns the length the full text needs. 32 bytes always suffice. */
LOTA_API int lota_format_size(uint64_t bytes, char *out, size_t cap);
LOTA_API int lota_format_duration_ms(int64_t ms, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
