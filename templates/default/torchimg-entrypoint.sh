#!/bin/sh
# torchimg entrypoint: a self-check of GPU and driver before your command, then your command.
# The check only prints advice to stderr; it never blocks or changes the command.
# TORCHIMG_SELFCHECK=0 switches it off; TORCHIMG_SELFCHECK=verbose also reports success.
if [ "${TORCHIMG_SELFCHECK:-1}" != 0 ] && [ -r /usr/local/lib/torchimg/selfcheck.sh ]; then
	( /bin/sh /usr/local/lib/torchimg/selfcheck.sh ) || true
fi
if [ "$#" -eq 0 ]; then
	set -- python
fi
exec "$@"
