#!/usr/bin/env bash
# images/build.sh: an OpenWrt image for one lab router, built with the OpenWrt ImageBuilder:
# the profile's stock image plus the matador-router package and a files overlay
# (images/files/, then the router's own directory on top: UCI, token, keys).
# Walk-through: docs/flashing.md.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<USAGE
usage: images/build.sh [options] --package FILE --router DIR PROFILE

Builds an OpenWrt image for PROFILE (images/profiles/PROFILE.conf) with the packages
given and a files overlay: images/files/, then DIR on top.

  --package FILE       matador-router_*.ipk from the SDK (repeat for more local packages)
  --router DIR         the router's overlay: etc/config/matador (required),
                       etc/matador/token, etc/matador/mgmt.conf, etc/matador/vantage/*.conf
  --imagebuilder PATH  an unpacked ImageBuilder directory or its .tar.zst (default: download
                       the profile's release into the cache and check it against sha256sums)
  --out DIR            where the images go (default: images/out/PROFILE-ROUTER)
  --cache DIR          download cache (default: \${XDG_CACHE_HOME:-~/.cache}/matador)
  --dry-run            print what would run, run nothing
  -h, --help           this text

profiles: $(profiles)
USAGE
}

profiles() {
	local p names=()
	for p in "$here"/profiles/*.conf; do
		[ -e "$p" ] && names+=("$(basename "$p" .conf)")
	done
	echo "${names[*]}"
}

die() {
	echo "images/build.sh: $*" >&2
	exit 2
}

dry_run=0
# Runs a command, or prints it (shell-quoted) on a dry run.
run() {
	if [ "$dry_run" = 1 ]; then
		printf '+'
		printf ' %q' "$@"
		printf '\n'
	else
		"$@"
	fi
}

packages=() router="" imagebuilder="" out="" profile=""
cache="${XDG_CACHE_HOME:-$HOME/.cache}/matador"
while [ $# -gt 0 ]; do
	case "$1" in
	--package | --router | --imagebuilder | --out | --cache)
		if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (--help)"; fi
		case "$1" in
		--package) packages+=("$2") ;;
		--router) router="$2" ;;
		--imagebuilder) imagebuilder="$2" ;;
		--out) out="$2" ;;
		--cache) cache="$2" ;;
		esac
		shift 2
		;;
	--dry-run) dry_run=1 && shift ;;
	-h | --help) usage && exit 0 ;;
	-*) die "unknown option $1 (--help)" ;;
	*)
		[ -z "$profile" ] || die "one PROFILE only (got $profile and $1)"
		profile="$1" && shift
		;;
	esac
done

[ -n "$profile" ] || { usage >&2; exit 2; }
conf="$here/profiles/$profile.conf"
[ -f "$conf" ] || die "no profile $profile (images/profiles/$profile.conf); profiles: $(profiles)"

# The profile: shell assignments only.
OPENWRT_RELEASE="" TARGET="" SUBTARGET="" PROFILE="" PACKAGES="" ROOTFS_PARTSIZE="" IMAGE_GLOB=""
# shellcheck source=profiles/glinet_gl-mt6000.conf
. "$conf"
for var in OPENWRT_RELEASE TARGET SUBTARGET PROFILE PACKAGES; do
	[ -n "${!var}" ] || die "$conf: $var is not set"
done
[[ "$OPENWRT_RELEASE" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-rc[0-9]+)?$ ]] ||
	die "$conf: OPENWRT_RELEASE=$OPENWRT_RELEASE is not a release like 24.10.4"
# Releases up to 24.10 install .ipk packages (opkg), later ones .apk.
pkg_ext=ipk
[ "${OPENWRT_RELEASE%%.*}" -ge 25 ] && pkg_ext=apk

[ -n "$router" ] || die "--router DIR is required: the router's overlay with etc/config/matador"
[ -d "$router" ] || die "--router $router is not a directory"
[ -f "$router/etc/config/matador" ] ||
	die "$router/etc/config/matador is missing (matador-host router enroll makes the whole overlay)"
[ -s "$router/etc/matador/token" ] ||
	echo "images/build.sh: note: no $router/etc/matador/token; the router makes one on first boot (read it over ssh)" >&2
router_name=$(basename "$(cd "$router" && pwd)" | tr -c 'a-zA-Z0-9_\n-' '-')

[ "${#packages[@]}" -gt 0 ] || die "--package FILE is required: the matador-router .$pkg_ext built with the SDK (docs/flashing.md)"
for p in "${packages[@]}"; do
	[ -f "$p" ] || die "--package $p: no such file"
	[[ "$p" == *."$pkg_ext" ]] || die "--package $p: OpenWrt $OPENWRT_RELEASE installs .$pkg_ext packages"
done

out="${out:-$here/out/$profile-$router_name}"
ib_name="openwrt-imagebuilder-$OPENWRT_RELEASE-$TARGET-$SUBTARGET.Linux-x86_64"
ib_url="https://downloads.openwrt.org/releases/$OPENWRT_RELEASE/targets/$TARGET/$SUBTARGET"

# The ImageBuilder: a directory as given, or unpacked from a given or downloaded archive.
if [ -n "$imagebuilder" ] && [ -d "$imagebuilder" ]; then
	ib="$imagebuilder"
	[ "$dry_run" = 1 ] || [ -f "$ib/Makefile" ] || die "$ib is not an ImageBuilder (no Makefile)"
else
	archive="$imagebuilder"
	if [ -z "$archive" ]; then
		archive="$cache/$ib_name.tar.zst"
		if [ ! -f "$archive" ]; then
			run mkdir -p "$cache"
			run curl -fL --retry 3 -o "$archive.part" "$ib_url/$ib_name.tar.zst"
			run curl -fL --retry 3 -o "$cache/$ib_name.sha256sums" "$ib_url/sha256sums"
			if [ "$dry_run" = 0 ]; then
				sum=$(awk -v f="*$ib_name.tar.zst" '$2 == f { print $1 }' "$cache/$ib_name.sha256sums")
				[ -n "$sum" ] || die "$ib_name.tar.zst is not in $ib_url/sha256sums"
				echo "$sum  $archive.part" | sha256sum -c --quiet - || die "$ib_name.tar.zst: sha256 mismatch"
			fi
			run mv "$archive.part" "$archive"
		fi
	elif [ ! -f "$archive" ]; then
		die "--imagebuilder $archive: no such directory or archive"
	fi
	ib="$cache/$ib_name"
	if [ ! -f "$ib/Makefile" ]; then
		run mkdir -p "$ib"
		run tar --zstd -xf "$archive" -C "$ib" --strip-components=1
	fi
fi

# The files overlay: the common files, then the router's, with private modes for secrets.
if [ "$dry_run" = 1 ]; then
	work="${TMPDIR:-/tmp}/matador-image.XXXXXX"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/matador-image.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi
files="$work/files"
run mkdir -p "$files"
run cp -a "$here/files/." "$files/"
run cp -a "$router/." "$files/"
if [ -d "$here/files/etc/matador" ] || [ -d "$router/etc/matador" ]; then
	run chmod -R go-rwx "$files/etc/matador"
fi

run mkdir -p "$ib/packages" "$out"
run cp "${packages[@]}" "$ib/packages/"
make_args=(PROFILE="$PROFILE" PACKAGES="$PACKAGES" FILES="$files" BIN_DIR="$out"
	EXTRA_IMAGE_NAME="matador-$router_name")
[ -z "$ROOTFS_PARTSIZE" ] || make_args+=(ROOTFS_PARTSIZE="$ROOTFS_PARTSIZE")
run make -C "$ib" image "${make_args[@]}"

if [ "$dry_run" = 0 ]; then
	echo "images/build.sh: images for $router_name in $out:"
	find "$out" -maxdepth 1 -name "${IMAGE_GLOB:-*}" -print
fi
