/*
 * fuzz_log_json.c - libFuzzer harness for the JSON form of log lines (lib/log.c): any
 * message and field bytes give one line that cJSON parses back into an object whose
 * msg is a string, with no newline inside.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <lota/log.h>

static void check(lota_log_level level, const char *line, size_t len, void *ud)
{
	(void)level;
	(void)ud;
	if (memchr(line, '\n', len))
		abort();
	cJSON *j = cJSON_ParseWithLength(line, len);
	if (!j || !cJSON_IsString(cJSON_GetObjectItem(j, "msg")))
		abort();
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first half is the message (and a field's key), the second a field's value */
	size_t half = size / 2;
	char *msg = strndup((const char *)data, half);
	char *val = strndup((const char *)data + half, size - half);
	if (msg && val) {
		lota_log_set_sink(check, NULL);
		lota_log_set_format(LOTA_LOG_JSON);
		lota_log_error("%s", msg);
		lota_log_field f[] = {{"k", val, 0}, {"n", NULL, (long long)size}, {msg, "x", 0}};
		lota_log_fields(LOTA_LOG_ERROR, msg, f, 3);
	}
	free(msg);
	free(val);
	return 0;
}
