#!/usr/bin/env bash
# openwrt/tests/run.sh: the checks of the OpenWrt packaging that need neither the SDK nor the
# ImageBuilder (neither can be downloaded on the test machine).
#
#   1. shellcheck on every shell script under openwrt/ and images/
#   2. the init script, run with stub procd/UCI functions (stubs/) against the configs in
#      cases/: the exact procd calls recorded (command line, respawn, triggers, validation,
#      fw4 data, log lines) against cases/*/expected, under dash and busybox ash
#   3. the package's uci-defaults and the image's management-tunnel uci-defaults, also on an
#      overlay made by `matador-host router enroll`
#   4. images/build.sh: argument handling, profiles, the `make image` it runs (--dry-run)
#   5. the package Makefile: the variables and rules the packages feed's Rust packages have
#   6. conffiles, keep.d and the shipped /etc/config/matador agree; Cargo.lock is committed and
#      current; the daemon (if built) accepts the shipped config
#
# Usage: openwrt/tests/run.sh [--update]   (--update rewrites cases/*/expected)
# MATADOR_ROUTERD=path/to/matador-routerd: the daemon for check 6 (default: target/debug's).
# MATADOR_HOST=path/to/matador-host: the host CLI for check 3 (default: target/debug's).
#
# shellcheck disable=SC2015 # `test && ok || fail`: ok always succeeds, so it is if/else
set -uo pipefail

tests=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
openwrt=$(dirname "$tests")
repo=$(dirname "$openwrt")
pkg="$openwrt/matador"
init="$pkg/files/matador.init"
update=0
[ "${1:-}" = "--update" ] && update=1

failures=0
checks=0
ok() {
	checks=$((checks + 1))
}
fail() {
	checks=$((checks + 1))
	failures=$((failures + 1))
	echo "FAIL: $1" >&2
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/    /' >&2
}
# expect DESCRIPTION WANT GOT
expect() {
	if [ "$2" = "$3" ]; then ok; else fail "$1" "$(diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3)"; fi
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# --- 1. shellcheck ---------------------------------------------------------------------------
if ! command -v shellcheck >/dev/null; then
	fail "shellcheck is not installed (apt-get install shellcheck)"
else
	while IFS= read -r -d '' f; do
		first=$(head -n 1 "$f")
		case "$first" in
		'#!'*bash*) args=(-x) ;;                       # bash: build.sh, this file
		*) if grep -q '^# shellcheck shell=bash' "$f"; then args=(-x); else args=(-x -s sh); fi ;;
		esac
		case "$first" in
		'#!'* | '# shellcheck shell='*) ;;
		*) grep -q '^# shellcheck shell=' "$f" || continue ;; # not a shell file
		esac
		if out=$(cd "$repo" && shellcheck "${args[@]}" "${f#"$repo"/}" 2>&1); then ok; else fail "shellcheck ${f#"$repo"/}" "$out"; fi
	done < <(find "$openwrt" "$repo/images" -type f ! -name '*.md' ! -name Makefile ! -path '*/cases/*' ! -path '*/out/*' -print0 | sort -z)
fi

# --- 2. the init script with stub procd --------------------------------------------------------
shells=(dash)
command -v busybox >/dev/null && busybox ash -c true 2>/dev/null && shells+=("busybox ash")
for case_dir in "$tests"/cases/*/; do
	name=$(basename "$case_dir")
	mkdir -p "$scratch/uci-$name"
	if [ "$name" = shipped ]; then
		cp "$pkg/files/matador.config" "$scratch/uci-$name/matador"
	else
		cp "$case_dir/matador" "$scratch/uci-$name/matador"
	fi
	daemon_error=""
	[ -f "$case_dir/daemon-error" ] && daemon_error=$(cat "$case_dir/daemon-error")
	for shell in "${shells[@]}"; do
		record="$scratch/record-$name"
		: >"$record"
		# shellcheck disable=SC2086 # "busybox ash" is two words
		UCI_CONFIG_DIR="$scratch/uci-$name" MATADOR_RECORD="$record" \
			MATADOR_STUB_DAEMON_ERROR="$daemon_error" \
			$shell "$tests/stubs/rc.sh" "$init" start >"$scratch/out" 2>&1
		rc=$?
		[ "$rc" = 0 ] || fail "init $name ($shell): rc.sh exited $rc" "$(cat "$scratch/out")"
		if [ "$update" = 1 ]; then
			cp "$record" "$case_dir/expected"
		else
			expect "init $name ($shell): procd calls" "$(cat "$case_dir/expected")" "$(cat "$record")"
		fi
	done
done
# The extra command `check`: the daemon's verdict, as a status and a line.
got=$(UCI_CONFIG_DIR="$tests/cases/disabled" MATADOR_RECORD=/dev/null sh "$tests/stubs/rc.sh" "$init" check 2>&1)
expect "init check: a good config" "/etc/config/matador: OK" "$got"
got=$(UCI_CONFIG_DIR="$tests/cases/disabled" MATADOR_RECORD=/dev/null MATADOR_STUB_DAEMON_ERROR="line 3: bad" \
	sh "$tests/stubs/rc.sh" "$init" check 2>&1)
rc=$?
expect "init check: a bad config" "matador-routerd: error: line 3: bad (exit 1)" "$got (exit $rc)"

# --- 3. uci-defaults -------------------------------------------------------------------------
root="$scratch/root"
mkdir -p "$root"
if MATADOR_ROOT="$root" sh "$pkg/files/matador.uci-defaults"; then ok; else fail "uci-defaults: exit $?"; fi
token=$(cat "$root/etc/matador/token" 2>/dev/null)
[[ "$token" =~ ^[0-9a-f]{48}$ ]] && ok || fail "uci-defaults: token '$token' is not 48 hex digits"
expect "uci-defaults: modes" "600 700 700 700" \
	"$(stat -c %a "$root/etc/matador/token" "$root/etc/matador" "$root/etc/matador/state" "$root/etc/matador/vantage" | tr '\n' ' ' | sed 's/ $//')"
MATADOR_ROOT="$root" sh "$pkg/files/matador.uci-defaults"
expect "uci-defaults: a second run keeps the token" "$token" "$(cat "$root/etc/matador/token")"
printf 'from-the-image-0123456789\n' >"$root/etc/matador/token"
chmod 644 "$root/etc/matador/token"
MATADOR_ROOT="$root" sh "$pkg/files/matador.uci-defaults"
expect "uci-defaults: keeps the image's token, made private" "from-the-image-0123456789 600" \
	"$(cat "$root/etc/matador/token") $(stat -c %a "$root/etc/matador/token")"

# The management tunnel: a stub `uci` records the batch.
mgmt="$repo/images/files/etc/uci-defaults/95-matador-mgmt"
mkdir -p "$scratch/bin" "$scratch/mroot/etc/matador"
cat >"$scratch/bin/uci" <<'STUB'
#!/bin/sh
[ "$1" = -q ] && shift
case "$1" in
get) [ -n "${STUB_UCI_HAS_MGMT:-}" ] ;;
batch) cat >>"$STUB_UCI_RECORD" ;;
*) exit 64 ;;
esac
STUB
chmod +x "$scratch/bin/uci"
mgmt_run() {
	: >"$scratch/uci-record"
	PATH="$scratch/bin:$PATH" STUB_UCI_RECORD="$scratch/uci-record" MATADOR_ROOT="$scratch/mroot" \
		sh "$mgmt" 2>"$scratch/mgmt-err"
}
mgmt_run && [ ! -s "$scratch/uci-record" ] && ok || fail "mgmt: without mgmt.conf it should do nothing"
cat >"$scratch/mroot/etc/matador/mgmt.conf" <<'CONF'
# zrh → controller
[Interface]
PrivateKey = cFJvdXRlcktleUJhc2U2NFBsYWNlaG9sZGVyMDAwMDA=
Address = 10.200.0.7/24, fd00:200::7/64
ListenPort = 51820

[Peer]
PublicKey = Q29udHJvbGxlcktleUJhc2U2NFBsYWNlaG9sZGVyMDA=
Endpoint = [2001:db8::1]:51820
AllowedIPs = 10.200.0.0/24,fd00:200::/64
CONF
mgmt_run && ok || fail "mgmt: exit $?" "$(cat "$scratch/mgmt-err")"
expect "mgmt: the uci batch" "$(cat "$tests/mgmt.expected")" "$(cat "$scratch/uci-record")"
STUB_UCI_HAS_MGMT=1 mgmt_run && [ ! -s "$scratch/uci-record" ] && ok ||
	fail "mgmt: an existing network.mgmt must be left alone"
sed -i '/^Endpoint/d' "$scratch/mroot/etc/matador/mgmt.conf"
mgmt_run
expect "mgmt: no Endpoint is refused" "1 $scratch/mroot/etc/matador/mgmt.conf: no Endpoint in [Peer]: the router dials out" \
	"$? $(cat "$scratch/mgmt-err")"

# An overlay from `matador-host router enroll` (if built): first boot makes its mgmt.conf the
# tunnel, keeps its token, and the daemon (if built) accepts its /etc/config/matador.
host_cli="${MATADOR_HOST:-${CARGO_TARGET_DIR:-$repo/target}/debug/matador-host}"
if [ -x "$host_cli" ]; then
	enrolled="$scratch/enrolled"
	out=$("$host_cli" router enroll zrh --controller-endpoint vpn.example.org:51820 --address 10.200.0.7 \
		--controller-public-key Q29udHJvbGxlcktleUJhc2U2NFBsYWNlaG9sZGVyMDA= --out "$enrolled" 2>&1) && ok ||
		fail "router enroll: exit $?" "$out"
	: >"$scratch/uci-record"
	PATH="$scratch/bin:$PATH" STUB_UCI_RECORD="$scratch/uci-record" MATADOR_ROOT="$enrolled" \
		sh "$mgmt" 2>"$scratch/mgmt-err" && ok || fail "mgmt (enrolled): exit $?" "$(cat "$scratch/mgmt-err")"
	private_key=$(sed -n 's/^PrivateKey = //p' "$enrolled/etc/matador/mgmt.conf")
	expect "mgmt (enrolled): the uci batch" "$(sed -e "s|cFJvdXRlcktleUJhc2U2NFBsYWNlaG9sZGVyMDAwMDA=|$private_key|" \
		-e 's|10.200.0.7/24|10.200.0.7/32|; /fd00:200::/d; s|2001:db8::1|vpn.example.org|' "$tests/mgmt.expected")" \
		"$(cat "$scratch/uci-record")"
	token=$(cat "$enrolled/etc/matador/token")
	MATADOR_ROOT="$enrolled" sh "$pkg/files/matador.uci-defaults" && ok || fail "uci-defaults (enrolled): exit $?"
	expect "uci-defaults (enrolled): keeps the token" "$token 600" \
		"$(cat "$enrolled/etc/matador/token") $(stat -c %a "$enrolled/etc/matador/token")"
	daemon="${MATADOR_ROUTERD:-${CARGO_TARGET_DIR:-$repo/target}/debug/matador-routerd}"
	if [ -x "$daemon" ]; then
		out=$("$daemon" config --to-uci "$enrolled/etc/config/matador" 2>&1) && ok ||
			fail "the daemon refuses the enrolled /etc/config/matador" "$out"
	fi
else
	echo "note: $host_cli not built; the check of an enrolled router's overlay was skipped" >&2
fi

# --- 4. images/build.sh ----------------------------------------------------------------------
build="$repo/images/build.sh"
mkdir -p "$scratch/router/zrh/etc/config" "$scratch/ib"
touch "$scratch/router/zrh/etc/config/matador" "$scratch/matador-router_0.1.0-r1_aarch64_cortex-a53.ipk"
ipk="$scratch/matador-router_0.1.0-r1_aarch64_cortex-a53.ipk"
# build_expect DESCRIPTION EXIT-STATUS STDERR-SUBSTRING ARGS…
build_expect() {
	local what="$1" status="$2" needle="$3"
	shift 3
	"$build" "$@" >"$scratch/build-out" 2>"$scratch/build-err"
	local rc=$?
	if [ "$rc" = "$status" ] && grep -qF -- "$needle" "$scratch/build-err" "$scratch/build-out"; then ok; else
		fail "build.sh $what: want exit $status and '$needle', got $rc" "$(cat "$scratch/build-err")"
	fi
}
build_expect "no arguments" 2 "usage: images/build.sh"
build_expect "--help" 0 "profiles: glinet_gl-mt6000 x86-64-generic" --help
build_expect "unknown profile" 2 "no profile nope" nope
build_expect "unknown option" 2 "unknown option --fast" --fast glinet_gl-mt6000
build_expect "two profiles" 2 "one PROFILE only" glinet_gl-mt6000 x86-64-generic
build_expect "no --router" 2 "--router DIR is required" --package "$ipk" glinet_gl-mt6000
build_expect "router without UCI" 2 "etc/config/matador is missing" --package "$ipk" --router "$scratch" glinet_gl-mt6000
build_expect "no --package" 2 "--package FILE is required" --router "$scratch/router/zrh" glinet_gl-mt6000
build_expect "wrong package kind" 2 "installs .ipk packages" --package "$build" --router "$scratch/router/zrh" glinet_gl-mt6000
build_expect "--out without value" 2 "--out needs a value" --out
"$build" --dry-run --package "$ipk" --router "$scratch/router/zrh" --cache "$scratch/cache" --out "$scratch/out" \
	glinet_gl-mt6000 >"$scratch/build-out" 2>&1
ib="$scratch/cache/openwrt-imagebuilder-24.10.4-mediatek-filogic.Linux-x86_64"
expect "build.sh --dry-run: downloads the release and its sha256sums" \
	"+ curl -fL --retry 3 -o $ib.tar.zst.part https://downloads.openwrt.org/releases/24.10.4/targets/mediatek/filogic/openwrt-imagebuilder-24.10.4-mediatek-filogic.Linux-x86_64.tar.zst
+ curl -fL --retry 3 -o $ib.sha256sums https://downloads.openwrt.org/releases/24.10.4/targets/mediatek/filogic/sha256sums" \
	"$(grep '^+ curl' "$scratch/build-out")"
expect "build.sh --dry-run: the package and make image (mt6000)" \
	"+ cp $ipk $ib/packages/
+ make -C $ib image PROFILE=glinet_gl-mt6000 PACKAGES=matador-router\\ wireguard-tools FILES=${TMPDIR:-/tmp}/matador-image.XXXXXX/files BIN_DIR=$scratch/out EXTRA_IMAGE_NAME=matador-zrh" \
	"$(grep -E '^\+ (make|cp [^-])' "$scratch/build-out")"
"$build" --dry-run --package "$ipk" --router "$scratch/router/zrh" --imagebuilder "$scratch/ib" --out "$scratch/out" \
	x86-64-generic >"$scratch/build-out" 2>&1
expect "build.sh --dry-run: an unpacked ImageBuilder, ROOTFS_PARTSIZE (x86-64)" \
	"+ make -C $scratch/ib image PROFILE=generic PACKAGES=matador-router\\ wireguard-tools\\ wpad-basic-mbedtls\\ kmod-mt7921u\\ kmod-mt76x2u\\ kmod-rtl8xxxu FILES=${TMPDIR:-/tmp}/matador-image.XXXXXX/files BIN_DIR=$scratch/out EXTRA_IMAGE_NAME=matador-zrh ROOTFS_PARTSIZE=512" \
	"$(grep '^+ make' "$scratch/build-out")"
grep -q '^+ curl' "$scratch/build-out" && fail "build.sh: downloads although --imagebuilder was given" || ok

# --- 5. the package Makefile -----------------------------------------------------------------
mk="$pkg/Makefile"
# Every line that must be there, as an extended regular expression.
while IFS= read -r want; do
	[ -n "$want" ] || continue
	grep -Eq -- "$want" "$mk" && ok || fail "Makefile: no line matching /$want/"
done <<'WANT'
^include \$\(TOPDIR\)/rules\.mk$
^PKG_NAME:=matador-router$
^PKG_VERSION:=[0-9]+\.[0-9]+\.[0-9]+$
^PKG_RELEASE:=[0-9]+$
^PKG_LICENSE:=Apache-2\.0$
^PKG_MAINTAINER:=.+
^PKG_BUILD_DEPENDS:=rust/host$
^PKG_BUILD_PARALLEL:=1$
^RUST_PKG_LOCKED:=1$
^include \$\(INCLUDE_DIR\)/package\.mk$
^include \.\./\.\./lang/rust/rust-package\.mk$
^  DEPENDS:=\$\(RUST_ARCH_DEPENDS\)
^define Package/matador-router/conffiles$
^/etc/config/matador$
^/etc/matador/token$
^MAKE_PATH:=router-fw$
INSTALL_BIN\) \$\(PKG_INSTALL_DIR\)/bin/matador-routerd \$\(1\)/usr/sbin/$
INSTALL_BIN\) \./files/matador\.init \$\(1\)/etc/init\.d/matador$
INSTALL_CONF\) \./files/matador\.config \$\(1\)/etc/config/matador$
INSTALL_BIN\) \./files/matador\.uci-defaults \$\(1\)/etc/uci-defaults/80-matador$
INSTALL_DATA\) \./files/matador\.keep \$\(1\)/lib/upgrade/keep\.d/matador$
^\$\(eval \$\(call RustBinPackage,matador-router\)\)$
^\$\(eval \$\(call BuildPackage,matador-router\)\)$
WANT
# The runtime dependencies (in the DEPENDS block, continuation lines included).
depends=$(sed -n '/^  DEPENDS:=/,/[^\\]$/p' "$mk")
for dep in +hostapd +dnsmasq +kmod-wireguard +kmod-nft-core +kmod-nft-nat +nftables +libnftnl +libmnl; do
	grep -qw -- "$dep" <<<"$depends" && ok || fail "Makefile: DEPENDS lacks $dep"
done
# The version is the workspace's.
cargo_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml")
expect "Makefile: PKG_VERSION is the workspace version" "PKG_VERSION:=$cargo_version" "$(grep '^PKG_VERSION:=' "$mk")"
# Sources: a tarball (PKG_SOURCE + PKG_SOURCE_URL + PKG_HASH) or this tree with its Cargo.lock.
if grep -q '^PKG_SOURCE:=' "$mk"; then
	grep -q '^PKG_SOURCE_URL:=' "$mk" && grep -q '^PKG_HASH:=' "$mk" && ok || fail "Makefile: PKG_SOURCE without PKG_SOURCE_URL and PKG_HASH"
else
	grep -q 'Cargo.lock' "$mk" && grep -q '^define Build/Prepare' "$mk" && ok ||
		fail "Makefile: no PKG_SOURCE, and no Build/Prepare that takes this tree with its Cargo.lock"
fi
# Recipe lines start with a tab, as make wants.
grep -nE '^ +\$\((INSTALL|CP)' "$mk" && fail "Makefile: recipe lines indented with spaces" || ok
# Every file the Makefile installs exists.
while IFS= read -r f; do
	[ -f "$pkg/$f" ] && ok || fail "Makefile installs $f, which does not exist"
done < <(grep -oE '\./files/[A-Za-z0-9._-]+' "$mk" | sort -u)

# --- 6. conffiles, keep.d, the shipped config, Cargo.lock, the daemon -------------------------
keep="$pkg/files/matador.keep"
shipped="$pkg/files/matador.config"
opt() { sed -n "s/^[[:space:]]*option $1 '\(.*\)'.*/\1/p" "$shipped" | head -n 1; }
state=$(opt state_dir)
for f in "$(opt token_file)" "$state/api-cert.der" "$state/api-key.der" "$state/api-fingerprint" \
	"$state/vantage-*.conf" /etc/matador/mgmt.conf /etc/matador/vantage/; do
	grep -qxF -- "$f" "$keep" && ok || fail "keep.d lacks $f (the shipped config puts it there)"
done
expect "the shipped config is off" "0" "$(opt enabled)"
grep -q "$(opt token_file)" "$pkg/files/matador.uci-defaults" ||
	[ "$(opt token_file)" = /etc/matador/token ] && ok || fail "uci-defaults makes a token where the config does not look"
if [ -d "$repo/.git" ] && command -v git >/dev/null; then
	git -C "$repo" ls-files --error-unmatch Cargo.lock >/dev/null 2>&1 && ok || fail "Cargo.lock is not committed"
fi
if command -v cargo >/dev/null; then
	out=$(cd "$repo" && cargo metadata --locked --offline --format-version 1 2>&1 >/dev/null) && ok ||
		fail "Cargo.lock is not current (the feed builds with --locked)" "$out"
fi
daemon="${MATADOR_ROUTERD:-${CARGO_TARGET_DIR:-$repo/target}/debug/matador-routerd}"
if [ -x "$daemon" ]; then
	sed "s/option enabled '0'/option enabled '1'/" "$shipped" >"$scratch/matador"
	out=$("$daemon" config --to-uci "$scratch/matador" 2>&1) && ok ||
		fail "the daemon refuses the shipped /etc/config/matador" "$out"
else
	echo "note: $daemon not built; the daemon's check of the shipped config was skipped" >&2
fi

if [ "$failures" -gt 0 ]; then
	echo "openwrt/tests: $failures of $checks checks failed" >&2
	exit 1
fi
echo "openwrt/tests: $checks checks passed (init script under: ${shells[*]})"
