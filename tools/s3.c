/*
 * s3.c - `lota cp`, `ls`, `rm`, `prestage`, `cluster` and `owner s3://...`: the object
 * commands of the tool, thin users of lota/client.h.
 *
 * cp downloads into a temp file in the destination's own folder and renames it into
 * place only once every byte is there, so a failed or interrupted download never leaves
 * a partial file under the destination's name (the temp file is removed). A download to
 * stdout ("-") runs its parts one at a time, so the bytes come out in order. An upload
 * from a pipe is streamed (lota_client_put_stream: parts read in order, no temp file);
 * SIGINT or SIGTERM during it aborts the multipart upload before exiting.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"

#define KEY_MAX 1025

static const lota_config_key cp_keys[] = {
    {.name = "recursive",
     .type = LOTA_CONFIG_BOOL,
     .def = "false",
     .help = "copy every object under the prefix / every file under the folder"},
    {.name = "quiet",
     .type = LOTA_CONFIG_BOOL,
     .def = "false",
     .help = "no progress bar and no lines of what was copied"},
    {.name = "jobs",
     .type = LOTA_CONFIG_INT,
     .def = "8",
     .min = 1,
     .max = 64,
     .help = "objects copied at once by --recursive"},
};

typedef struct cpctx {
	lota_client *c;
	bool quiet;
	bool bars; /* one object at a time: a progress bar on a terminal */
	unsigned jobs;
} cpctx;

/* One object of a --recursive copy: a download (bucket/key -> path) or an upload. */
typedef struct cpjob {
	char *path;
	char *key;
} cpjob;

typedef struct cpjobs {
	cpctx *x;
	const char *bucket;
	bool down;
	cpjob *v;
	size_t n, cap;
	atomic_size_t next;
	atomic_int status;
} cpjobs;

static int jobs_add(cpjobs *j, const char *path, const char *key)
{
	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 256;
		cpjob *nv = realloc(j->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		j->v = nv;
		j->cap = cap;
	}
	j->v[j->n].path = strdup(path);
	j->v[j->n].key = strdup(key);
	if (!j->v[j->n].path || !j->v[j->n].key) {
		free(j->v[j->n].path);
		free(j->v[j->n].key);
		return -ENOMEM;
	}
	j->n++;
	return 0;
}

static int download(cpctx *x, const char *bucket, const char *key, const char *dst);
static int upload(cpctx *x, const char *src, const char *bucket, const char *key);

static void *jobs_worker(void *ud)
{
	cpjobs *j = ud;
	for (;;) {
		size_t i = atomic_fetch_add(&j->next, 1);
		if (i >= j->n)
			break;
		int st = j->down ? download(j->x, j->bucket, j->v[i].key, j->v[i].path)
		                 : upload(j->x, j->v[i].path, j->bucket, j->v[i].key);
		if (st)
			atomic_store(&j->status, st);
	}
	return NULL;
}

/* Copy every object of the list, --jobs at a time (one handle, its connections shared). */
static int jobs_run(cpjobs *j)
{
	pthread_t th[64];
	unsigned n = j->x->jobs < 64 ? j->x->jobs : 64, started = 0;
	if (n > j->n)
		n = (unsigned)j->n;
	j->x->bars = false;
	for (; started < n; started++)
		if (pthread_create(&th[started], NULL, jobs_worker, j) != 0)
			break;
	if (started == 0)
		jobs_worker(j);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < j->n; i++) {
		free(j->v[i].path);
		free(j->v[i].key);
	}
	free(j->v);
	return atomic_load(&j->status);
}

/* In order to the fd in ud (NULL: standard output). */
static int write_stdout(void *ud, uint64_t off, const void *data, size_t len)
{
	(void)off;
	int fd = ud ? *(const int *)ud : STDOUT_FILENO;
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* mkdir -p of the folders above path */
static int make_parents(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0777) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

static int download(cpctx *x, const char *bucket, const char *key, const char *dst)
{
	lota_client_error e;
	tool_progress pr;
	tool_progress_init(&pr, key, false);
	if (x->quiet || !x->bars)
		pr.on = false;
	lota_get_opts go =
	    LOTA_OPTS(lota_get_opts, .progress = tool_progress_cb, .progress_ud = &pr);
	int rc;
	if (!strcmp(dst, "-")) {
		go.concurrency = 1; /* in order */
		pr.on = false;
		rc = lota_client_get_cb(x->c, bucket, key, write_stdout, NULL, &go, NULL, &e);
		if (rc < 0)
			return tool_fail("cp", key, rc, &e);
		return 0;
	}
	/* A destination that exists and is not a regular file (/dev/null, a FIFO, a
	 * terminal) is written in order, as standard output is: a rename would replace the
	 * device node itself. */
	struct stat st;
	if (stat(dst, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			fprintf(stderr,
			        "lota cp: %s is a folder (name the file, or use --recursive)\n",
			        dst);
			return 1;
		}
		int out = open(dst, O_WRONLY | O_CLOEXEC);
		if (out < 0) {
			fprintf(stderr, "lota cp: %s: %s\n", dst, strerror(errno));
			return 1;
		}
		go.concurrency = 1;
		rc = lota_client_get_cb(x->c, bucket, key, write_stdout, &out, &go, NULL, &e);
		tool_progress_end(&pr);
		if (close(out) < 0 && rc == 0)
			rc = -errno;
		if (rc < 0)
			return tool_fail("cp", key, rc, &e);
		if (!x->quiet)
			printf("download: s3://%s/%s to %s\n", bucket, key, dst);
		return 0;
	}
	/* a temp file beside the destination, renamed into place when complete */
	char dirbuf[PATH_MAX], tmp[PATH_MAX + 32];
	snprintf(dirbuf, sizeof(dirbuf), "%s", dst);
	const char *dir = dirname(dirbuf);
	char basebuf[PATH_MAX];
	snprintf(basebuf, sizeof(basebuf), "%s", dst);
	snprintf(tmp, sizeof(tmp), "%s/.%.200s.lota-XXXXXX", dir, basename(basebuf));
	if (make_parents(dst) < 0) {
		fprintf(stderr, "lota cp: %s: cannot create its folder: %s\n", dst,
		        strerror(errno));
		return 1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "lota cp: %s: %s\n", tmp, strerror(errno));
		return 1;
	}
	rc = lota_client_get_fd(x->c, bucket, key, fd, &go, NULL, &e);
	tool_progress_end(&pr);
	/* mkstemp made it 0600: the mode a new file gets (0666 less the umask) */
	mode_t um = umask(0);
	umask(um);
	if (rc == 0 && fchmod(fd, 0666 & ~um) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return tool_fail("cp", key, rc, &e);
	}
	if (!x->quiet)
		printf("download: s3://%s/%s to %s\n", bucket, key, dst);
	return 0;
}

static volatile sig_atomic_t stop_signal;
static void on_stop_signal(int sig)
{
	stop_signal = sig;
}
/* The bar, and the stop a signal asked for. */
static int stream_progress(void *ud, uint64_t done, uint64_t total)
{
	if (stop_signal)
		return 1;
	return tool_progress_cb(ud, done, total);
}

static int upload(cpctx *x, const char *src, const char *bucket, const char *key)
{
	lota_client_error e;
	tool_progress pr;
	tool_progress_init(&pr, key, false);
	if (x->quiet || !x->bars)
		pr.on = false;
	lota_put_opts po =
	    LOTA_OPTS(lota_put_opts, .progress = tool_progress_cb, .progress_ud = &pr);
	int fd;
	bool stream = false;
	if (!strcmp(src, "-")) {
		struct stat st;
		fd = dup(STDIN_FILENO);
		/* a pipe is streamed: parts read in order, no temp file */
		stream = fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode));
	} else {
		fd = open(src, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		fprintf(stderr, "lota cp: %s: %s\n", src, strerror(errno));
		return 1;
	}
	lota_object_info info;
	int rc;
	if (stream) {
		/* SIGINT or SIGTERM stops the upload (aborted, nothing left behind) */
		struct sigaction sa = {.sa_handler = on_stop_signal}, old_int, old_term;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		po.progress = stream_progress;
		rc = lota_client_put_stream(x->c, bucket, key, fd, &po, &info, &e);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		if (stop_signal) {
			tool_progress_end(&pr);
			close(fd);
			fprintf(stderr,
			        "lota cp: %s: stopped by a signal; the upload was aborted\n", src);
			return 1;
		}
	} else {
		rc = lota_client_put_fd(x->c, bucket, key, fd, &po, &info, &e);
	}
	tool_progress_end(&pr);
	close(fd);
	if (rc < 0)
		return tool_fail("cp", src, rc, &e);
	if (!x->quiet)
		printf("upload: %s to s3://%s/%s\n", src, bucket, key);
	return 0;
}

/* A key's path below a prefix, refused when it could leave the destination folder. */
static bool safe_rel(const char *rel)
{
	if (!*rel || rel[0] == '/')
		return false;
	for (const char *p = rel; *p;) {
		size_t l = strcspn(p, "/");
		if ((l == 2 && !strncmp(p, "..", 2)) || (l == 1 && p[0] == '.'))
			return false;
		p += l;
		if (*p)
			p++;
	}
	return true;
}

static int download_tree(cpctx *x, const char *bucket, const char *prefix, const char *dir)
{
	lota_client_list *it = NULL;
	lota_list_opts lo = LOTA_OPTS(lota_list_opts, .prefix = prefix);
	lota_client_error e;
	cpjobs j = {.x = x, .bucket = bucket, .down = true};
	int rc = lota_client_list_new(x->c, bucket, &lo, &it);
	while (rc == 0) {
		const lota_list_entry *ents;
		size_t n;
		rc = lota_client_list_next(it, &ents, &n, &e);
		if (rc <= 0)
			break;
		rc = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			const char *rel = ents[i].key + strlen(prefix);
			if (!strncmp(prefix, ents[i].key, strlen(prefix)) && *rel == '/')
				rel++;
			if (!safe_rel(rel) || rel[strlen(rel) - 1] == '/') {
				fprintf(stderr,
				        "lota cp: skipping s3://%s/%s: not a safe file name\n",
				        bucket, ents[i].key);
				continue;
			}
			char dst[PATH_MAX];
			snprintf(dst, sizeof(dst), "%s/%s", dir, rel);
			rc = jobs_add(&j, dst, ents[i].key);
		}
	}
	lota_client_list_free(it);
	int st = jobs_run(&j);
	if (rc < 0)
		return tool_fail("cp", "listing", rc, &e);
	return st;
}

static int upload_walk(cpjobs *j, const char *dir, const char *rel, const char *prefix)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "lota cp: %s: %s\n", path, strerror(errno));
		return 1;
	}
	int status = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char sub[PATH_MAX], full[PATH_MAX + 256];
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		snprintf(full, sizeof(full), "%s/%s", dir, sub);
		struct stat st;
		if (stat(full, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			status |= upload_walk(j, dir, sub, prefix);
		} else if (S_ISREG(st.st_mode)) {
			char key[PATH_MAX + KEY_MAX + 2];
			size_t pl = strlen(prefix);
			snprintf(key, sizeof(key), "%s%s%s", prefix,
			         pl && prefix[pl - 1] != '/' ? "/" : "", sub);
			if (jobs_add(j, full, key) < 0)
				status = 1;
		}
	}
	closedir(d);
	return status;
}

static int upload_tree(cpctx *x, const char *dir, const char *bucket, const char *prefix)
{
	cpjobs j = {.x = x, .bucket = bucket, .down = false};
	int st = upload_walk(&j, dir, "", prefix);
	int st2 = jobs_run(&j);
	return st ? st : st2;
}

int lota_cmd_cp(int argc, char **argv)
{
	const char *usage = "lota cp SRC DST [--recursive]   (SRC, DST: s3://bucket/key, a "
	                    "local path, or - for stdin/stdout)";
	tool_args a;
	int st = tool_parse("cp", cp_keys, sizeof(cp_keys) / sizeof(cp_keys[0]), argc, argv, usage,
	                    2, 2, &a);
	if (st >= 0)
		return st;
	char sb[256], sk[KEY_MAX], db[256], dk[KEY_MAX];
	bool s3src = tool_s3_uri(a.pos[0], sb, sizeof(sb), sk, sizeof(sk));
	bool s3dst = tool_s3_uri(a.pos[1], db, sizeof(db), dk, sizeof(dk));
	bool rec = lota_config_get_bool(a.cfg, "recursive");
	cpctx x = {.quiet = lota_config_get_bool(a.cfg, "quiet"),
	           .bars = true,
	           .jobs = (unsigned)lota_config_get_int(a.cfg, "jobs")};
	st = 2;
	if (s3src == s3dst || (!strncmp(a.pos[0], "s3:", 3) && !s3src) ||
	    (!strncmp(a.pos[1], "s3:", 3) && !s3dst)) {
		fprintf(stderr,
		        "lota cp: one of SRC and DST must be s3://bucket/key, the other a "
		        "local path\nusage: %s\n",
		        usage);
		goto out;
	}
	if (rec && (!strcmp(a.pos[0], "-") || !strcmp(a.pos[1], "-"))) {
		fprintf(stderr, "lota cp: --recursive copies folders, not stdin/stdout\n");
		goto out;
	}
	st = 1;
	x.c = tool_client("cp", a.cfg);
	if (!x.c) {
		st = tool_client_status;
		goto out;
	}
	if (s3src) {
		if (rec) {
			st = download_tree(&x, sb, sk, a.pos[1]);
			goto out;
		}
		if (!sk[0] || sk[strlen(sk) - 1] == '/') {
			fprintf(stderr,
			        "lota cp: %s names no object (use --recursive for a prefix)\n",
			        a.pos[0]);
			st = 2;
			goto out;
		}
		char dst[PATH_MAX];
		struct stat s;
		const char *base = strrchr(sk, '/') ? strrchr(sk, '/') + 1 : sk;
		size_t dl = strlen(a.pos[1]);
		if (strcmp(a.pos[1], "-") != 0 &&
		    ((stat(a.pos[1], &s) == 0 && S_ISDIR(s.st_mode)) || a.pos[1][dl - 1] == '/'))
			snprintf(dst, sizeof(dst), "%s%s%s", a.pos[1],
			         a.pos[1][dl - 1] == '/' ? "" : "/", base);
		else
			snprintf(dst, sizeof(dst), "%s", a.pos[1]);
		st = download(&x, sb, sk, dst);
	} else {
		if (rec) {
			st = upload_tree(&x, a.pos[0], db, dk);
			goto out;
		}
		char key[PATH_MAX + KEY_MAX + 2];
		if (!dk[0] || dk[strlen(dk) - 1] == '/') {
			if (!strcmp(a.pos[0], "-")) {
				fprintf(stderr, "lota cp: an upload from stdin needs a key\n");
				st = 2;
				goto out;
			}
			char b[PATH_MAX];
			snprintf(b, sizeof(b), "%s", a.pos[0]);
			snprintf(key, sizeof(key), "%s%s", dk, basename(b));
		} else {
			snprintf(key, sizeof(key), "%s", dk);
		}
		st = upload(&x, a.pos[0], db, key);
	}
out:
	lota_client_free(x.c);
	tool_args_free(&a);
	return st;
}

/* ------------------------------------------------------------------ ls --- */

static const lota_config_key ls_keys[] = {
    {.name = "recursive",
     .type = LOTA_CONFIG_BOOL,
     .def = "false",
     .help = "every key, not one level under the prefix"},
};

int lota_cmd_ls(int argc, char **argv)
{
	const char *usage = "lota ls s3://bucket[/prefix] [--recursive]";
	tool_args a;
	int st = tool_parse("ls", ls_keys, 1, argc, argv, usage, 1, 1, &a);
	if (st >= 0)
		return st;
	char b[256], k[KEY_MAX];
	lota_client *c = NULL;
	lota_client_list *it = NULL;
	st = 2;
	if (!tool_s3_uri(a.pos[0], b, sizeof(b), k, sizeof(k))) {
		fprintf(stderr, "lota ls: \"%s\" is not s3://bucket[/prefix]\n", a.pos[0]);
		goto out;
	}
	st = 1;
	c = tool_client("ls", a.cfg);
	if (!c) {
		st = tool_client_status;
		goto out;
	}
	lota_list_opts lo =
	    LOTA_OPTS(lota_list_opts, .prefix = k,
	              .delimiter = lota_config_get_bool(a.cfg, "recursive") ? NULL : "/");
	lota_client_error e;
	int rc = lota_client_list_new(c, b, &lo, &it);
	while (rc == 0) {
		const lota_list_entry *ents;
		size_t n;
		rc = lota_client_list_next(it, &ents, &n, &e);
		if (rc <= 0)
			break;
		rc = 0;
		for (size_t i = 0; i < n; i++) {
			if (ents[i].is_prefix) {
				printf("%30s %s\n", "PRE", ents[i].key);
				continue;
			}
			char when[32] = "";
			time_t t = (time_t)ents[i].last_modified;
			struct tm tm;
			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			printf("%s %10" PRIu64 " %s\n", when, ents[i].size_bytes, ents[i].key);
		}
	}
	if (rc < 0) {
		st = tool_fail("ls", a.pos[0], rc, &e);
		goto out;
	}
	st = 0;
out:
	lota_client_list_free(it);
	lota_client_free(c);
	tool_args_free(&a);
	return st;
}

/* ------------------------------------------------------------------ rm --- */

static const lota_config_key rm_keys[] = {
    {.name = "recursive",
     .type = LOTA_CONFIG_BOOL,
     .def = "false",
     .help = "delete every object under the prefix"},
};

int lota_cmd_rm(int argc, char **argv)
{
	const char *usage = "lota rm s3://bucket/key | lota rm --recursive s3://bucket/prefix";
	tool_args a;
	int st = tool_parse("rm", rm_keys, 1, argc, argv, usage, 1, 1, &a);
	if (st >= 0)
		return st;
	char b[256], k[KEY_MAX];
	lota_client *c = NULL;
	lota_client_list *it = NULL;
	lota_client_error e;
	st = 2;
	bool rec = lota_config_get_bool(a.cfg, "recursive");
	if (!tool_s3_uri(a.pos[0], b, sizeof(b), k, sizeof(k)) || (!rec && !k[0])) {
		fprintf(stderr, "lota rm: \"%s\" is not s3://bucket/key\n", a.pos[0]);
		goto out;
	}
	st = 1;
	c = tool_client("rm", a.cfg);
	if (!c) {
		st = tool_client_status;
		goto out;
	}
	if (!rec) {
		int rc = lota_client_delete(c, b, k, &e);
		if (rc < 0) {
			st = tool_fail("rm", a.pos[0], rc, &e);
			goto out;
		}
		printf("delete: %s\n", a.pos[0]);
		st = 0;
		goto out;
	}
	lota_list_opts lo = LOTA_OPTS(lota_list_opts, .prefix = k);
	size_t total = 0;
	int rc = lota_client_list_new(c, b, &lo, &it);
	while (rc == 0) {
		const lota_list_entry *ents;
		size_t n;
		rc = lota_client_list_next(it, &ents, &n, &e);
		if (rc <= 0)
			break;
		const char **keys = calloc(n ? n : 1, sizeof(*keys));
		if (!keys) {
			rc = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < n; i++)
			keys[i] = ents[i].key;
		rc = lota_client_delete_batch(c, b, keys, n, &e);
		free(keys);
		if (rc == 0)
			total += n;
	}
	if (rc < 0) {
		st = tool_fail("rm", a.pos[0], rc, &e);
		goto out;
	}
	printf("delete: %zu objects under %s\n", total, a.pos[0]);
	st = 0;
out:
	lota_client_list_free(it);
	lota_client_free(c);
	tool_args_free(&a);
	return st;
}

/* ------------------------------------------------------------------ prestage --- */

int lota_cmd_prestage(int argc, char **argv)
{
	const char *usage = "lota prestage s3://bucket/prefix   (every object whose key starts "
	                    "with the prefix)";
	tool_args a;
	int st = tool_parse("prestage", NULL, 0, argc, argv, usage, 1, 1, &a);
	if (st >= 0)
		return st;
	char b[256], k[KEY_MAX];
	lota_client *c = NULL;
	st = 2;
	if (!tool_s3_uri(a.pos[0], b, sizeof(b), k, sizeof(k))) {
		fprintf(stderr, "lota prestage: \"%s\" is not s3://bucket/prefix\n", a.pos[0]);
		goto out;
	}
	st = 1;
	c = tool_client("prestage", a.cfg);
	if (!c) {
		st = tool_client_status;
		goto out;
	}
	tool_progress pr;
	tool_progress_init(&pr, "prestage", true);
	lota_prestage_opts po = LOTA_OPTS(lota_prestage_opts, .prefix = true,
	                                  .progress = tool_progress_cb, .progress_ud = &pr);
	lota_client_error e;
	int64_t n = lota_client_prestage(c, b, k, &po, &e);
	tool_progress_end(&pr);
	if (n < 0) {
		st = tool_fail("prestage", a.pos[0], (int)n, &e);
		goto out;
	}
	printf("prestage: %lld objects under %s\n", (long long)n, a.pos[0]);
	st = 0;
out:
	lota_client_free(c);
	tool_args_free(&a);
	return st;
}

/* ------------------------------------------------------------------ cluster --- */

static void print_stats(const char *who, const lota_client_node_stats *s)
{
	char u[32], k[32], fc[32], fu[32], rate[16] = "-";
	uint64_t asked = s->cache_hits + s->cache_misses;
	if (asked)
		snprintf(rate, sizeof(rate), "%.1f%%",
		         100.0 * (double)s->cache_hits / (double)asked);
	printf("%s: hits %llu, misses %llu, hit rate %s, cache %s/%s, served %s from cache, %s "
	       "from upstream\n",
	       who, (unsigned long long)s->cache_hits, (unsigned long long)s->cache_misses, rate,
	       tool_human(s->cache_used_bytes, u, sizeof(u)),
	       tool_human(s->cache_capacity_bytes, k, sizeof(k)),
	       tool_human(s->bytes_from_cache, fc, sizeof(fc)),
	       tool_human(s->bytes_from_upstream, fu, sizeof(fu)));
}

/* Whether "host:port" or "http[s]://host:port/..." names a loopback host. */
static bool loopback(const char *s)
{
	const char *p = strstr(s, "://");
	p = p ? p + 3 : s;
	size_t hl = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/");
	return (hl > 4 && !strncmp(p, "127.", 4)) || (hl == 5 && !strncmp(p, "[::1]", 5)) ||
	       (hl == 9 && !strncasecmp(p, "localhost", 9));
}

/* A member's hit rate from its advertised admin endpoint (stats, true), or why there is
 * none in why. here: the node that gave the table is on this host (its admin URL or its
 * own admin address is a loopback one), so that a loopback admin address of a member on
 * its host (a loopback peer address) reaches that member and not another program. */
static bool member_stats(lota_client *c, const lota_client_member *m, bool here,
                         lota_client_node_stats *stats, char *why, size_t cap)
{
	char url[sizeof(m->admin) + 8];
	if (!m->admin[0]) {
		snprintf(why, cap, "its admin address is not known (%s)",
		         m->node.up ? "it advertises none" : "down, and none heard from it");
		return false;
	}
	if (m->admin_loopback && !(here && loopback(m->node.address))) {
		snprintf(why, cap,
		         "its admin listener is on a loopback address (%s), not reachable from "
		         "here",
		         m->admin);
		return false;
	}
	snprintf(url, sizeof(url), "http://%s", m->admin);
	lota_client_error e;
	int rc = lota_client_node_stats_get(c, url, stats, &e);
	if (rc < 0) {
		char msg[512];
		if (e.code)
			lota_client_error_format(&e, msg, sizeof(msg));
		else
			snprintf(msg, sizeof(msg), "%s", lota_strerror(rc));
		snprintf(why, cap, "its admin endpoint %s does not answer: %s", url, msg);
		return false;
	}
	return true;
}

/* Every admin URL given (or the handle's): its node's id (the member its /cluster calls
 * self) and cache counters. A member no given URL answered for is asked at the admin
 * address the cluster advertises for it (GET /cluster's "admin"), so one admin URL gives
 * every member's hit rate; a member whose address is unknown or does not answer is named
 * with the reason under the table. A given node that does not answer is named on stderr
 * (exit status 1), and the table comes from the first node that does. */
#define CLUSTER_MAX 256
int lota_cmd_cluster(int argc, char **argv)
{
	const char *usage = "lota cluster [ADMIN_URL...]   (members, state and cache use from "
	                    "the first node that answers /cluster; hit rate from each node's "
	                    "/metrics, at its advertised admin address unless given; default: "
	                    "--admin-url or LOTA_ADMIN_URL)";
	tool_args a;
	int st = tool_parse("cluster", NULL, 0, argc, argv, usage, 0, TOOL_MAX_POS, &a);
	if (st >= 0)
		return st;
	static lota_client_member nodes[CLUSTER_MAX], tmp[CLUSTER_MAX];
	static lota_client_node_stats stats[TOOL_MAX_POS], mstats[CLUSTER_MAX];
	static char why[CLUSTER_MAX][1024];
	char self[TOOL_MAX_POS][128];
	bool have_stats[TOOL_MAX_POS] = {0}, have_mstats[CLUSTER_MAX] = {0};
	lota_client_error e;
	lota_client *c = tool_client("cluster", a.cfg);
	st = 1;
	if (!c) {
		st = tool_client_status;
		goto out;
	}
	size_t nadmin = a.npos ? a.npos : 1;
	int n = -1; /* members in the table; -1 until a node answered */
	bool single = false, here = false;
	st = 0;
	for (size_t i = 0; i < nadmin; i++) {
		const char *url = a.npos ? a.pos[i] : NULL;
		self[i][0] = '\0';
		lota_client_member *into = n < 0 ? nodes : tmp;
		int m = lota_client_cluster_members(c, url, into, CLUSTER_MAX, &e);
		if (m == LOTA_E_CLIENT_NOT_FOUND) {
			single = true;
		} else if (m < 0) {
			st = tool_fail("cluster", url ? url : "GET /cluster", m, &e);
			continue;
		} else {
			const char *u = url ? url : lota_config_get_string(a.cfg, "admin_url");
			if (!u)
				u = getenv("LOTA_ADMIN_URL");
			for (int k = 0; k < m && k < CLUSTER_MAX; k++)
				if (into[k].node.self) {
					snprintf(self[i], sizeof(self[i]), "%.*s",
					         (int)sizeof(self[i]) - 1, into[k].node.id);
					if (n < 0)
						here = into[k].admin_loopback || (u && loopback(u));
				}
			if (n < 0)
				n = m;
		}
		int rc = lota_client_node_stats_get(c, url, &stats[i], &e);
		if (rc < 0)
			st = tool_fail("cluster", url ? url : "GET /metrics", rc, &e);
		else
			have_stats[i] = true;
	}
	if (n < 0 && single)
		printf("no /cluster on this node: a single lotad\n");
	/* the members no given URL answered for, at their advertised admin addresses */
	for (int i = 0; i < n && i < CLUSTER_MAX; i++) {
		bool given = false;
		for (size_t j = 0; j < nadmin && !given; j++)
			given = have_stats[j] && !strcmp(self[j], nodes[i].node.id);
		if (!given)
			have_mstats[i] =
			    member_stats(c, &nodes[i], here, &mstats[i], why[i], sizeof(why[i]));
	}
	if (n >= 0) {
		printf("%-20s %-22s %-5s %21s %5s %8s\n", "NODE", "ADDRESS", "STATE",
		       "CACHE USED/CAPACITY", "USE", "HIT RATE");
		for (int i = 0; i < n && i < CLUSTER_MAX; i++) {
			const lota_client_node *nd = &nodes[i].node;
			char u[32], k[32], both[64], pct[16] = "-", rate[16] = "-";
			snprintf(both, sizeof(both), "%s/%s",
			         tool_human(nd->cache_used_bytes, u, sizeof(u)),
			         tool_human(nd->cache_capacity_bytes, k, sizeof(k)));
			if (nd->cache_capacity_bytes)
				snprintf(pct, sizeof(pct), "%.0f%%",
				         100.0 * (double)nd->cache_used_bytes /
				             (double)nd->cache_capacity_bytes);
			const lota_client_node_stats *ns = have_mstats[i] ? &mstats[i] : NULL;
			for (size_t j = 0; j < nadmin && !ns; j++)
				if (have_stats[j] && !strcmp(self[j], nd->id))
					ns = &stats[j];
			if (ns) {
				uint64_t asked = ns->cache_hits + ns->cache_misses;
				snprintf(rate, sizeof(rate), asked ? "%.1f%%" : "-",
				         asked ? 100.0 * (double)ns->cache_hits / (double)asked
				               : 0.0);
			} else {
				snprintf(rate, sizeof(rate), "?");
			}
			printf("%-20s %-22s %-5s %21s %5s %8s%s\n", nd->id, nd->address,
			       nd->up ? "up" : "down", both, pct, rate,
			       nd->self ? "  (answered)" : "");
		}
		for (int i = 0; i < n && i < CLUSTER_MAX; i++)
			if (why[i][0] && !have_mstats[i])
				printf("%s: hit rate unknown: %s\n", nodes[i].node.id, why[i]);
	}
	for (size_t i = 0; i < nadmin; i++)
		if (have_stats[i])
			print_stats(a.npos ? a.pos[i] : "node", &stats[i]);
	for (int i = 0; i < n && i < CLUSTER_MAX; i++)
		if (have_mstats[i]) {
			char who[sizeof(nodes[i].admin) + 8];
			snprintf(who, sizeof(who), "http://%s", nodes[i].admin);
			print_stats(who, &mstats[i]);
		}
out:
	lota_client_free(c);
	tool_args_free(&a);
	return st;
}

/* ------------------------------------------------------------------- owner --- */

int lota_cmd_owner_live(int argc, char **argv)
{
	static const lota_config_key own[] = {
	    {.name = "offset",
	     .type = LOTA_CONFIG_SIZE,
	     .def = "0",
	     .help = "the byte whose extent to place"},
	};
	const char *usage = "lota owner s3://bucket/key [--offset N]   (the member of the running "
	                    "cluster that holds the extent, from --admin-url's /cluster)";
	tool_args a;
	int st = tool_parse("owner", own, 1, argc, argv, usage, 1, 1, &a);
	if (st >= 0)
		return st;
	char b[256], k[KEY_MAX];
	lota_client *c = NULL;
	st = 2;
	if (!tool_s3_uri(a.pos[0], b, sizeof(b), k, sizeof(k)) || !k[0]) {
		fprintf(stderr, "lota owner: \"%s\" is not s3://bucket/key\n", a.pos[0]);
		goto out;
	}
	c = tool_client("owner", a.cfg);
	if (!c) {
		st = tool_client_status;
		goto out;
	}
	uint64_t off = lota_config_get_size(a.cfg, "offset");
	lota_client_node owner;
	lota_client_error e;
	int rc = lota_client_owner(c, b, k, off, &owner, &e);
	if (rc == -ERANGE) {
		fprintf(stderr, "lota owner: %s: %s\n", a.pos[0], e.message);
		goto out; /* 2, as the offline form says of an offset beyond the object */
	}
	if (rc < 0) {
		st = tool_fail("owner", a.pos[0], rc, &e);
		goto out;
	}
	printf("extent %llu owner %s %s%s\n",
	       (unsigned long long)(off / lota_config_get_size(a.cfg, "extent_size")), owner.id,
	       owner.address, owner.self ? " (answered)" : "");
	st = 0;
out:
	lota_client_free(c);
	tool_args_free(&a);
	return st;
}
