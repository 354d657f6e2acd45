/*
 * locality.c - a locality-aware loader: of the objects under a prefix, read first those
 * whose first extent this node owns (lota_client_owner: lotad's /cluster membership and
 * the cluster's own placement), then the others, so that a job's nodes start on
 * different data and each serves the rest to the others from its cache. Without a
 * cluster (no admin endpoint, or no /cluster there) every object counts as remote and
 * the order is the listing's.
 *
 *   example_locality BUCKET PREFIX
 *
 * Prints "local|remote KEY SIZE" in reading order. LOTA_ADMIN_URL names lotad's admin
 * endpoint. Exit status 0, 1 on a failed read or listing, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/client.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s BUCKET PREFIX\n", argv[0]);
		return 2;
	}
	lota_client *c = NULL;
	lota_client_error e;
	lota_client_opts o = LOTA_OPTS(lota_client_opts, .err = &e);
	if (lota_client_new(&o, &c) != 0) {
		fprintf(stderr, "%s\n", e.message);
		return 1;
	}
	lota_client_list *it = NULL;
	lota_list_opts lo = LOTA_OPTS(lota_list_opts, .prefix = argv[2]);
	char **keys = NULL, msg[1024];
	int *local = NULL, status = 1;
	size_t n = 0;
	int rc = lota_client_list_new(c, argv[1], &lo, &it);
	while (rc == 0) {
		const lota_list_entry *ents;
		size_t m;
		rc = lota_client_list_next(it, &ents, &m, &e);
		if (rc <= 0)
			break;
		rc = 0;
		char **nk = realloc(keys, (n + m + 1) * sizeof(*keys));
		int *nl = realloc(local, (n + m + 1) * sizeof(*local));
		if (nk)
			keys = nk;
		if (nl)
			local = nl;
		if (!nk || !nl)
			goto out;
		for (size_t i = 0; i < m; i++) {
			keys[n] = strdup(ents[i].key);
			lota_client_node owner;
			lota_client_error oe;
			/* an empty object has no extent: nobody owns it */
			local[n] =
			    lota_client_owner(c, argv[1], ents[i].key, 0, &owner, &oe) == 0 &&
			    owner.self;
			n++;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "listing: %s\n", lota_client_error_format(&e, msg, sizeof(msg)));
		goto out;
	}
	status = 0;
	unsigned char *buf = malloc(1 << 20);
	for (int pass = 1; pass >= 0 && buf; pass--) {
		for (size_t i = 0; i < n; i++) {
			if (local[i] != pass || !keys[i])
				continue;
			uint64_t total = 0;
			lota_object_info info;
			/* read in 1 MiB windows into one buffer */
			for (;;) {
				size_t got = 0;
				lota_get_opts go = LOTA_OPTS(lota_get_opts, .range_offset = total,
				                             .range_length = 1 << 20);
				rc = lota_client_get_buffer(c, argv[1], keys[i], buf, 1 << 20, &go,
				                            &got, &info, &e);
				if (rc == LOTA_E_RANGE_UNSATISFIABLE && total == 0) {
					rc = 0; /* an empty object */
					break;
				}
				if (rc != 0)
					break;
				total += got;
				if (total >= info.size_bytes || got == 0)
					break;
			}
			if (rc != 0) {
				fprintf(stderr, "%s: %s\n", keys[i],
				        lota_client_error_format(&e, msg, sizeof(msg)));
				status = 1;
				continue;
			}
			printf("%s %s %llu\n", pass ? "local" : "remote", keys[i],
			       (unsigned long long)total);
		}
	}
	free(buf);
out:
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(local);
	lota_client_list_free(it);
	lota_client_free(c);
	return status;
}
