# shellcheck shell=sh
# Stand-in for OpenWrt's /lib/functions/procd.sh (and jshn, logger) in the init-script
# tests: every procd_*, json_* and logger call is written to $MATADOR_RECORD as one line,
# `name [arg] [arg] …`, so a test can compare the exact command line, respawn, triggers,
# firewall data and log lines. uci_load_validate checks values as /sbin/validate_data
# does for the types the init script uses, records what it refused, and calls back.
# shellcheck disable=SC3043 # `local`: dash and busybox ash have it

_stub_record() {
	local line="$1" arg
	shift
	for arg in "$@"; do
		# The daemon stub stands in for the init script's own PROG: record the latter.
		[ "$arg" = "${MATADOR_STUB_PROG:-}" ] && arg="$MATADOR_REAL_PROG"
		line="$line [$arg]"
	done
	printf '%s\n' "$line" >>"${MATADOR_RECORD:?}"
}

for _stub_fn in procd_open_service procd_open_instance procd_set_param procd_append_param \
	procd_close_instance procd_open_data procd_close_data procd_add_reload_trigger \
	procd_add_interface_trigger procd_add_reload_interface_trigger procd_add_config_trigger \
	procd_add_raw_trigger procd_add_reload_data_trigger procd_send_signal procd_kill \
	json_add_object json_close_object json_add_array json_close_array json_add_string \
	json_add_int json_add_boolean logger; do
	eval "$_stub_fn() { _stub_record $_stub_fn \"\$@\"; }"
done

procd_close_service() {
	_stub_record procd_open_trigger
	service_triggers
	_stub_record procd_close_trigger
	_stub_record procd_close_service
}

procd_add_validation() {
	_stub_record procd_open_validate
	"$@"
	_stub_record procd_close_validate
}

# One value against one validate_data type; 0 when it fits.
_stub_valid() {
	local type="$1" value="$2" choice
	case "$type" in
	string) return 0 ;;
	bool) case "$value" in 0 | 1 | on | off | true | false | yes | no) return 0 ;; esac ;;
	uciname) printf '%s' "$value" | grep -Eq '^[A-Za-z0-9_]+$' && return 0 ;;
	port)
		printf '%s' "$value" | grep -Eq '^[0-9]{1,5}$' && [ "$value" -le 65535 ] && return 0
		;;
	ipaddr)
		printf '%s' "$value" | grep -Eq '^(([0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$' || return 1
		case "$value" in *:*) return 0 ;; esac
		for choice in $(printf '%s' "$value" | tr . ' '); do
			[ "$choice" -le 255 ] || return 1
		done
		return 0
		;;
	or\(*\))
		for choice in $(printf '%s' "${type#or(}" | tr -d ')"' | tr , ' '); do
			[ "$value" = "$choice" ] && return 0
		done
		;;
	*)
		echo "procd stub: validate type $type is not emulated" >&2
		exit 70
		;;
	esac
	return 1
}

# uci_validate_section PACKAGE TYPE SECTION SPEC… (sets the options' variables)
uci_validate_section() {
	local package="$1" type="$2" section="$3" spec name rest vtype default value set rc=0
	shift 3
	if [ -z "$section" ]; then
		# procd_add_validation: the spec itself is what procd gets.
		for spec in "$@"; do
			_stub_record validate "$package" "$type" "$spec"
		done
		return 0
	fi
	for spec in "$@"; do
		name="${spec%%:*}"
		rest="${spec#*:}"
		vtype="${rest%%:*}"
		default=""
		[ "$rest" = "$vtype" ] || default="${rest#*:}"
		eval "set=\${_stub_set_${section}_$name:-}"
		if [ -n "$set" ]; then
			eval "value=\${_stub_opt_${section}_$name}"
			if ! _stub_valid "$vtype" "$value"; then
				_stub_record validate_data "$package.$section.$name" "$value" "is not $vtype"
				value="$default"
				rc=1
			fi
		else
			value="$default"
		fi
		eval "$name=\$value"
	done
	return "$rc"
}

# uci_load_validate PACKAGE TYPE SECTION CALLBACK SPEC…
uci_load_validate() {
	local _package="$1" _type="$2" _name="$3" _function="$4" _option _result
	shift 4
	for _option in "$@"; do
		eval "local ${_option%%:*}"
	done
	uci_validate_section "$_package" "$_type" "$_name" "$@"
	_result=$?
	[ -n "$_function" ] || return "$_result"
	"$_function" "$_name" "$_result"
}
