# shellcheck shell=sh
# Stand-in for OpenWrt's /lib/functions.sh in the init-script tests: config_load,
# config_get, config_get_bool and config_foreach over a UCI file, with the same calling
# conventions (anonymous sections are named cfgNN). Reads $UCI_CONFIG_DIR/<package>.
# Handles what the test configs use: config/option/list lines, '…', "…" or bare values,
# comments and blank lines.
# shellcheck disable=SC3043 # `local`: dash and busybox ash have it

_stub_sections=""

config_load() {
	local file="${UCI_CONFIG_DIR:?}/$1" script
	_stub_sections=""
	[ -f "$file" ] || return 0
	script=$(awk '
		function value(s) {
			sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s)
			if (s ~ /^\047.*\047$/ || s ~ /^".*"$/) s = substr(s, 2, length(s) - 2)
			gsub(/\047/, "\047\\\047\047", s)
			return s
		}
		/^[ \t]*(#|$)/ { next }
		$1 == "config" {
			n++
			name = (NF >= 3) ? value($3) : sprintf("cfg%02d", n)
			printf "_stub_sections=\"$_stub_sections %s\"\n", name
			printf "_stub_type_%s=\047%s\047\n", name, value($2)
			next
		}
		$1 == "option" || $1 == "list" {
			line = $0; sub(/^[ \t]*(option|list)[ \t]+[^ \t]+/, "", line)
			sub(/[ \t]+#.*$/, "", line)
			v = value(line)
			if ($1 == "list")
				printf "_stub_opt_%s_%s=\"${_stub_opt_%s_%s:+$_stub_opt_%s_%s }\"\047%s\047\n", name, $2, name, $2, name, $2, v
			else
				printf "_stub_opt_%s_%s=\047%s\047\n", name, $2, v
			printf "_stub_set_%s_%s=1\n", name, $2
		}
	' "$file") || return 1
	eval "$script"
}

# config_get VAR SECTION OPTION [DEFAULT]
# shellcheck disable=SC2034 # value is read by the eval
config_get() {
	local set value
	eval "set=\${_stub_set_$2_$3:-}"
	if [ -n "$set" ]; then
		eval "value=\${_stub_opt_$2_$3}"
	else
		value="${4:-}"
	fi
	eval "$1=\$value"
}

config_get_bool() {
	local _b
	config_get _b "$2" "$3" "${4:-0}"
	case "$_b" in
	1 | on | true | yes | enabled) _b=1 ;;
	*) _b=0 ;;
	esac
	eval "$1=\$_b"
}

# config_foreach FUNCTION [TYPE] [ARGS...]
config_foreach() {
	local fn="$1" type="${2:-}" section stype
	shift
	[ $# -gt 0 ] && shift
	for section in $_stub_sections; do
		eval "stype=\$_stub_type_$section"
		[ -z "$type" ] || [ "$type" = "$stype" ] || continue
		"$fn" "$section" "$@"
	done
}
