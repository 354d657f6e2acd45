/*
 * redirect-abi.h - the maps' key and value layouts shared by bpf/redirect.bpf.c and
 * lotad's loader (daemon/redirect/). Only <linux/types.h> types, so both the BPF
 * program and user space compile it. Every address is 16 bytes in network order: an
 * IPv4 address is stored v4-mapped (::ffff:a.b.c.d), so one table serves connect4 and
 * connect6 (an AF_INET6 socket connecting to a v4-mapped address goes through connect6
 * only). Ports are in network order, as in sin_port.
 */
#ifndef LOTA_BPF_REDIRECT_ABI_H
#define LOTA_BPF_REDIRECT_ABI_H

#include <linux/types.h>

/* A redirected endpoint: what a program passes to connect(). */
typedef struct lota_redir_key {
	__u32 addr[4];
	__u16 port;
	__u16 pad; /* always 0: hash keys compare every byte */
} lota_redir_key;

/* Where its connects go instead: a lotad listener. */
typedef struct lota_redir_val {
	__u32 addr[4];
	__u16 port;
	__u16 pad;
} lota_redir_val;

/* The destination a redirected socket asked for (socket storage, read back by
 * getpeername4/6). family is AF_INET or AF_INET6: the socket's own family. */
typedef struct lota_redir_orig {
	__u32 addr[4];
	__u16 port;
	__u16 family;
} lota_redir_orig;

#define LOTA_REDIR_MAX_ENTRIES 1024

#endif
