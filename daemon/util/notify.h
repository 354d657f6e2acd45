/*
 * notify.h - lotad's state for its service manager: systemd's sd_notify (READY=1 once
 * lotad serves, RELOADING=1 ... READY=1 around a SIGHUP reload, STOPPING=1 when it starts
 * to drain). A no-op when lotad was not started by systemd (no NOTIFY_SOCKET) or was
 * built without libsystemd (LOTA_HAVE_SYSTEMD unset), so callers never test for either.
 */
#ifndef LOTAD_NOTIFY_H
#define LOTAD_NOTIFY_H

/* state: sd_notify's newline-separated assignments ("READY=1\nSTATUS=..."). */
void lotad_notify(const char *state);

#endif
