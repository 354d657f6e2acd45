/*
 * notify.c - see notify.h. libsystemd's sd_notify writes one datagram to $NOTIFY_SOCKET
 * and does nothing without it; its result only says whether a manager listens, which
 * changes nothing for lotad, so it is not reported.
 */
#include "util/notify.h"

#ifdef LOTA_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

void lotad_notify(const char *state)
{
#ifdef LOTA_HAVE_SYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}
