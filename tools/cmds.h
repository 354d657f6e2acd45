/*
 * cmds.h - the subcommands of the `lota` tool that live outside lota.c, and the helpers
 * they share (flag parsing with positional arguments anywhere, s3:// URIs, the client
 * handle from the common flags, the progress bar). Every command returns the tool's exit
 * status: 0 done, 1 the operation failed (the message names the S3 error), 2 usage.
 */
#ifndef LOTA_TOOL_CMDS_H
#define LOTA_TOOL_CMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lota/client.h>
#include <lota/config.h>

int lota_cmd_cp(int argc, char **argv);
int lota_cmd_ls(int argc, char **argv);
int lota_cmd_rm(int argc, char **argv);
int lota_cmd_prestage(int argc, char **argv);
int lota_cmd_cluster(int argc, char **argv);
int lota_cmd_owner_live(int argc, char **argv);
int lota_cmd_bench(int argc, char **argv);
/* `lota bench cipher` (cipher.c): the AES-256-GCM speed of lotad's sealed blocks. */
int lota_cmd_bench_cipher(int argc, char **argv);

/* The flags every S3 command takes (endpoint_url, profile, region, concurrency,
 * part_size, multipart_threshold, admin_url, addressing_style, extent_size), to put in front of its own. */
extern const lota_config_key lota_tool_common_keys[];
extern const size_t lota_tool_common_nkeys;

#define TOOL_MAX_POS 8
typedef struct tool_args {
	lota_config *cfg;
	const char *pos[TOOL_MAX_POS];
	size_t npos;
} tool_args;

/* Parse flags (common + own keys) and positional arguments in any order. Returns 0, or
 * the exit status to return at once (help printed: 0; an error printed: 2). */
int tool_parse(const char *cmd, const lota_config_key *own, size_t nown, int argc, char **argv,
               const char *usage, size_t min_pos, size_t max_pos, tool_args *out);
void tool_args_free(tool_args *a);

/* A client from the common flags; prints why not and returns NULL, with the exit status
 * to give in tool_client_status (2 for a bad endpoint, else 1). */
extern int tool_client_status;
lota_client *tool_client(const char *cmd, const lota_config *cfg);

/* "s3://bucket/key": bucket and key (key may be "") into the buffers; false if the
 * argument is not an s3:// URI. */
bool tool_s3_uri(const char *arg, char *bucket, size_t bcap, char *key, size_t kcap);

/* Print "lota CMD: what: <S3 error>" on stderr; returns 1. */
int tool_fail(const char *cmd, const char *what, int rc, const lota_client_error *e);

/* A progress bar on stderr, drawn only when stderr is a terminal. */
typedef struct tool_progress {
	bool on;
	const char *label;
	uint64_t start_ms, last_ms;
	bool objects; /* count objects, not bytes */
} tool_progress;
void tool_progress_init(tool_progress *p, const char *label, bool objects);
int tool_progress_cb(void *ud, uint64_t done, uint64_t total);
void tool_progress_end(tool_progress *p);
uint64_t tool_now_ms(void);
/* "1.5 GiB" */
const char *tool_human(uint64_t bytes, char *buf, size_t cap);

#endif
