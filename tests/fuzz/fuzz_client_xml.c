/*
 * fuzz_client_xml.c - libFuzzer harness for the client's reader of S3's XML answers
 * (lib/client_xml.c): the event walk, the text at a path, a ListObjectsV2 page and a
 * DeleteObjects result, on the same input. Checks: a walk's events are balanced (as many
 * ends as starts, depth never above the cap), every text view lies inside the input or
 * the decoded scratch of at most its length, a page's entries carry terminated strings
 * inside the page's arena, and a path lookup's result is terminated within its buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
	size_t size;
	long opens;
	size_t max_depth;
};

static int on_event(void *ud, lota__xml_event ev, const lota_str *stack, size_t depth, lota_str t)
{
	struct walk *w = ud;
	if (depth == 0 || depth > LOTA__XML_MAX_DEPTH)
		abort();
	for (size_t i = 0; i < depth; i++)
		if (stack[i].len == 0 || stack[i].len > w->size)
			abort();
	if (ev == LOTA__XML_START)
		w->opens++;
	else if (ev == LOTA__XML_END)
		w->opens--;
	else if (t.len > w->size || (t.len && !t.ptr))
		abort();
	if (w->opens < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct walk w = {.size = size};
	int rc = lota__xml_parse(buf, size, on_event, &w);
	if (rc == 0 && w.opens != 0)
		abort(); /* a document that parses is balanced */
	if (rc != 0 && rc != LOTA_E_CLIENT_PROTOCOL && rc != -ENOMEM)
		abort();

	char out[64];
	memset(out, 'x', sizeof(out));
	int t = lota__xml_text(buf, size, "Error/Code", out, sizeof(out));
	if (t < 0 && out[0] != '\0')
		abort();
	if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();

	lota__list_page pg = {0};
	if (lota__xml_list(buf, size, &pg) == 0) {
		for (size_t i = 0; i < pg.n; i++) {
			const lota_list_entry *e = &pg.entries[i];
			if (e->key < pg.arena || e->key >= pg.arena + pg.arena_len)
				abort();
			if (strlen(e->key) > pg.arena_len || strlen(e->etag) > pg.arena_len)
				abort();
		}
		if (pg.truncated && !pg.next_token)
			abort();
	}
	lota__list_page_cleanup(&pg);

	char key[32], code[16];
	size_t nerr = 0;
	if (lota__xml_delete_result(buf, size, key, sizeof(key), code, sizeof(code), &nerr) == 0 &&
	    (strlen(key) >= sizeof(key) || strlen(code) >= sizeof(code)))
		abort();
	return 0;
}
