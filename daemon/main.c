/*
 * main.c - lotad: configuration, start-up checks, workers, signals and shutdown.
 *
 * The main thread owns the admin listener and the signals (through a signalfd; every
 * thread blocks them): SIGTERM/SIGINT drain the workers (no new connections, in-flight
 * requests finish, bounded by shutdown_timeout, then exit 0); SIGHUP reloads the
 * credentials file, keeping the old store when the new file is bad.
 * Usage errors exit 2, start-up failures (bind, ...) exit 1.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <lota/config.h>
#include <lota/log.h>

#include "admin.h"
#include "auth.h"
#include "loop.h"
#include "server.h"

#define MAX_WORKERS 256

static const lota_config_key lotad_keys[] = {
    {"config", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 'c', "FILE",
     "JSON configuration file (flags override it)"},
    {"listen", LOTA_CONFIG_STRING, "127.0.0.1:8080", 0, 0, false, false, 'l', "HOST:PORT",
     "S3 endpoint address"},
    {"upstream", LOTA_CONFIG_STRING, NULL, 0, 0, true, false, 'u', "URL",
     "the real object store, http://host[:port] or https://host[:port]"},
    {"upstream_ca_file", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "FILE",
     "CA bundle to verify an https upstream (default: the system's)"},
    {"credentials", LOTA_CONFIG_STRING, "", 0, 0, false, false, 0, "FILE",
     "AWS shared-credentials file of the keys lotad verifies and re-signs with"},
    {"endpoint_name", LOTA_CONFIG_LIST, NULL, 0, 0, false, false, 0, "NAME",
     "lotad's own host name; bucket.NAME is virtual-hosted style"},
    {"region", LOTA_CONFIG_STRING, "us-east-1", 0, 0, false, false, 0, "REGION",
     "region to sign upstream requests for"},
    {"max_skew", LOTA_CONFIG_DURATION, "15m", 1000, 7 * 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "largest accepted difference between a request's time and now"},
    {"admin_listen", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "HOST:PORT",
     "admin listener for /healthz and /metrics (off when unset)"},
    {"workers", LOTA_CONFIG_INT, "0", 0, MAX_WORKERS, false, false, 'w', "N",
     "worker threads (0 = one per CPU)"},
    {"max_connections", LOTA_CONFIG_INT, "10000", 1, 1000000, false, false, 0, "N",
     "client connections accepted at once (more are closed)"},
    {"client_buffer", LOTA_CONFIG_SIZE, "256KiB", 32 * 1024, 64 * 1024 * 1024, false, false, 0,
     "SIZE", "input and output buffer per client connection"},
    {"idle_timeout", LOTA_CONFIG_DURATION, "60s", 100, 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "close a connection idle (or not reading/sending) this long"},
    {"header_timeout", LOTA_CONFIG_DURATION, "20s", 100, 3600 * 1000LL, false, false, 0, "DURATION",
     "time a client has to send a complete request head"},
    {"request_timeout", LOTA_CONFIG_DURATION, "0", 0, 7 * 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "upper bound of a whole upstream transfer (0 = none)"},
    {"upstream_connect_timeout", LOTA_CONFIG_DURATION, "5s", 100, 600 * 1000LL, false, false, 0,
     "DURATION", "time to connect to the upstream"},
    {"upstream_timeout", LOTA_CONFIG_DURATION, "60s", 0, 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "give up on an upstream that sends nothing this long (0 = never)"},
    {"upstream_retries", LOTA_CONFIG_INT, "2", 0, 10, false, false, 0, "N",
     "retries (with backoff) of idempotent requests that failed before any response"},
    {"shutdown_timeout", LOTA_CONFIG_DURATION, "30s", 0, 3600 * 1000LL, false, false, 0, "DURATION",
     "on SIGTERM, time in-flight requests get to finish"},
    {"log_level", LOTA_CONFIG_STRING, "info", 0, 0, false, false, 0, "LEVEL",
     "error, warn, info or debug"},
    {"access_log", LOTA_CONFIG_BOOL, "false", 0, 0, false, false, 0, NULL,
     "log one line per request"},
    {"tcp_congestion", LOTA_CONFIG_STRING, "", 0, 0, false, false, 0, "NAME",
     "TCP congestion control for client sockets, e.g. reno (empty = system default)"},
};

static const char usage[] =
    "lotad --upstream URL [--listen HOST:PORT] [--credentials FILE]\n"
    "             [--config FILE] [--endpoint-name NAME]... [--admin-listen HOST:PORT]\n"
    "             [--workers N] [options]\n"
    "lotad is the LOTA node daemon: an S3 endpoint in front of the object store.\n";

/* HOST:PORT, [V6]:PORT or :PORT. */
static int parse_hostport(const char *s, char *host, size_t host_cap, int *port)
{
	const char *colon;
	size_t hl;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - s - 1);
		if (hl >= host_cap)
			return -1;
		memcpy(host, s + 1, hl);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - s);
		if (hl >= host_cap || memchr(s, ':', hl))
			return -1;
		memcpy(host, s, hl);
	}
	host[hl] = 0;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

static int parse_upstream(const char *url, lotad_settings *s)
{
	const char *rest;
	bool tls;
	if (strncmp(url, "http://", 7) == 0) {
		rest = url + 7;
		tls = false;
	} else if (strncmp(url, "https://", 8) == 0) {
		rest = url + 8;
		tls = true;
	} else {
		return -1;
	}
	size_t hl = strcspn(rest, "/?#");
	if (!hl || hl >= sizeof(s->upstream_hostport))
		return -1;
	if (rest[hl] && strcmp(rest + hl, "/") != 0)
		return -1; /* a path prefix is not supported */
	memcpy(s->upstream_hostport, rest, hl);
	s->upstream_hostport[hl] = 0;
	snprintf(s->upstream_url, sizeof(s->upstream_url), "%s%s", tls ? "https://" : "http://",
	         s->upstream_hostport);
	s->auth.upstream_default_port = tls ? 443 : 80;
	return 0;
}

typedef struct main_state {
	lotad_loop *loop;
	lotad_io sig_io;
	lotad_timer poll;
	lotad_timer deadline;
	lotad_worker *workers[MAX_WORKERS];
	int nworkers;
	lotad_admin *admin;
	const char *creds_path;
	bool stopping;
	bool forced;
} main_state;

static void reload_creds(main_state *m)
{
	char err[512];
	lotad_creds *c = lotad_creds_load(m->creds_path ? m->creds_path : "", err, sizeof(err));
	if (!c) {
		lota_log_error("SIGHUP: credentials not reloaded, keeping the old ones: %s", err);
		return;
	}
	lotad_creds_set_current(c);
	lota_log_info("SIGHUP: credentials reloaded (%zu keys)", lotad_creds_count(c));
	lotad_creds_unref(c);
}

static void poll_cb(lotad_timer *t)
{
	main_state *m = t->ud;
	int idle = 0;
	for (int i = 0; i < m->nworkers; i++)
		idle += lotad_worker_idle(m->workers[i]);
	if (idle == m->nworkers) {
		lotad_loop_stop(m->loop);
		return;
	}
	lotad_timer_start(m->loop, &m->poll, 20);
}

static void deadline_cb(lotad_timer *t)
{
	main_state *m = t->ud;
	lota_log_warn("shutdown: timeout reached, aborting the requests still in flight");
	m->forced = true;
	for (int i = 0; i < m->nworkers; i++)
		lotad_worker_shutdown(m->workers[i], true);
}

static void start_shutdown(main_state *m, const char *why, uint64_t timeout_ms)
{
	if (m->stopping)
		return;
	m->stopping = true;
	lota_log_info("%s: stopping: no new connections, finishing requests in flight", why);
	lotad_admin_set_draining(m->admin);
	for (int i = 0; i < m->nworkers; i++)
		lotad_worker_shutdown(m->workers[i], false);
	lotad_timer_start(m->loop, &m->poll, 10);
	lotad_timer_start(m->loop, &m->deadline, timeout_ms);
}

static uint64_t g_shutdown_ms;

static void sig_cb(lotad_io *io, uint32_t events)
{
	main_state *m = io->ud;
	struct signalfd_siginfo si;
	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload_creds(m);
		else if (m->stopping && si.ssi_signo == SIGINT)
			deadline_cb(&m->deadline); /* a second ^C: do not wait */
		else
			start_shutdown(m, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM",
			               g_shutdown_ms);
	}
}

int main(int argc, char **argv)
{
	static lotad_settings s;
	static main_state m;
	lota_config *cfg = NULL;
	bool help = false;
	int rc, exit_code = 1, sfd = -1;
	int listen_fds[MAX_WORKERS];
	int nfds = 0;
	char err[512];

	cfg = lota_config_new(lotad_keys, sizeof(lotad_keys) / sizeof(lotad_keys[0]));
	if (!cfg) {
		fprintf(stderr, "lotad: out of memory\n");
		return 1;
	}
	rc = lota_config_parse_args(cfg, argc, argv, "config", &help, NULL);
	if (rc == 0 && help) {
		lota_config_print_help(cfg, stdout, usage);
		lota_config_free(cfg);
		return 0;
	}
	if (rc == 0)
		rc = lota_config_validate(cfg);
	if (rc < 0) {
		fprintf(stderr, "lotad: %s\n", lota_config_error(cfg));
		fprintf(stderr, "Try 'lotad --help'.\n");
		lota_config_free(cfg);
		return 2;
	}

	/* --- settings, each checked with a precise message --- */
	const char *lvl = lota_config_get_string(cfg, "log_level");
	lota_log_level level;
	if (lota_log_level_parse(lvl, strlen(lvl), &level) < 0) {
		fprintf(stderr,
		        "lotad: config key \"log_level\": \"%s\" is not one of error, warn, "
		        "info, debug\n",
		        lvl);
		goto usage_error;
	}
	lota_log_set_level(level);
	const char *listen = lota_config_get_string(cfg, "listen");
	if (parse_hostport(listen, s.listen_host, sizeof(s.listen_host), &s.listen_port) < 0 ||
	    s.listen_port == 0) {
		fprintf(stderr, "lotad: config key \"listen\": \"%s\" is not HOST:PORT\n", listen);
		goto usage_error;
	}
	const char *up = lota_config_get_string(cfg, "upstream");
	if (parse_upstream(up, &s) < 0) {
		fprintf(stderr,
		        "lotad: config key \"upstream\": \"%s\" is not http://host[:port] or "
		        "https://host[:port]\n",
		        up);
		goto usage_error;
	}
	const char *const *names = NULL;
	size_t nn = lota_config_get_list(cfg, "endpoint_name", &names);
	if (nn > LOTAD_MAX_NAMES) {
		fprintf(stderr, "lotad: config key \"endpoint_name\": at most %d names\n",
		        LOTAD_MAX_NAMES);
		goto usage_error;
	}
	for (size_t i = 0; i < nn; i++) {
		if (!names[i][0] || strchr(names[i], '/') || strchr(names[i], ':')) {
			fprintf(stderr,
			        "lotad: config key \"endpoint_name\": \"%s\" is not a host name\n",
			        names[i]);
			goto usage_error;
		}
		s.endpoint_names[s.num_endpoint_names++] = names[i];
	}
	s.upstream_ca_file = lota_config_get_string(cfg, "upstream_ca_file");
	if (s.upstream_ca_file && access(s.upstream_ca_file, R_OK) < 0) {
		fprintf(stderr, "lotad: config key \"upstream_ca_file\": %s: %s\n",
		        s.upstream_ca_file, strerror(errno));
		goto usage_error;
	}
	s.region = lota_config_get_string(cfg, "region");
	s.max_skew_s = lota_config_get_duration_ms(cfg, "max_skew") / 1000;
	s.workers = (int)lota_config_get_int(cfg, "workers");
	if (s.workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s.workers = n > 0 ? (int)(n > MAX_WORKERS ? MAX_WORKERS : n) : 1;
	}
	s.max_connections = lota_config_get_int(cfg, "max_connections");
	s.client_buffer = (size_t)lota_config_get_size(cfg, "client_buffer");
	s.idle_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "idle_timeout");
	s.header_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "header_timeout");
	s.request_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "request_timeout");
	s.upstream_connect_timeout_ms =
	    (uint64_t)lota_config_get_duration_ms(cfg, "upstream_connect_timeout");
	s.upstream_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "upstream_timeout");
	s.upstream_retries = (int)lota_config_get_int(cfg, "upstream_retries");
	s.shutdown_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "shutdown_timeout");
	g_shutdown_ms = s.shutdown_timeout_ms;
	s.access_log = lota_config_get_bool(cfg, "access_log");
	s.tcp_congestion = lota_config_get_string(cfg, "tcp_congestion");
	s.auth.endpoint_names = s.endpoint_names;
	s.auth.num_endpoint_names = s.num_endpoint_names;
	s.auth.upstream_host = s.upstream_hostport;
	s.auth.region = s.region;
	s.auth.max_skew_s = s.max_skew_s;

	char admin_host[256] = "";
	int admin_port = -1;
	const char *admin = lota_config_get_string(cfg, "admin_listen");
	if (admin && admin[0] &&
	    (parse_hostport(admin, admin_host, sizeof(admin_host), &admin_port) < 0 ||
	     admin_port == 0)) {
		fprintf(stderr, "lotad: config key \"admin_listen\": \"%s\" is not HOST:PORT\n",
		        admin);
		goto usage_error;
	}

	m.creds_path = lota_config_get_string(cfg, "credentials");
	lotad_creds *creds = lotad_creds_load(m.creds_path ? m.creds_path : "", err, sizeof(err));
	if (!creds) {
		fprintf(stderr, "lotad: config key \"credentials\": %s\n", err);
		goto usage_error;
	}
	lotad_creds_set_current(creds);
	lotad_creds_unref(creds);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lotad: curl_global_init failed\n");
		goto out;
	}

	/* --- sockets (failures here are reported before anything runs) --- */
	for (int i = 0; i < s.workers; i++) {
		if ((rc = lotad_server_listen(&s, &listen_fds[i])) < 0) {
			fprintf(stderr, "lotad: cannot listen on %s: %s\n", listen,
			        lota_strerror(rc));
			goto out;
		}
		nfds++;
	}
	m.loop = lotad_loop_new();
	if (!m.loop)
		goto out;
	if (admin_port > 0) {
		m.admin = lotad_admin_new(m.loop, admin_host, admin_port);
		if (!m.admin) {
			fprintf(stderr, "lotad: cannot listen on admin address %s\n", admin);
			goto out;
		}
	}

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGPIPE);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		goto out;
	m.sig_io = (lotad_io){.fd = sfd, .fn = sig_cb, .ud = &m};
	if (lotad_io_set(m.loop, &m.sig_io, EPOLLIN) < 0)
		goto out;
	lotad_timer_init(&m.poll, poll_cb, &m);
	lotad_timer_init(&m.deadline, deadline_cb, &m);

	for (int i = 0; i < s.workers; i++) {
		m.workers[i] = lotad_worker_new(i, &s, listen_fds[i]);
		if (!m.workers[i])
			goto out;
		listen_fds[i] = -1;
		m.nworkers++;
		if (lotad_worker_start(m.workers[i]) < 0)
			goto out;
	}
	lota_log_info("lotad %s listening on %s (%d workers), upstream %s%s%s", LOTA_VERSION_STRING,
	              listen, s.workers, s.upstream_url, admin ? ", admin on " : "",
	              admin ? admin : "");
	lotad_loop_run(m.loop);
	exit_code = 0;
	lota_log_info("lotad stopped%s", m.forced ? " (requests aborted at the deadline)" : "");
out:
	if (m.nworkers && !m.stopping) {
		for (int i = 0; i < m.nworkers; i++)
			lotad_worker_shutdown(m.workers[i], true);
	}
	for (int i = 0; i < m.nworkers; i++)
		lotad_worker_join_free(m.workers[i]);
	for (int i = m.nworkers; i < nfds; i++)
		if (listen_fds[i] >= 0)
			close(listen_fds[i]);
	lotad_admin_free(m.admin);
	if (sfd >= 0)
		close(sfd);
	lotad_loop_free(m.loop);
	lotad_creds_set_current(NULL);
	curl_global_cleanup();
	lota_config_free(cfg);
	return exit_code;
usage_error:
	fprintf(stderr, "Try 'lotad --help'.\n");
	lota_config_free(cfg);
	return 2;
}
