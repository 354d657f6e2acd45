/*
 * hostport.h - the one parser of "host[:port]" in lotad (listen addresses, the upstream's
 * host, Host headers).
 */
#ifndef LOTAD_HOSTPORT_H
#define LOTAD_HOSTPORT_H

#include <lota/common.h>

/*
 * Split "host", "host:port", "[v6]" or "[v6]:port". *host: the host as written (an IPv6
 * literal keeps its brackets; empty for ":port"); *port: 0..65535, or -1 when there is
 * none. Returns 0, or -EINVAL when what follows the host is not ":" and 1 to 5 digits of
 * a port up to 65535, or when a bracket is not closed (*host is still what precedes the
 * port, and *port -1: a caller may use the host alone).
 */
int lotad_hostport_split(lota_str hp, lota_str *host, long *port);

/* The host without the brackets of an IPv6 literal ("[::1]" -> "::1"). */
lota_str lotad_host_unbracket(lota_str host);

#endif
