#!/usr/bin/env bash
# The cached part of the emulated kiosk: a Debian bookworm arm64 root file system built with
# mmdebstrap (as rpi-image-gen builds the Pi's), with the image layer's own package list
# (image/rpi-image-gen/layer/borne.yaml), Debian's arm64 kernel and an initramfs for QEMU's
# `virt` machine. Building it under qemu-user takes 10 to 25 minutes, so the result is kept in
# $HOME/.cache/borne/image, keyed by this script and the layer's package list.
#
# Usage: base.sh   (prints the path of the cached tarball on its last line)
# The tarball keeps owners, modes and extended attributes; assemble.sh unpacks it.
# Needs root (mmdebstrap runs arm64 binaries through binfmt_misc and qemu-user).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
layer="$here/../rpi-image-gen/layer/borne.yaml"
cache="${BORNE_IMAGE_CACHE:-$HOME/.cache/borne/image}"
export DEBIAN_FRONTEND=noninteractive

# The packages the Pi image gets from the layer (the YAML list under `packages:`).
layer_packages="$(sed -n '/^  packages:/,/^  [a-z-]*:/s/^    - //p' "$layer" | tr '\n' ' ')"
[ -n "$layer_packages" ] || { echo "base.sh: no package list in $layer" >&2; exit 1; }
# What QEMU's `virt` machine needs instead of the Pi's firmware and kernel, what the package
# depends on (so that installing it needs no network), the update agent, and the guest agent
# the boot test reads the machine through (test image only: never in the Pi image).
extra="systemd-sysv udev kmod linux-image-arm64 initramfs-tools e2fsprogs dosfstools
    espeak-ng alsa-utils libfontconfig1 libfreetype6 qemu-guest-agent"
packages="$(echo "$layer_packages $extra" | tr -s ' \n' '\n' | sort -u | paste -sd, -)"

# The initramfs holds only what `virt` needs to mount the root and to arm its watchdog early:
# generating Debian's default (MODULES=most) under qemu-user is what makes this build slow.
# overlayroot adds its own hook.
modules="virtio_pci virtio_blk virtio_gpu ext4 overlay vfat nls_cp437 nls_ascii i6300esb"
recipe_version=1
key="$(printf '%s\n' "$recipe_version" "$packages" "$modules" | sha256sum | cut -c1-16)"
out="$cache/base-$key.tar"
if [ -s "$out" ]; then
    echo "$out"
    exit 0
fi

for cmd in mmdebstrap qemu-aarch64-static update-binfmts; do
    command -v "$cmd" >/dev/null || { echo "base.sh: $cmd missing (image/test-boot.sh installs it)" >&2; exit 1; }
done
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64

install -d "$cache"
tmp="$cache/partial-$key.tar"
rm -f "$tmp"
start=$(date +%s)
mmdebstrap --arch=arm64 --variant=minbase --include="$packages" \
    --skip=cleanup/apt/lists \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && printf "MODULES=list\nCOMPRESS=zstd\n" > "$1/etc/initramfs-tools/conf.d/borne-virt.conf"' \
    --essential-hook='mkdir -p "$1/usr/share/initramfs-tools/modules.d" && printf "%s\n" '"$modules"' | tr " " "\n" > "$1/usr/share/initramfs-tools/modules.d/borne-virt"' \
    --customize-hook='echo borne > "$1/etc/hostname"' \
    bookworm "$tmp" http://deb.debian.org/debian
mv "$tmp" "$out"
echo "base.sh: built in $(( $(date +%s) - start )) s: $(du -h "$out" | cut -f1)" >&2
# Older bases are of no use any more.
find "$cache" -maxdepth 1 \( -name 'base-*.tar' -o -name 'partial-*.tar' \) ! -name "base-$key.tar" -delete
echo "$out"
