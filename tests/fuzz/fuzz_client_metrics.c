/*
 * fuzz_client_metrics.c - libFuzzer harness for the client's reader of lotad's /metrics
 * page (lota__metrics_parse in lib/client_cluster.c, behind lota_client_node_stats_get).
 * Checks: it returns 0 or LOTA_E_CLIENT_PROTOCOL, never reads past the input (ASan), and
 * parsing the same page twice gives the same verdict and counters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lota_client_node_stats a, b;
	int rc = lota__metrics_parse((const char *)data, size, &a);
	if (rc != 0 && rc != LOTA_E_CLIENT_PROTOCOL)
		abort();
	if (lota__metrics_parse((const char *)data, size, &b) != rc)
		abort();
	if (rc == 0 && memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	return 0;
}
