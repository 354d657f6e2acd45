/*
 * nodesecret.h - the node secret: 32 random bytes in a file readable by lotad alone,
 * the root of the keys that seal the local cache (store.h derives its keys from it).
 *
 * Invariants: the file is a regular file of exactly LOTAD_NODESECRET_LEN bytes, owned by
 * the effective user, with no group/other permission bits; anything else is refused at
 * start (never "fixed" silently: a readable secret may already have leaked). The secret
 * never goes to a log.
 */
#ifndef LOTAD_NODESECRET_H
#define LOTAD_NODESECRET_H

#include <stdint.h>

#include <lota/common.h>

#define LOTAD_NODESECRET_LEN 32

/*
 * Load the secret at path, or create it (mode 0600, 32 bytes from the CSPRNG, fsync'd,
 * published with link() so a crash or a concurrent start never leaves a short file) when
 * it does not exist. Returns 0 and fills out; -EACCES when the file has group/other
 * permission bits or another owner; -EINVAL when it is not a regular file or not exactly
 * 32 bytes; -errno from the system; LOTA_E_CRYPTO when no random bytes. On failure out is
 * wiped. The caller wipes out (lota__wipe) when done.
 */
int lotad_nodesecret_load_or_create(const char *path, uint8_t out[LOTAD_NODESECRET_LEN]) LOTA_WUR;

#endif
