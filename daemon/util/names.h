/*
 * names.h - the header and query-parameter names that lotad treats alike everywhere:
 * hop-by-hop headers (never relayed, never signed) and the client's presign parameters
 * (verified by lotad, stripped before re-signing, no reason not to cache).
 */
#ifndef LOTAD_NAMES_H
#define LOTAD_NAMES_H

#include <stdbool.h>

#include <lota/common.h>

/* Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade and Proxy-*:
 * meaningful for one hop only, so never relayed in either direction (case-insensitive). */
bool lotad_hop_by_hop(lota_str name);

/* X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, -Signature and
 * -Security-Token: the query parameters of a presigned URL (case-insensitive). */
bool lotad_presign_param(lota_str name);

/* The presign parameters and X-Amz-Content-Sha256 (a presigned URL's payload pin, which
 * SDKs add as UNSIGNED-PAYLOAD): parameters of the signature that select nothing of the
 * object, so an object read carrying them may be cached. Only the presign parameters are
 * stripped before re-signing; the pin is kept (the upstream checks a body against it). */
bool lotad_signature_param(lota_str name);

#endif
