/*
 * settings.h - lotad's process-wide settings, read from the configuration by main.c and
 * read-only once the workers run. Every part of lotad may read them; this header names
 * nothing of the parts above it (it is the bottom of the daemon's layering, beside util/).
 */
#ifndef LOTAD_SETTINGS_H
#define LOTAD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOTAD_MAX_NAMES 16 /* lotad's own host names (endpoint_name) */

/* What authentication needs to know of lotad and its upstream (s3/auth.h). */
typedef struct lotad_auth_config {
	const char *const *endpoint_names; /* lotad's own names (virtual-host suffixes) */
	size_t num_endpoint_names;
	const char *upstream_host; /* host[:port] of the upstream as in its URL */
	const char *region;        /* region to sign for the upstream ("us-east-1") */
	int64_t max_skew_s;        /* default 900 */
	/* Port implied by a Host without one (the upstream URL's scheme default): 0 = 443.
	 * With 443, upstream_host "s3.example:443" matches a client's "s3.example". */
	int upstream_default_port;
	/* More names of the upstream (redirect, HOST[:PORT]): endpoints whose traffic is
	 * redirected to lotad; a Host naming one is the upstream's own, like upstream_host. */
	const char *const *redirect_names;
	size_t num_redirect_names;
} lotad_auth_config;

/* Process-wide settings (read-only once the workers run). */
typedef struct lotad_settings {
	char listen_host[256];
	int listen_port;
	char upstream_url[1024];     /* scheme://host[:port] without a trailing slash */
	char upstream_hostport[300]; /* host[:port] as written in the URL */
	const char *upstream_ca_file;
	const char *endpoint_names[LOTAD_MAX_NAMES];
	size_t num_endpoint_names;
	const char *redirect_names[LOTAD_MAX_NAMES]; /* redirect: more names of the upstream */
	size_t num_redirect_names;
	const char *region;
	int64_t max_skew_s;
	int workers;
	uint64_t idle_timeout_ms, header_timeout_ms, request_timeout_ms;
	uint64_t upstream_connect_timeout_ms, upstream_timeout_ms;
	uint64_t shutdown_timeout_ms;
	int upstream_retries;
	int64_t max_connections;
	size_t client_buffer;
	bool access_log;
	/* Host: <bucket>.<upstream host> is virtual-hosted style, as the upstream reads it */
	bool upstream_vhost;
	const char *tcp_congestion; /* NULL or "" = system default */
	/* relay_send coalesce: body bytes relayed from the upstream (curl hands them over
	 * 16 KiB at a time) are queued and sent in larger pieces */
	bool relay_coalesce;
	size_t client_sndbuf; /* SO_SNDBUF of client sockets (0 = kernel autotuning) */
	/* TLS towards clients for the served names (tls_listen; port 0 = off), with
	 * certificates from the node CA in ca_dir */
	char tls_listen_host[256];
	int tls_listen_port;
	const char *ca_dir;
	lotad_auth_config auth;
} lotad_settings;

#endif
