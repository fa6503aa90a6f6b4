#!/bin/sh
# Lays out the root file system of a runtime image in DEST. It contains the binary in
# /usr/local/bin, every shared library the binary loads (its ldd closure, with the dynamic
# loader), the CA bundle, and passwd, group and nsswitch files for the unprivileged user
# 10001. Runs in the build stage of Dockerfile.producer and Dockerfile.consumer.
#
#   make-rootfs BINARY DEST
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: make-rootfs BINARY DEST" >&2
    exit 2
fi
binary="$1"
dest="$2"
if [ ! -x "$binary" ]; then
    echo "make-rootfs: $binary is missing or not executable; build it first" >&2
    exit 1
fi

mkdir -p "$dest/usr/local/bin" "$dest/etc/ssl/certs" "$dest/usr/lib/ssl" "$dest/tmp"
install -m 0755 "$binary" "$dest/usr/local/bin/"

# ldd prints "name => /path (address)" for libraries and "/path (address)" for the loader.
# cp -L --parents stores each library under the name the loader looks for.
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
    sort -u | while read -r library; do
        cp -L --parents "$library" "$dest"
    done
# glibc loads libgcc_s with dlopen to unwind threads in pthread_cancel and pthread_exit,
# so ldd does not list it; without it, thread cancellation aborts the process.
libgcc="$(ldconfig -p | awk '$1 == "libgcc_s.so.1" && $NF ~ /^\// { print $NF; exit }')"
[ -n "$libgcc" ] || {
    echo "make-rootfs: libgcc_s.so.1 is not installed" >&2
    exit 1
}
cp -L --parents "$libgcc" "$dest"
if ldd "$binary" | grep -q 'not found'; then
    echo "make-rootfs: $binary needs a library that is not installed:" >&2
    ldd "$binary" | grep 'not found' >&2
    exit 1
fi

# libcurl reads the bundle at the path Debian built it with; OpenSSL's default paths, which
# Proton uses, point into /usr/lib/ssl.
cp -L /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/"
ln -sf /etc/ssl/certs/ca-certificates.crt "$dest/usr/lib/ssl/cert.pem"
ln -sf /etc/ssl/certs "$dest/usr/lib/ssl/certs"

echo 'root:x:0:0:root:/root:/sbin/nologin' >"$dest/etc/passwd"
echo 'app:x:10001:10001:app:/nonexistent:/sbin/nologin' >>"$dest/etc/passwd"
printf 'root:x:0:\napp:x:10001:\n' >"$dest/etc/group"
# Without nsswitch.conf glibc queries DNS before /etc/hosts, even for localhost.
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$dest/etc/nsswitch.conf"
chmod 1777 "$dest/tmp"
