/*
 * redirect.bpf.c - lotad's eBPF connect redirect (lotad --redirect-ebpf).
 *
 * cgroup/connect4 and cgroup/connect6 rewrite a TCP connect() whose destination is in
 * the `redirects` map (a redirected S3 endpoint, kept fresh from DNS by lotad) to the
 * lotad listener the map names. This works for every program in the cgroup, also the
 * ones an LD_PRELOAD shim cannot reach: Go (raw syscalls) and static binaries.
 * cgroup/getpeername4/6 give back the destination the program asked for, kept in socket
 * storage at connect time, so a program that checks its peer sees no difference.
 *
 * Exemption of lotad's own sockets: lotad connects to the same upstream endpoints it
 * redirects, and would connect to itself. The program compares the calling process's
 * tgid with `lotad_tgid`, which lotad writes into the read-only data before it loads
 * the program. Chosen over the alternatives because:
 *  - it covers every socket of the process at once (curl's upstream connections, the
 *    TLS and cluster clients of other parts, resolver sockets), with no change to them
 *    and no way for a new socket to forget it and loop back into lotad;
 *  - a cgroup id would exempt every process that shares lotad's cgroup (with the default
 *    attachment at the cgroup root, lotad often sits in the root cgroup with the jobs);
 *  - a socket mark (SO_MARK) must be set on each socket by its creator and is also read
 *    by policy routing and netfilter, which an operator may use for other things.
 * bpf_get_current_pid_tgid() reports the tgid in the initial PID namespace, so lotad
 * refuses --redirect-ebpf when it runs in another one (a container without hostPID).
 *
 * Return values: connect programs return 1 (allow; 0 would fail the connect with EPERM),
 * getpeername programs must return 1. Stores to user_ip4/user_ip6/user_port are 4-byte.
 */
#include <linux/bpf.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "redirect-abi.h"

/* From <sys/socket.h>, which is libc's and not for the BPF target. */
#define AF_INET     2
#define AF_INET6    10
#define SOCK_STREAM 1

char LICENSE[] SEC("license") = "GPL";

/* Written by lotad before load (the skeleton's rodata): its tgid in the initial PID
 * namespace. 0 exempts nothing. */
const volatile __u32 lotad_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOTA_REDIR_MAX_ENTRIES);
	__type(key, lota_redir_key);
	__type(value, lota_redir_val);
} redirects SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, lota_redir_orig);
} orig_dst SEC(".maps");

static __always_inline int is_lotad(void)
{
	return lotad_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) == lotad_tgid;
}

static __always_inline int is_v4mapped(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/* Redirect the connect described by key, or forget an older redirect of this socket (a
 * second connect() after a failed one must not keep the first one's original). */
static __always_inline lota_redir_val *lookup(struct bpf_sock_addr *ctx, lota_redir_key *key,
                                              int family)
{
	lota_redir_val *v = bpf_map_lookup_elem(&redirects, key);
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return 0;
	if (!v) {
		bpf_sk_storage_delete(&orig_dst, sk);
		return 0;
	}
	if (family == AF_INET && !is_v4mapped(v->addr))
		return 0; /* an AF_INET socket cannot reach an IPv6 listener */
	lota_redir_orig *o = bpf_sk_storage_get(&orig_dst, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return 0; /* no memory: better a direct connect than a wrong getpeername */
	o->addr[0] = key->addr[0];
	o->addr[1] = key->addr[1];
	o->addr[2] = key->addr[2];
	o->addr[3] = key->addr[3];
	o->port = key->port;
	o->family = family;
	return v;
}

SEC("cgroup/connect4")
int lota_connect4(struct bpf_sock_addr *ctx)
{
	lota_redir_key key = {};
	lota_redir_val *v;
	if (ctx->type != SOCK_STREAM || is_lotad())
		return 1;
	key.addr[2] = bpf_htonl(0xffff);
	key.addr[3] = ctx->user_ip4;
	key.port = (__u16)ctx->user_port;
	v = lookup(ctx, &key, AF_INET);
	if (v) {
		ctx->user_ip4 = v->addr[3];
		ctx->user_port = v->port;
	}
	return 1;
}

SEC("cgroup/connect6")
int lota_connect6(struct bpf_sock_addr *ctx)
{
	lota_redir_key key = {};
	lota_redir_val *v;
	if (ctx->type != SOCK_STREAM || is_lotad())
		return 1;
	key.addr[0] = ctx->user_ip6[0];
	key.addr[1] = ctx->user_ip6[1];
	key.addr[2] = ctx->user_ip6[2];
	key.addr[3] = ctx->user_ip6[3];
	key.port = (__u16)ctx->user_port;
	v = lookup(ctx, &key, AF_INET6);
	if (v) {
		ctx->user_ip6[0] = v->addr[0];
		ctx->user_ip6[1] = v->addr[1];
		ctx->user_ip6[2] = v->addr[2];
		ctx->user_ip6[3] = v->addr[3];
		ctx->user_port = v->port;
	}
	return 1;
}

SEC("cgroup/getpeername4")
int lota_getpeername4(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	lota_redir_orig *o;
	if (!sk)
		return 1;
	o = bpf_sk_storage_get(&orig_dst, sk, 0, 0);
	if (o && o->family == AF_INET) {
		ctx->user_ip4 = o->addr[3];
		ctx->user_port = o->port;
	}
	return 1;
}

SEC("cgroup/getpeername6")
int lota_getpeername6(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	lota_redir_orig *o;
	if (!sk)
		return 1;
	o = bpf_sk_storage_get(&orig_dst, sk, 0, 0);
	if (o && o->family == AF_INET6) {
		ctx->user_ip6[0] = o->addr[0];
		ctx->user_ip6[1] = o->addr[1];
		ctx->user_ip6[2] = o->addr[2];
		ctx->user_ip6[3] = o->addr[3];
		ctx->user_port = o->port;
	}
	return 1;
}
