/*
 * config.c - the configuration schema: defaults, a JSON file (cJSON), command-line flags,
 * value parsers for sizes / durations / booleans, --help and a redacted dump.
 *
 * Invariants:
 * - cfg->vals[i] always holds a valid value for keys[i] (or none), within its bounds.
 * - Every load works on a deep copy of the values and swaps it in only when the whole
 *   input was accepted, so a failed load leaves cfg exactly as it was.
 * - Error messages name the key ("config key \"x\"", "flag --x") and the reason; user
 *   text in them is quoted, escaped and truncated; secret values never appear in them.
 * - Inputs are capped: JSON at LOTA_CONFIG_MAX_JSON bytes, list items per key.
 * - Nothing here aborts the program. A broken key table (a programming error of the
 *   caller) leaves an empty config whose loads, flag parsing and validation all return
 *   LOTA_E_CONFIG_SCHEMA with the reason; a getter asked for a key that does not exist
 *   (or has another type) returns the zero value and sets errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <lota/config.h>

#define MAX_JSON       (1u << 20)
#define MAX_LIST_ITEMS 4096
#define SHOW_MAX       64 /* bytes of a user value quoted in a message */

struct value {
	bool has; /* holds a value (default, file or flag) */
	bool set; /* set by a file or a flag */
	union {
		bool b;
		int64_t i;
		uint64_t u;
	} n;
	char *s;      /* STRING */
	char **items; /* LIST */
	size_t nitems;
};

struct lota_config {
	const lota_config_key *keys;
	size_t n;
	struct value *vals;
	int schema_rc; /* LOTA_E_CONFIG_SCHEMA when the key table is broken (then n == 0) */
	char err[1536];
};

static int seterr(lota_config *cfg, int code, const char *fmt, ...) LOTA_PRINTF(3, 4);
static int seterr(lota_config *cfg, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cfg->err, sizeof(cfg->err), fmt, ap);
	va_end(ap);
	return code;
}

/* Quote user text for a message: "..." with escapes, truncated. out >= SHOW_MAX*4+8. */
static const char *quote(char *out, size_t cap, const char *s, size_t len)
{
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < len && o + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == SHOW_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* ---- value parsers ------------------------------------------------------------------ */

enum why {
	WHY_OK = 0,
	WHY_SYNTAX,
	WHY_NEGATIVE,
	WHY_RANGE,
	WHY_FRACTION,
};

static bool ieq(const char *a, size_t alen, const char *b)
{
	size_t bl = strlen(b);
	if (alen != bl)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/*
 * A non-negative decimal "123" or "1.25" at the start of s, then optional spaces, then
 * the unit (the rest). Fraction digits beyond 19 (after dropping trailing zeros) give
 * WHY_FRACTION; an integer part beyond uint64 gives WHY_RANGE.
 */
struct decimal {
	uint64_t ip, frac, den; /* value = ip + frac / den */
	const char *unit;
	size_t unit_len;
};

static enum why scan_decimal(const char *s, size_t len, struct decimal *d)
{
	size_t i = 0;
	bool neg = false, range = false;
	if (len > 0 && s[0] == '-') {
		neg = true;
		i++;
	}
	size_t start = i;
	d->ip = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		unsigned dig = (unsigned)(s[i] - '0');
		if (d->ip > (UINT64_MAX - dig) / 10)
			range = true;
		else
			d->ip = d->ip * 10 + dig;
		i++;
	}
	if (i == start)
		return WHY_SYNTAX;
	d->frac = 0;
	d->den = 1;
	bool too_fine = false;
	if (i < len && s[i] == '.') {
		i++;
		size_t fs = i, last_nz = i;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (s[i] != '0')
				last_nz = i + 1;
			i++;
		}
		if (i == fs)
			return WHY_SYNTAX;
		if (last_nz - fs > 19)
			too_fine = true;
		else
			for (size_t j = fs; j < last_nz; j++) {
				d->frac = d->frac * 10 + (uint64_t)(s[j] - '0');
				d->den *= 10;
			}
	}
	while (i < len && s[i] == ' ')
		i++;
	d->unit = s + i;
	d->unit_len = len - i;
	if (s[len - 1] == ' ')
		return WHY_SYNTAX;
	if (neg)
		return WHY_NEGATIVE;
	if (range)
		return WHY_RANGE;
	if (too_fine)
		return WHY_FRACTION;
	return WHY_OK;
}

/* (ip + frac/den) * mult as an exact integer <= max. */
static enum why scale(const struct decimal *d, uint64_t mult, uint64_t max, uint64_t *out)
{
	unsigned __int128 whole = (unsigned __int128)d->ip * mult;
	unsigned __int128 part = (unsigned __int128)d->frac * mult;
	if (part % d->den != 0)
		return WHY_FRACTION;
	whole += part / d->den;
	if (whole > max)
		return WHY_RANGE;
	*out = (uint64_t)whole;
	return WHY_OK;
}

static const struct unit {
	const char *name;
	uint64_t mult;
} size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1000ull},
    {"kb", 1000ull},
    {"kib", 1ull << 10},
    {"m", 1000000ull},
    {"mb", 1000000ull},
    {"mib", 1ull << 20},
    {"g", 1000000000ull},
    {"gb", 1000000000ull},
    {"gib", 1ull << 30},
    {"t", 1000000000000ull},
    {"tb", 1000000000000ull},
    {"tib", 1ull << 40},
    {"p", 1000000000000000ull},
    {"pb", 1000000000000000ull},
    {"pib", 1ull << 50},
};

static enum why size_why(const char *s, size_t len, uint64_t *bytes)
{
	struct decimal d;
	if (!s)
		return WHY_SYNTAX;
	enum why w = scan_decimal(s, len, &d);
	if (w == WHY_SYNTAX)
		return w;
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
		if (ieq(d.unit, d.unit_len, size_units[i].name))
			return w != WHY_OK ? w : scale(&d, size_units[i].mult, UINT64_MAX, bytes);
	return WHY_SYNTAX;
}

static const struct unit dur_units[] = {
    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

static enum why duration_why(const char *s, size_t len, int64_t *ms)
{
	struct decimal d;
	if (!s)
		return WHY_SYNTAX;
	enum why w = scan_decimal(s, len, &d);
	if (w == WHY_SYNTAX)
		return w;
	for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
		if (d.unit_len != strlen(dur_units[i].name) ||
		    memcmp(d.unit, dur_units[i].name, d.unit_len) != 0)
			continue;
		if (w != WHY_OK)
			return w;
		uint64_t v;
		w = scale(&d, dur_units[i].mult, INT64_MAX, &v);
		if (w == WHY_OK)
			*ms = (int64_t)v;
		return w;
	}
	return WHY_SYNTAX;
}

int lota_parse_size(const char *s, size_t len, uint64_t *bytes)
{
	uint64_t v;
	if (!bytes || size_why(s, len, &v) != WHY_OK)
		return LOTA_E_CONFIG_VALUE;
	*bytes = v;
	return 0;
}

int lota_parse_duration_ms(const char *s, size_t len, int64_t *ms)
{
	int64_t v;
	if (!ms || duration_why(s, len, &v) != WHY_OK)
		return LOTA_E_CONFIG_VALUE;
	*ms = v;
	return 0;
}

int lota_parse_bool(const char *s, size_t len, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	if (!s || !out)
		return LOTA_E_CONFIG_VALUE;
	for (int i = 0; i < 4; i++) {
		if (ieq(s, len, yes[i])) {
			*out = true;
			return 0;
		}
		if (ieq(s, len, no[i])) {
			*out = false;
			return 0;
		}
	}
	return LOTA_E_CONFIG_VALUE;
}

static enum why int_why(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t v = 0, lim = (uint64_t)INT64_MAX;
	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i++;
	}
	if (i == len)
		return WHY_SYNTAX;
	bool range = false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return WHY_SYNTAX;
		unsigned dig = (unsigned)(s[i] - '0');
		if (v > (lim + neg - dig) / 10)
			range = true;
		else
			v = v * 10 + dig;
	}
	if (range)
		return WHY_RANGE;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return WHY_OK;
}

int lota_format_size(uint64_t bytes, char *out, size_t cap)
{
	static const char *const names[] = {"PiB", "TiB", "GiB", "MiB", "KiB"};
	for (int i = 0; i < 5 && bytes; i++) {
		uint64_t m = 1ull << (10 * (5 - i));
		if (bytes % m == 0)
			return snprintf(out, cap, "%llu%s", (unsigned long long)(bytes / m),
			                names[i]);
	}
	return snprintf(out, cap, "%llu", (unsigned long long)bytes);
}

int lota_format_duration_ms(int64_t ms, char *out, size_t cap)
{
	static const struct unit u[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
	if (ms == 0)
		return snprintf(out, cap, "0s");
	for (int i = 0; i < 4; i++)
		if (ms % (int64_t)u[i].mult == 0)
			return snprintf(out, cap, "%lld%s", (long long)(ms / (int64_t)u[i].mult),
			                u[i].name);
	return snprintf(out, cap, "%lldms", (long long)ms);
}

/* ---- values ------------------------------------------------------------------------- */

static void wipe_free(char *s, bool secret)
{
	if (s && secret)
		explicit_bzero(s, strlen(s));
	free(s);
}

static void clear_value(struct value *v, const lota_config_key *k)
{
	wipe_free(v->s, k->secret);
	for (size_t i = 0; i < v->nitems; i++)
		wipe_free(v->items[i], k->secret);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static void free_values(struct value *vals, const lota_config_key *keys, size_t n)
{
	if (!vals)
		return;
	for (size_t i = 0; i < n; i++)
		clear_value(&vals[i], &keys[i]);
	free(vals);
}

static char *dupn(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

static int copy_value(struct value *dst, const struct value *src)
{
	*dst = *src;
	dst->s = NULL;
	dst->items = NULL;
	dst->nitems = 0;
	if (src->s && !(dst->s = strdup(src->s)))
		return -ENOMEM;
	if (src->nitems) {
		dst->items = calloc(src->nitems, sizeof(char *));
		if (!dst->items)
			return -ENOMEM;
		for (; dst->nitems < src->nitems; dst->nitems++)
			if (!(dst->items[dst->nitems] = strdup(src->items[dst->nitems])))
				return -ENOMEM;
	}
	return 0;
}

static struct value *clone_values(const lota_config *cfg)
{
	struct value *v = calloc(cfg->n ? cfg->n : 1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < cfg->n; i++)
		if (copy_value(&v[i], &cfg->vals[i]) != 0) {
			free_values(v, cfg->keys, cfg->n);
			return NULL;
		}
	return v;
}

static int list_append(struct value *v, const char *s, size_t len)
{
	if (v->nitems >= MAX_LIST_ITEMS)
		return LOTA_E_TOO_LARGE;
	char **ni = realloc(v->items, (v->nitems + 1) * sizeof(char *));
	if (!ni)
		return -ENOMEM;
	v->items = ni;
	if (!(v->items[v->nitems] = dupn(s, len)))
		return -ENOMEM;
	v->nitems++;
	v->has = true;
	return 0;
}

/* ---- applying one textual value ----------------------------------------------------- */

struct ctx {
	lota_config *cfg;
	struct value *vals;
	char where[700]; /* "config key \"x\"" or "flag --x" */
};

static bool bounded(const lota_config_key *k)
{
	return !(k->min == 0 && k->max == 0);
}

static void fmt_num(const lota_config_key *k, int64_t v, char *out, size_t cap)
{
	if (k->type == LOTA_CONFIG_SIZE)
		lota_format_size((uint64_t)v, out, cap);
	else if (k->type == LOTA_CONFIG_DURATION)
		lota_format_duration_ms(v, out, cap);
	else
		snprintf(out, cap, "%lld", (long long)v);
}

/* Bounds of INT/SIZE/DURATION. `huge`: a SIZE above INT64_MAX (above any maximum). */
static int check_bounds(struct ctx *c, const lota_config_key *k, int64_t v, bool huge)
{
	char a[64], b[64];
	if (!bounded(k))
		return 0;
	fmt_num(k, v, a, sizeof(a));
	if (huge)
		snprintf(a, sizeof(a), "the value");
	if (!huge && v < k->min) {
		fmt_num(k, k->min, b, sizeof(b));
		return seterr(c->cfg, LOTA_E_CONFIG_VALUE, "%s: %s is below the minimum %s",
		              c->where, a, b);
	}
	if (k->max >= k->min && (huge || v > k->max)) {
		fmt_num(k, k->max, b, sizeof(b));
		return seterr(c->cfg, LOTA_E_CONFIG_VALUE, "%s: %s is above the maximum %s",
		              c->where, a, b);
	}
	return 0;
}

static const char *why_text(const lota_config_key *k, enum why w)
{
	switch (w) {
	case WHY_NEGATIVE:
		return "is negative";
	case WHY_RANGE:
		return "is too large";
	case WHY_FRACTION:
		return k->type == LOTA_CONFIG_SIZE ? "is not a whole number of bytes"
		                                   : "is not a whole number of milliseconds";
	default:
		break;
	}
	switch (k->type) {
	case LOTA_CONFIG_BOOL:
		return "is not a boolean (use true or false)";
	case LOTA_CONFIG_INT:
		return "is not an integer";
	case LOTA_CONFIG_SIZE:
		return "is not a size (use a number with B, KiB, MiB, GiB or TiB)";
	case LOTA_CONFIG_DURATION:
		return "is not a duration (use a number with ms, s, m, h or d)";
	default:
		return "is not valid";
	}
}

/* `s` is user text (quoted in the message) or, with len == 0, a number shown as is. */
static int value_error(struct ctx *c, const lota_config_key *k, const char *s, size_t len,
                       enum why w)
{
	char q[SHOW_MAX * 4 + 16];
	if (k->secret)
		snprintf(q, sizeof(q), "the value");
	else if (len == 0 && s[0])
		snprintf(q, sizeof(q), "%s", s);
	else
		quote(q, sizeof(q), s, len);
	return seterr(c->cfg, LOTA_E_CONFIG_VALUE, "%s: %s %s", c->where, q, why_text(k, w));
}

/* Set a scalar (not LIST) from text; LIST gets one item appended. */
static int apply_text(struct ctx *c, size_t ki, const char *s, size_t len)
{
	const lota_config_key *k = &c->cfg->keys[ki];
	struct value *v = &c->vals[ki];
	enum why w = WHY_OK;
	bool b = false;
	int64_t i = 0;
	uint64_t u = 0;
	int rc;
	switch (k->type) {
	case LOTA_CONFIG_BOOL:
		if (lota_parse_bool(s, len, &b) != 0)
			return value_error(c, k, s, len, WHY_SYNTAX);
		v->n.b = b;
		break;
	case LOTA_CONFIG_INT:
		if ((w = int_why(s, len, &i)) != WHY_OK)
			return value_error(c, k, s, len, w);
		if ((rc = check_bounds(c, k, i, false)))
			return rc;
		v->n.i = i;
		break;
	case LOTA_CONFIG_SIZE:
		if ((w = size_why(s, len, &u)) != WHY_OK)
			return value_error(c, k, s, len, w);
		if ((rc = check_bounds(c, k, (int64_t)u, u > (uint64_t)INT64_MAX)))
			return rc;
		v->n.u = u;
		break;
	case LOTA_CONFIG_DURATION:
		if ((w = duration_why(s, len, &i)) != WHY_OK)
			return value_error(c, k, s, len, w);
		if ((rc = check_bounds(c, k, i, false)))
			return rc;
		v->n.i = i;
		break;
	case LOTA_CONFIG_STRING: {
		char *d = dupn(s, len);
		if (!d)
			return seterr(c->cfg, -ENOMEM, "%s: out of memory", c->where);
		wipe_free(v->s, k->secret);
		v->s = d;
		break;
	}
	case LOTA_CONFIG_LIST:
		rc = list_append(v, s, len);
		if (rc == LOTA_E_TOO_LARGE)
			return seterr(c->cfg, LOTA_E_CONFIG_VALUE, "%s: more than %d items",
			              c->where, MAX_LIST_ITEMS);
		if (rc)
			return seterr(c->cfg, rc, "%s: out of memory", c->where);
		break;
	}
	v->has = true;
	v->set = true;
	return 0;
}

/* Reset a value to the key's default (used by JSON null); defaults are pre-validated. */
static int apply_default(lota_config *cfg, struct value *vals, size_t ki)
{
	const lota_config_key *k = &cfg->keys[ki];
	struct value *v = &vals[ki];
	clear_value(v, k);
	if (!k->def)
		return 0;
	struct ctx c = {cfg, vals, ""};
	snprintf(c.where, sizeof(c.where), "default of config key \"%s\"", k->name);
	int rc;
	if (k->type == LOTA_CONFIG_LIST) {
		const char *p = k->def, *end = p + strlen(p);
		v->has = true;
		while (p < end) {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			const char *e = comma ? comma : end;
			if ((rc = apply_text(&c, ki, p, (size_t)(e - p))))
				return rc;
			p = comma ? comma + 1 : end;
		}
	} else if ((rc = apply_text(&c, ki, k->def, strlen(k->def)))) {
		return rc;
	}
	v->set = false;
	return 0;
}

/* ---- lookup and suggestions --------------------------------------------------------- */

/* Names compare with '-' == '_' so flags and keys share one spelling. */
static bool name_eq(const char *key, const char *s, size_t len)
{
	size_t i = 0;
	for (; i < len && key[i]; i++) {
		char a = key[i] == '-' ? '_' : key[i], b = s[i] == '-' ? '_' : s[i];
		if (a != b)
			return false;
	}
	return i == len && key[i] == '\0';
}

static int find_key(const lota_config *cfg, const char *s, size_t len)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (name_eq(cfg->keys[i].name, s, len))
			return (int)i;
	return -1;
}

static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t row[65];
	if (la > 64 || lb > 64)
		return 1000;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			char x = a[i - 1] == '-' ? '_' : a[i - 1];
			char y = b[j - 1] == '-' ? '_' : b[j - 1];
			size_t best = diag + (x != y);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = row[j];
			row[j] = best;
		}
	}
	return row[lb];
}

/* The closest key name, or NULL when nothing is close. */
static const char *suggest(const lota_config *cfg, const char *s, size_t len)
{
	const char *best = NULL;
	size_t bestd = len / 3 < 1 ? 1 : (len / 3 > 3 ? 3 : len / 3);
	bestd++;
	for (size_t i = 0; i < cfg->n; i++) {
		size_t d = edit_distance(s, len, cfg->keys[i].name, strlen(cfg->keys[i].name));
		if (d < bestd) {
			bestd = d;
			best = cfg->keys[i].name;
		}
	}
	return best;
}

static void flag_name(const char *key, char *out, size_t cap)
{
	snprintf(out, cap, "--%s", key);
	for (char *p = out; *p; p++)
		if (*p == '_')
			*p = '-';
}

/* ---- new / free / getters ----------------------------------------------------------- */

static bool valid_name(const char *n)
{
	if (!n || !*n)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* The key table is broken: drop the defaults applied so far (keys[0..applied)) and leave
 * a config without keys whose every load says why (the message is already in cfg->err
 * or is made here). The caller's table is never read again. */
static void schema_broken(lota_config *cfg, size_t applied, const char *fmt, ...) LOTA_PRINTF(3, 4);
static void schema_broken(lota_config *cfg, size_t applied, const char *fmt, ...)
{
	char msg[sizeof(cfg->err)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < applied; i++)
		clear_value(&cfg->vals[i], &cfg->keys[i]);
	cfg->n = 0;
	cfg->schema_rc = LOTA_E_CONFIG_SCHEMA;
	seterr(cfg, LOTA_E_CONFIG_SCHEMA, "config schema: %s", msg);
}

lota_config *lota_config_new(const lota_config_key *keys, size_t n)
{
	lota_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return NULL;
	cfg->keys = keys;
	cfg->n = n;
	cfg->vals = calloc(n ? n : 1, sizeof(struct value));
	if (!cfg->vals) {
		free(cfg);
		return NULL;
	}
	if (!keys && n) {
		schema_broken(cfg, 0, "no key table for %zu keys", n);
		return cfg;
	}
	for (size_t i = 0; i < n; i++) {
		char q[SHOW_MAX * 4 + 8];
		const char *name = keys[i].name;
		if (!valid_name(name)) {
			schema_broken(cfg, i, "key %zu has an invalid name %s (use a-z, 0-9 and _)",
			              i, name ? quote(q, sizeof(q), name, strlen(name)) : "(null)");
			return cfg;
		}
		if ((unsigned)keys[i].type > LOTA_CONFIG_LIST) {
			schema_broken(cfg, i, "key \"%s\" has an unknown type %d", name,
			              (int)keys[i].type);
			return cfg;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(name, keys[j].name) == 0) {
				schema_broken(cfg, i, "key \"%s\" is declared twice", name);
				return cfg;
			}
			if (keys[i].short_flag && keys[i].short_flag == keys[j].short_flag) {
				schema_broken(cfg, i, "short flag of key \"%s\" is taken by \"%s\"",
				              name, keys[j].name);
				return cfg;
			}
		}
		int rc = apply_default(cfg, cfg->vals, i);
		if (rc == -ENOMEM) {
			lota_config_free(cfg);
			return NULL;
		}
		if (rc) {
			/* i + 1: keys[i] may hold the items of a list default read so far */
			char why[sizeof(cfg->err)];
			snprintf(why, sizeof(why), "%s", cfg->err);
			schema_broken(cfg, i + 1, "%s", why);
			return cfg;
		}
	}
	cfg->err[0] = '\0';
	return cfg;
}

void lota_config_free(lota_config *cfg)
{
	if (!cfg)
		return;
	free_values(cfg->vals, cfg->keys, cfg->n);
	free(cfg);
}

const char *lota_config_error(const lota_config *cfg)
{
	return cfg ? cfg->err : "";
}

/* The value of key `name`, or NULL with errno set: EINVAL for a NULL argument or a key
 * of another type, ENOENT for no such key. Getters run concurrently: errno is the only
 * thing they may write. */
static const struct value *get(const lota_config *cfg, const char *name, int t)
{
	if (!cfg || !name) {
		errno = EINVAL;
		return NULL;
	}
	int i = find_key(cfg, name, strlen(name));
	if (i < 0) {
		errno = ENOENT;
		return NULL;
	}
	if (t >= 0 && cfg->keys[i].type != (lota_config_type)t) {
		errno = EINVAL;
		return NULL;
	}
	return &cfg->vals[i];
}

bool lota_config_get_bool(const lota_config *cfg, const char *name)
{
	const struct value *v = get(cfg, name, LOTA_CONFIG_BOOL);
	return v && v->has && v->n.b;
}

int64_t lota_config_get_int(const lota_config *cfg, const char *name)
{
	const struct value *v = get(cfg, name, LOTA_CONFIG_INT);
	return v && v->has ? v->n.i : 0;
}

uint64_t lota_config_get_size(const lota_config *cfg, const char *name)
{
	const struct value *v = get(cfg, name, LOTA_CONFIG_SIZE);
	return v && v->has ? v->n.u : 0;
}

int64_t lota_config_get_duration_ms(const lota_config *cfg, const char *name)
{
	const struct value *v = get(cfg, name, LOTA_CONFIG_DURATION);
	return v && v->has ? v->n.i : 0;
}

const char *lota_config_get_string(const lota_config *cfg, const char *name)
{
	const struct value *v = get(cfg, name, LOTA_CONFIG_STRING);
	return v ? v->s : NULL;
}

size_t lota_config_get_list(const lota_config *cfg, const char *name, const char *const **items)
{
	const struct value *v = get(cfg, name, LOTA_CONFIG_LIST);
	if (items)
		*items = v ? (const char *const *)v->items : NULL;
	return v ? v->nitems : 0;
}

bool lota_config_is_set(const lota_config *cfg, const char *name)
{
	const struct value *v = get(cfg, name, -1);
	return v && v->set;
}

/* ---- JSON --------------------------------------------------------------------------- */

static const char *json_kind(const cJSON *j)
{
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNull(j))
		return "null";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsArray(j))
		return "an array";
	return "an object";
}

static const char *type_want(lota_config_type t)
{
	static const char *const w[] = {
	    "a boolean (true or false)",
	    "an integer",
	    "a size (a number of bytes or a string like \"64MiB\")",
	    "a duration (a number of seconds or a string like \"15s\")",
	    "a string",
	    "an array of strings",
	};
	return w[t];
}

#define EXACT_DOUBLE 9007199254740992.0 /* 2^53: every integer up to it is exact */

/* JSON number -> INT / SIZE (bytes) / DURATION (seconds). */
static int apply_number(struct ctx *c, size_t ki, double d)
{
	const lota_config_key *k = &c->cfg->keys[ki];
	struct value *v = &c->vals[ki];
	char shown[64];
	int rc;
	snprintf(shown, sizeof(shown), "%.17g", d);
	if (k->type == LOTA_CONFIG_DURATION)
		d *= 1000.0;
	if (!(d - d == 0)) /* inf from 1e999 */
		return value_error(c, k, shown, 0, WHY_RANGE);
	if (d < 0 && (k->type != LOTA_CONFIG_INT))
		return value_error(c, k, shown, 0, WHY_NEGATIVE);
	if (d > EXACT_DOUBLE || d < -EXACT_DOUBLE)
		return seterr(c->cfg, LOTA_E_CONFIG_VALUE,
		              "%s: %s is too large for a JSON number (write it as a string)",
		              c->where, k->secret ? "the value" : shown);
	int64_t i = (int64_t)(d < 0 ? d - 0.5 : d + 0.5);
	double diff = d - (double)i;
	if (k->type == LOTA_CONFIG_DURATION ? (diff > 1e-6 || diff < -1e-6) : diff != 0)
		return value_error(c, k, shown, 0,
		                   k->type == LOTA_CONFIG_INT ? WHY_SYNTAX : WHY_FRACTION);
	if ((rc = check_bounds(c, k, i, false)))
		return rc;
	if (k->type == LOTA_CONFIG_SIZE)
		v->n.u = (uint64_t)i;
	else
		v->n.i = i;
	v->has = v->set = true;
	return 0;
}

static int apply_json(struct ctx *c, size_t ki, const cJSON *j)
{
	const lota_config_key *k = &c->cfg->keys[ki];
	struct value *v = &c->vals[ki];
	if (cJSON_IsNull(j))
		return apply_default(c->cfg, c->vals, ki);
	switch (k->type) {
	case LOTA_CONFIG_BOOL:
		if (cJSON_IsBool(j)) {
			v->n.b = cJSON_IsTrue(j);
			v->has = v->set = true;
			return 0;
		}
		break;
	case LOTA_CONFIG_INT:
	case LOTA_CONFIG_SIZE:
	case LOTA_CONFIG_DURATION:
		if (cJSON_IsNumber(j))
			return apply_number(c, ki, j->valuedouble);
		break;
	case LOTA_CONFIG_STRING:
		break;
	case LOTA_CONFIG_LIST:
		if (!cJSON_IsArray(j))
			break;
		clear_value(v, k);
		v->has = v->set = true;
		int idx = 0;
		for (const cJSON *it = j->child; it; it = it->next, idx++) {
			if (!cJSON_IsString(it))
				return seterr(c->cfg, LOTA_E_CONFIG_TYPE,
				              "%s: item %d is %s, expected a string", c->where, idx,
				              json_kind(it));
			int rc = apply_text(c, ki, it->valuestring, strlen(it->valuestring));
			if (rc)
				return rc;
		}
		return 0;
	}
	if (cJSON_IsString(j) && k->type != LOTA_CONFIG_LIST)
		return apply_text(c, ki, j->valuestring, strlen(j->valuestring));
	return seterr(c->cfg, LOTA_E_CONFIG_TYPE, "%s: expected %s, got %s", c->where,
	              type_want(k->type), json_kind(j));
}

static void line_col(const char *s, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Parse and apply into vals. `src` is "config file PATH: " or "". */
static int load_json_into(lota_config *cfg, struct value *vals, const char *json, size_t len,
                          const char *path)
{
	char src[300] = "config";
	int rc = LOTA_E_CONFIG_SYNTAX, line, col;
	cJSON *root = NULL;
	char *buf = NULL;
	bool *seen = NULL;
	if (path)
		snprintf(src, sizeof(src), "config file %s", path);
	if (len > MAX_JSON) {
		rc = seterr(cfg, LOTA_E_TOO_LARGE, "%s: larger than %u bytes", src, MAX_JSON);
		goto out;
	}
	const char *nul = len ? memchr(json, '\0', len) : NULL;
	if (!json && len) {
		rc = seterr(cfg, -EINVAL, "%s: no input", src);
		goto out;
	}
	if (nul) {
		line_col(json, (size_t)(nul - json), &line, &col);
		rc = seterr(cfg, LOTA_E_CONFIG_SYNTAX, "%s: line %d: syntax error (a NUL byte)",
		            src, line);
		goto out;
	}
	/* A private NUL-terminated copy: cJSON never reads past it. */
	if (!(buf = malloc(len + 1)) || !(seen = calloc(cfg->n ? cfg->n : 1, sizeof(bool)))) {
		rc = seterr(cfg, -ENOMEM, "%s: out of memory", src);
		goto out;
	}
	if (len)
		memcpy(buf, json, len);
	buf[len] = '\0';
	const char *end = NULL;
	root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 0);
	size_t off = end && end >= buf ? (size_t)(end - buf) : 0;
	if (root) {
		while (off < len && (buf[off] == ' ' || buf[off] == '\t' || buf[off] == '\n' ||
		                     buf[off] == '\r'))
			off++;
	}
	if (!root || off < len) {
		if (off > len)
			off = len;
		line_col(buf, off, &line, &col);
		rc = seterr(cfg, LOTA_E_CONFIG_SYNTAX, "%s: line %d: syntax error at column %d%s",
		            src, line, col, root ? " (text after the JSON object)" : "");
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		rc = seterr(cfg, LOTA_E_CONFIG_TYPE, "%s: the top level is %s, not a JSON object",
		            src, json_kind(root));
		goto out;
	}
	struct ctx c = {cfg, vals, ""};
	for (const cJSON *it = root->child; it; it = it->next) {
		char q[SHOW_MAX * 4 + 16];
		const char *name = it->string ? it->string : "";
		size_t nl = strlen(name);
		int ki = -1;
		for (size_t i = 0; i < cfg->n; i++)
			if (strcmp(cfg->keys[i].name, name) == 0)
				ki = (int)i;
		quote(q, sizeof(q), name, nl);
		if (ki < 0) {
			const char *s = suggest(cfg, name, nl);
			rc = seterr(cfg, LOTA_E_CONFIG_UNKNOWN_KEY,
			            "%s%sunknown config key %s%s%s%s", path ? src : "",
			            path ? ": " : "", q, s ? " (did you mean \"" : "", s ? s : "",
			            s ? "\"?)" : "");
			goto out;
		}
		snprintf(c.where, sizeof(c.where), "%s%sconfig key %s", path ? src : "",
		         path ? ": " : "", q);
		if (seen[ki]) {
			rc = seterr(cfg, LOTA_E_CONFIG_VALUE, "%s: appears twice", c.where);
			goto out;
		}
		seen[ki] = true;
		if ((rc = apply_json(&c, (size_t)ki, it)))
			goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	if (buf) {
		explicit_bzero(buf, len); /* may hold secrets */
		free(buf);
	}
	free(seen);
	return rc;
}

static int commit(lota_config *cfg, struct value *vals, int rc)
{
	if (rc) {
		free_values(vals, cfg->keys, cfg->n);
		return rc;
	}
	free_values(cfg->vals, cfg->keys, cfg->n);
	cfg->vals = vals;
	cfg->err[0] = '\0';
	return 0;
}

int lota_config_load_json(lota_config *cfg, const char *json, size_t len)
{
	if (!cfg)
		return -EINVAL;
	if (cfg->schema_rc)
		return cfg->schema_rc;
	struct value *vals = clone_values(cfg);
	if (!vals)
		return seterr(cfg, -ENOMEM, "config: out of memory");
	return commit(cfg, vals, load_json_into(cfg, vals, json, len, NULL));
}

/* Read a whole file of at most MAX_JSON bytes. */
static int read_file(lota_config *cfg, const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	size_t cap = 4096, n = 0;
	char *buf = NULL;
	if (fd < 0)
		return seterr(cfg, -errno, "config file %s: %s", path, strerror(errno));
	for (;;) {
		if (n == cap || !buf) {
			if (buf)
				cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				rc = seterr(cfg, -ENOMEM, "config file %s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = seterr(cfg, -errno, "config file %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > MAX_JSON) {
			rc = seterr(cfg, LOTA_E_TOO_LARGE, "config file %s: larger than %u bytes",
			            path, MAX_JSON);
			goto out;
		}
	}
out:
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int load_file_into(lota_config *cfg, struct value *vals, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = read_file(cfg, path, &buf, &len);
	if (rc)
		return rc;
	rc = load_json_into(cfg, vals, buf, len, path);
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

int lota_config_load_file(lota_config *cfg, const char *path)
{
	if (!cfg || !path)
		return -EINVAL;
	if (cfg->schema_rc)
		return cfg->schema_rc;
	struct value *vals = clone_values(cfg);
	if (!vals)
		return seterr(cfg, -ENOMEM, "config: out of memory");
	return commit(cfg, vals, load_file_into(cfg, vals, path));
}

/* ---- command line ------------------------------------------------------------------- */

struct action {
	int key;
	const char *flag; /* as typed, up to '=' */
	size_t flag_len;
	const char *val; /* NULL for a bare boolean / a --no- form */
	bool negated;
};

static int unknown_flag(lota_config *cfg, const char *arg, size_t len)
{
	char q[SHOW_MAX * 4 + 16];
	const char *s = NULL;
	char sf[128] = "";
	if (len > 2 && arg[1] == '-')
		s = suggest(cfg, arg + 2, len - 2);
	if (s)
		flag_name(s, sf, sizeof(sf));
	quote(q, sizeof(q), arg, len);
	/* Show the flag unquoted when it is plain text. */
	bool plain = len <= SHOW_MAX && strlen(q) == len + 2;
	return seterr(cfg, LOTA_E_CONFIG_FLAG, "unknown flag %.*s%s%s%s",
	              plain ? (int)len : (int)strlen(q), plain ? arg : q,
	              s ? " (did you mean " : "", sf, s ? "?)" : "");
}

/* Turn argv into actions; stops at "--" or the first positional argument. */
static int resolve_args(lota_config *cfg, int argc, char *const argv[], struct action *acts,
                        int *nacts, bool *help, int *pos)
{
	int i;
	*nacts = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t al = strlen(a);
		struct action act = {-1, a, al, NULL, false};
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || al == 1)
			break; /* positional */
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t nl = eq ? (size_t)(eq - name) : strlen(name);
			act.flag_len = nl + 2;
			act.key = find_key(cfg, name, nl);
			if (act.key < 0 && nl > 3 && name_eq("no_", name, 3)) {
				act.key = find_key(cfg, name + 3, nl - 3);
				act.negated = act.key >= 0;
				if (act.negated && cfg->keys[act.key].type != LOTA_CONFIG_BOOL &&
				    cfg->keys[act.key].type != LOTA_CONFIG_LIST)
					act.key = -1;
			}
			if (act.key < 0 && help && name_eq("help", name, nl) && !eq) {
				*help = true;
				return 1;
			}
			if (act.key < 0)
				return unknown_flag(cfg, a, act.flag_len);
			const lota_config_key *k = &cfg->keys[act.key];
			if (eq && act.negated)
				return seterr(cfg, LOTA_E_CONFIG_FLAG,
				              "flag %.*s does not take a value", (int)act.flag_len,
				              a);
			if (eq)
				act.val = eq + 1;
			else if (!act.negated && k->type != LOTA_CONFIG_BOOL) {
				if (i + 1 >= argc ||
				    (argv[i + 1][0] == '-' && argv[i + 1][1] == '-' &&
				     argv[i + 1][2] != '\0'))
					return seterr(cfg, LOTA_E_CONFIG_FLAG,
					              "flag %.*s: missing value%s%s",
					              (int)act.flag_len, a, k->metavar ? " " : "",
					              k->metavar ? k->metavar : "");
				act.val = argv[++i];
			}
		} else {
			act.flag_len = 2;
			for (size_t k = 0; k < cfg->n; k++)
				if (cfg->keys[k].short_flag && cfg->keys[k].short_flag == a[1])
					act.key = (int)k;
			if (act.key < 0 && help && a[1] == 'h' && al == 2) {
				*help = true;
				return 1;
			}
			if (act.key < 0)
				return unknown_flag(cfg, a, 2);
			const char *rest = a + 2;
			if (cfg->keys[act.key].type == LOTA_CONFIG_BOOL) {
				if (*rest)
					return seterr(
					    cfg, LOTA_E_CONFIG_FLAG,
					    "flag -%c does not take a value (use --%s=%s)", a[1],
					    cfg->keys[act.key].name,
					    *rest == '=' ? rest + 1 : rest);
			} else if (*rest) {
				act.val = *rest == '=' ? rest + 1 : rest;
			} else if (i + 1 >= argc) {
				return seterr(cfg, LOTA_E_CONFIG_FLAG, "flag -%c: missing value",
				              a[1]);
			} else {
				act.val = argv[++i];
			}
		}
		acts[(*nacts)++] = act;
	}
	*pos = i;
	return 0;
}

int lota_config_parse_args(lota_config *cfg, int argc, char *const argv[], const char *config_key,
                           bool *help_requested, int *positional_start)
{
	struct action *acts = NULL;
	struct value *vals = NULL;
	bool *touched = NULL;
	int nacts = 0, pos = argc, rc, ck = -1;
	if (!cfg || argc < 0 || (argc > 0 && !argv))
		return -EINVAL;
	if (help_requested)
		*help_requested = false;
	if (positional_start)
		*positional_start = argc;
	if (cfg->schema_rc)
		return cfg->schema_rc;
	if (config_key) {
		ck = find_key(cfg, config_key, strlen(config_key));
		if (ck < 0 || cfg->keys[ck].type != LOTA_CONFIG_STRING) {
			char q[SHOW_MAX * 4 + 8];
			return seterr(cfg, LOTA_E_CONFIG_SCHEMA,
			              "config schema: the config file key %s is not a STRING key",
			              quote(q, sizeof(q), config_key, strlen(config_key)));
		}
	}
	acts = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*acts));
	touched = calloc(cfg->n ? cfg->n : 1, sizeof(bool));
	if (!acts || !touched) {
		rc = seterr(cfg, -ENOMEM, "flags: out of memory");
		goto out;
	}
	rc = resolve_args(cfg, argc, argv, acts, &nacts, help_requested, &pos);
	if (rc == 1) { /* --help: nothing else is applied */
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	if (pos < argc && !positional_start) {
		char q[SHOW_MAX * 4 + 16];
		rc = seterr(cfg, LOTA_E_CONFIG_FLAG, "unexpected argument %s",
		            quote(q, sizeof(q), argv[pos], strlen(argv[pos])));
		goto out;
	}
	if (!(vals = clone_values(cfg))) {
		rc = seterr(cfg, -ENOMEM, "flags: out of memory");
		goto out;
	}
	/* Config files first, in order, then every other flag on top. */
	for (int pass = 0; pass < 2; pass++) {
		for (int a = 0; a < nacts; a++) {
			struct action *act = &acts[a];
			if ((act->key == ck) != (pass == 0))
				continue;
			if (pass == 0 && (rc = load_file_into(cfg, vals, act->val)))
				goto out;
			struct ctx c = {cfg, vals, ""};
			snprintf(c.where, sizeof(c.where), "flag %.*s", (int)act->flag_len,
			         act->flag);
			const lota_config_key *k = &cfg->keys[act->key];
			struct value *v = &vals[act->key];
			if (k->type == LOTA_CONFIG_LIST && !touched[act->key]) {
				clear_value(v, k); /* flags replace the file's list */
				v->has = v->set = true;
			}
			touched[act->key] = true;
			if (act->negated) {
				if (k->type == LOTA_CONFIG_LIST)
					clear_value(v, k);
				else
					v->n.b = false;
				v->has = v->set = true;
			} else if (!act->val) {
				v->n.b = true;
				v->has = v->set = true;
			} else if ((rc = apply_text(&c, (size_t)act->key, act->val,
			                            strlen(act->val)))) {
				goto out;
			}
		}
	}
	if (positional_start)
		*positional_start = pos;
out:
	free(acts);
	free(touched);
	if (vals)
		return commit(cfg, vals, rc);
	return rc;
}

int lota_config_validate(lota_config *cfg)
{
	if (!cfg)
		return -EINVAL;
	if (cfg->schema_rc)
		return cfg->schema_rc;
	for (size_t i = 0; i < cfg->n; i++) {
		const lota_config_key *k = &cfg->keys[i];
		const struct value *v = &cfg->vals[i];
		if (!k->required || (v->has && (k->type != LOTA_CONFIG_LIST || v->nitems)))
			continue;
		char f[128];
		flag_name(k->name, f, sizeof(f));
		return seterr(cfg, LOTA_E_CONFIG_MISSING,
		              "config key \"%s\" is required (set it in the config file or with "
		              "%s%s%s)",
		              k->name, f, k->type == LOTA_CONFIG_BOOL ? "" : " ",
		              k->type == LOTA_CONFIG_BOOL ? ""
		                                          : (k->metavar ? k->metavar : "VALUE"));
	}
	cfg->err[0] = '\0';
	return 0;
}

/* ---- help and dump ------------------------------------------------------------------ */

static const char *default_metavar(lota_config_type t)
{
	static const char *const m[] = {"", "N", "SIZE", "DURATION", "STRING", "VALUE"};
	return m[t];
}

void lota_config_print_help(const lota_config *cfg, FILE *out, const char *usage)
{
	if (!cfg || !out)
		return;
	if (usage)
		fprintf(out, "Usage: %s\n\n", usage);
	fprintf(out, "Options (every option is also a key of the JSON config file, with _ for "
	             "-):\n");
	bool h_taken = false;
	for (size_t i = 0; i < cfg->n; i++)
		h_taken |= cfg->keys[i].short_flag == 'h' || strcmp(cfg->keys[i].name, "help") == 0;
	if (!h_taken)
		fprintf(out, "  %-34s %s\n", "-h, --help", "show this help and exit");
	for (size_t i = 0; i < cfg->n; i++) {
		const lota_config_key *k = &cfg->keys[i];
		char left[256], f[128];
		flag_name(k->name, f, sizeof(f));
		const char *mv = k->metavar ? k->metavar : default_metavar(k->type);
		char sh[8] = "    ";
		if (k->short_flag)
			snprintf(sh, sizeof(sh), "-%c, ", k->short_flag);
		if (k->type == LOTA_CONFIG_BOOL)
			snprintf(left, sizeof(left), "%s--[no-]%s", sh, f + 2);
		else
			snprintf(left, sizeof(left), "%s%s %s", sh, f, mv);
		fprintf(out, "  %-34s", left);
		if (strlen(left) > 34)
			fprintf(out, "\n  %-34s", "");
		fprintf(out, " %s", k->help ? k->help : "");
		if (k->type == LOTA_CONFIG_LIST)
			fprintf(out, " (repeatable)");
		if (k->required)
			fprintf(out, " (required)");
		else if (k->def && k->secret)
			fprintf(out, " (default: set)");
		else if (k->def)
			fprintf(out, " (default: %s)", *k->def ? k->def : "\"\"");
		fputc('\n', out);
	}
}

static cJSON *dump_value(const lota_config_key *k, const struct value *v)
{
	char b[64];
	if (!v->has)
		return cJSON_CreateNull();
	if (k->secret)
		return cJSON_CreateString("REDACTED");
	switch (k->type) {
	case LOTA_CONFIG_BOOL:
		return cJSON_CreateBool(v->n.b);
	case LOTA_CONFIG_INT:
		snprintf(b, sizeof(b), "%lld", (long long)v->n.i);
		return cJSON_CreateRaw(b);
	case LOTA_CONFIG_SIZE:
		lota_format_size(v->n.u, b, sizeof(b));
		return cJSON_CreateString(b);
	case LOTA_CONFIG_DURATION:
		lota_format_duration_ms(v->n.i, b, sizeof(b));
		return cJSON_CreateString(b);
	case LOTA_CONFIG_STRING:
		return cJSON_CreateString(v->s ? v->s : "");
	case LOTA_CONFIG_LIST: {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; a && i < v->nitems; i++) {
			cJSON *s = cJSON_CreateString(v->items[i]);
			if (!s || !cJSON_AddItemToArray(a, s)) {
				cJSON_Delete(s);
				cJSON_Delete(a);
				return NULL;
			}
		}
		return a;
	}
	}
	return NULL;
}

void lota_config_dump(const lota_config *cfg, FILE *out)
{
	if (!cfg || !out)
		return;
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	for (size_t i = 0; root && i < cfg->n; i++) {
		cJSON *v = dump_value(&cfg->keys[i], &cfg->vals[i]);
		if (!v || !cJSON_AddItemToObject(root, cfg->keys[i].name, v)) {
			cJSON_Delete(v);
			goto out;
		}
	}
	if (root && (text = cJSON_Print(root)))
		fprintf(out, "%s\n", text);
out:
	if (text)
		cJSON_free(text);
	cJSON_Delete(root);
}
