#!/usr/bin/env bash
# Makes the base images debian:bookworm and debian:bookworm-slim in local podman storage
# with debootstrap, because no container registry is reachable from the test machines.
# The Debian mirror comes from this machine's apt configuration, so nothing here names a
# host. The debootstrap tree is cached in CACHE_DIR and reused on later runs.
#
#   tests/deploy/base-images.sh CACHE_DIR
#
# Needs root, debootstrap and podman. Does nothing when both images exist.
set -euo pipefail

if (($# != 1)); then
    echo "usage: $0 CACHE_DIR" >&2
    exit 2
fi
cache_dir="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"

# Prints "URI SUITE" for every deb source configured on this machine, read from both the
# one-line and the deb822 format.
list_apt_sources() {
    local file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$file" ]] || continue
        awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                           print $i, $(i + 1) }' "$file"
    done
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$file" ]] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             { uris = ""; suites = ""; types = ""; enabled = "yes"
               for (n = 1; n <= NF; n++) {
                   if ($n ~ /^URIs:/) uris = substr($n, 6)
                   else if ($n ~ /^Suites:/) suites = substr($n, 8)
                   else if ($n ~ /^Types:/) types = substr($n, 7)
                   else if ($n ~ /^Enabled:/) enabled = substr($n, 9) }
               if (types !~ /(^| )deb( |$)/ || enabled ~ /no/) next
               nu = split(uris, u, " "); ns = split(suites, s, " ")
               for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++) print u[a], s[b] }' "$file"
    done
}

# Prints the apt sources for the image: every configured source of bookworm, its updates
# and its security suite, main component only.
image_sources() {
    list_apt_sources | awk '$2 == "bookworm" || $2 == "bookworm-updates" ||
                            $2 == "bookworm-security" { print "deb", $1, $2, "main" }' | sort -u
}

if podman image exists localhost/debian:bookworm && podman image exists localhost/debian:bookworm-slim; then
    echo "base-images: debian:bookworm and debian:bookworm-slim exist"
    exit 0
fi

mirror="$(list_apt_sources | awk '$2 == "bookworm" { print $1; exit }')"
if [[ -z "$mirror" ]]; then
    echo "base-images: no apt source for Debian bookworm in /etc/apt; add one so debootstrap can use it" >&2
    exit 1
fi

tree="$cache_dir/bookworm-minbase"
if [[ ! -f "$tree/.complete" ]]; then
    echo "base-images: debootstrap bookworm from $mirror into $tree"
    rm -rf "$tree"
    mkdir -p "$cache_dir"
    debootstrap --variant=minbase bookworm "$tree" "$mirror" >"$cache_dir/debootstrap.log" 2>&1 || {
        tail -20 "$cache_dir/debootstrap.log" >&2
        exit 1
    }
    image_sources >"$tree/etc/apt/sources.list"
    rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin "$tree"/var/cache/apt/archives/*.deb
    touch "$tree/.complete"
fi

import_tree() {
    local dir="$1" tag="$2"
    tar -C "$dir" --numeric-owner --exclude=./.complete -cf - . |
        podman import --quiet --change 'CMD ["/bin/bash"]' - "localhost/debian:$tag" >/dev/null
    echo "base-images: imported localhost/debian:$tag"
}

import_tree "$tree" bookworm

# The slim variant drops documentation, manual pages and translations, as Debian's own slim
# images do. It is made from a copy so the cached tree stays complete.
slim="$(mktemp -d "$cache_dir/slim.XXXXXX")"
trap 'rm -rf "$slim"' EXIT
cp -a "$tree/." "$slim/"
rm -rf "$slim"/usr/share/doc/* "$slim"/usr/share/man/* "$slim"/usr/share/info/* \
    "$slim"/usr/share/locale/* "$slim"/var/cache/debconf/*-old "$slim"/var/log/*.log
import_tree "$slim" bookworm-slim
