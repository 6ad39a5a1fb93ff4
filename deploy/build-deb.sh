#!/bin/sh
# build-deb.sh: build the pi2pi .deb packages with nfpm into dist/.
#
#   deploy/build-deb.sh [ARCH...]      ARCH: amd64 arm64 armhf (default: all)
#
# pi2pi-terminal (pi2pid, pi2pictl, units, sysusers/tmpfiles, config) is
# built for every ARCH; pi2pi-server for amd64 and arm64 only. armhf means
# GOARM=6, so one package runs on every Raspberry Pi from the Zero and 1 on.
#
# Environment:
#   VERSION  package version (default: from git describe, made Debian-safe)
#   DIST     output directory (default: dist, at the top of the repository)
#   NFPM     nfpm binary to use (default: nfpm v2.45.2, built once into
#            $XDG_CACHE_HOME/pi2pi/nfpm-v2.45.2, or ~/.cache/...)
#   GO       go command (default: go)
set -eu

NFPM_VERSION=v2.45.2
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
GO=${GO:-go}
DIST=${DIST:-dist}
case "$DIST" in /*) ;; *) DIST="$top/$DIST" ;; esac

[ $# -gt 0 ] || set -- amd64 arm64 armhf

# A Debian version from git: v1.2.3-4-gabcdef -> 1.2.3+4.gabcdef; without
# a tag -> 0.0~gitYYYYMMDD.abcdef. No '-': these are native packages.
if [ -z "${VERSION:-}" ]; then
	VERSION=$(git describe --tags --dirty 2>/dev/null) ||
		VERSION="0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null).$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
fi
VERSION=$(printf '%s' "$VERSION" | sed -e 's/^v//' -e 's/-/+/' -e 's/-/./g')
case "$VERSION" in
[0-9]*.*) ;;
*) VERSION="0.0~git.$VERSION" ;;
esac
export VERSION

if [ -z "${NFPM:-}" ]; then
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/pi2pi/nfpm-$NFPM_VERSION
	NFPM=$cache/nfpm
	if [ ! -x "$NFPM" ]; then
		echo "building nfpm $NFPM_VERSION into $cache" >&2
		mkdir -p "$cache"
		GOBIN=$cache GOFLAGS=-mod=mod "$GO" install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
	fi
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/pi2pi-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM

# Files shared by every package and architecture.
mkdir -p "$stage/common/man" "$stage/common/doc"
cp -R "$top/deploy" "$stage/common/deploy"
for page in deploy/man/man*/*; do
	gzip -9n <"$page" >"$stage/common/man/$(basename "$page").gz"
done
# A changelog in Debian's format per package (native packages keep it as
# changelog.gz); the entry names the commit it was built from.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
date=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")
for pkg in pi2pi-terminal pi2pi-server; do
	cat >"$stage/common/doc/$pkg.changelog" <<CHANGELOG
$pkg ($VERSION) unstable; urgency=medium

  * Built from commit $commit of the pi2pi repository.

 -- pi2pi developers <pi2pi@example.org>  $date
CHANGELOG
	gzip -9n "$stage/common/doc/$pkg.changelog"
done

mkdir -p "$DIST"
for arch in "$@"; do
	goarm=
	case "$arch" in
	amd64) goarch=amd64 ;;
	arm64) goarch=arm64 ;;
	armhf) goarch=arm goarm=6 ;;
	*) echo "build-deb.sh: unknown architecture $arch (use amd64, arm64 or armhf)" >&2; exit 2 ;;
	esac
	dir=$stage/$arch
	mkdir -p "$dir/bin"
	ln -s "$stage/common/deploy" "$stage/common/man" "$stage/common/doc" "$dir/"
	build() { # build OUTPUT PACKAGE
		CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
			"$GO" build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$dir/bin/$1" "./$2"
	}
	packages=pi2pi-terminal
	build pi2pid daemon/cmd/pi2pid
	build pi2pictl ctl/cmd/pi2pictl
	case "$arch" in amd64|arm64)
		build pi2pi-server server/cmd/pi2pi-server
		packages="$packages pi2pi-server"
	esac
	for pkg in $packages; do
		(cd "$dir" && PKG_ARCH=$arch "$NFPM" package --packager deb \
			--config "$top/deploy/nfpm/$pkg.yaml" --target "$DIST/${pkg}_${VERSION}_$arch.deb" >/dev/null)
		echo "$DIST/${pkg}_${VERSION}_$arch.deb"
	done
done
