# shellcheck shell=sh
# Stand-in for /etc/rc.common in the init-script tests: `sh rc.sh INIT ACTION` loads the
# stubs and the init script, then runs ACTION as rc.common does for a procd service
# (start/reload: the service, its instances and triggers; check: the extra command).
# shellcheck disable=SC3043 # `local`: dash and busybox ash have it

stubs=$(dirname "$0")
initscript="$1"
action="$2"
# shellcheck source=openwrt/tests/stubs/functions.sh
. "$stubs/functions.sh"
# shellcheck source=openwrt/tests/stubs/procd.sh
. "$stubs/procd.sh"
# shellcheck disable=SC1090 # the init script under test
. "$initscript"

[ "${USE_PROCD:-}" = 1 ] || { echo "rc stub: $initscript does not set USE_PROCD=1" >&2; exit 70; }
MATADOR_REAL_PROG="$PROG"
MATADOR_STUB_PROG="$stubs/matador-routerd"
PROG="$MATADOR_STUB_PROG"
export MATADOR_REAL_PROG MATADOR_STUB_PROG

case "$action" in
start | reload)
	# rc.common names the service after /etc/init.d/<name>; the init script's NAME is that.
	# shellcheck disable=SC2153 # NAME comes from the init script
	procd_open_service "$NAME" "/etc/init.d/$NAME"
	start_service
	_stub_record start_service_returned "$?"
	procd_close_service
	;;
check)
	check
	;;
*)
	echo "rc stub: action $action is not emulated" >&2
	exit 64
	;;
esac
