/*
 * ground_owner.c - the client library's answer to "which node holds this extent?" on the
 * test ground (test_cluster_ground.sh compiles it against the build's liblota and runs it
 * inside a node's namespace): lota_client_owner() with the cluster's extent size, the
 * members from the admin endpoint's real GET /cluster and the object from a real HEAD.
 *
 *   ground_owner ENDPOINT ADMIN_URL EXTENT_SIZE BUCKET KEY OFFSET...
 *
 * Prints "OFFSET OWNER_ID" per offset. Keys come from the AWS environment. Exit status 0,
 * 1 on an error (printed on stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>

#include <lota/client.h>

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: %s ENDPOINT ADMIN_URL EXTENT_SIZE BUCKET KEY OFFSET...\n",
		        argv[0]);
		return 2;
	}
	lota_client *c = NULL;
	lota_client_error e;
	char msg[1024];
	lota_client_opts o =
	    LOTA_OPTS(lota_client_opts, .endpoint_url = argv[1], .admin_url = argv[2],
	              .extent_size_bytes = strtoull(argv[3], NULL, 10), .err = &e);
	if (lota_client_new(&o, &c) != 0) {
		fprintf(stderr, "%s\n", e.message);
		return 1;
	}
	int status = 0;
	for (int i = 6; i < argc; i++) {
		lota_client_node owner;
		int rc =
		    lota_client_owner(c, argv[4], argv[5], strtoull(argv[i], NULL, 10), &owner, &e);
		if (rc != 0) {
			fprintf(stderr, "%s: %s\n", argv[i],
			        lota_client_error_format(&e, msg, sizeof(msg)));
			status = 1;
			continue;
		}
		printf("%s %s\n", argv[i], owner.id);
	}
	lota_client_free(c);
	return status;
}
