#!/usr/bin/env bash
# Makes a signed update bundle (RAUC, verity format) of a Borne system and the manifest.json
# that kiosks read, from a slot's boot files and root file system image.
#
# Usage: make-bundle.sh BOOT_DIR SYSTEM_EXT4 VERSION CERT KEY OUT_DIR [COMPATIBLE]
#   BOOT_DIR     the slot's boot files (kernel, initramfs, cmdline.txt …); provisioning files
#                (borne.toml, borne-token) are never put in a bundle
#   SYSTEM_EXT4  the root file system image; its /etc/borne-release is set to VERSION
#   CERT, KEY    the signing certificate and key (PEM), issued by the CA in the kiosks'
#                /etc/rauc/keyring.pem
#   COMPATIBLE   default borne-rpi-arm64 (the emulated machine's: borne-virt-arm64)
# Writes OUT_DIR/borne-VERSION.raucb and OUT_DIR/manifest.json. Publish both in the folder
# named by the kiosks' update.url.
set -euo pipefail
boot_dir="$1" system="$2" version="$3" cert="$4" key="$5" out="$6" compatible="${7:-borne-rpi-arm64}"
case "$version" in *[!A-Za-z0-9._+~-]* | "") echo "make-bundle.sh: version « $version » invalide" >&2; exit 1 ;; esac
for cmd in rauc mksquashfs debugfs resize2fs mkfs.vfat mcopy; do
    command -v "$cmd" >/dev/null || { echo "make-bundle.sh: $cmd manquant (paquets rauc squashfs-tools e2fsprogs dosfstools mtools)" >&2; exit 1; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
content="$work/content"
mkdir -p "$content"

cp --sparse=always "$system" "$content/rootfs.ext4"
printf '%s\n' "$version" > "$work/release"
debugfs -w -R "rm /etc/borne-release" "$content/rootfs.ext4" >/dev/null 2>&1 || true
debugfs -w -R "write $work/release /etc/borne-release" "$content/rootfs.ext4" >/dev/null
e2fsck -fy "$content/rootfs.ext4" >/dev/null || [ $? -le 1 ]
# The image as small as its content: less to download and to write.
resize2fs -M "$content/rootfs.ext4" >/dev/null 2>&1

mkdir "$work/boot"
cp -r "$boot_dir"/. "$work/boot/"
rm -f "$work/boot/borne.toml" "$work/boot/borne-token"
mkfs.vfat -n BOOT -C "$content/boot.vfat" $((128 * 1024)) >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -i "$content/boot.vfat" "$work/boot"/* ::

cat > "$content/manifest.raucm" <<MANIFEST
[update]
compatible=$compatible
version=$version

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4

[image.boot]
filename=boot.vfat
MANIFEST
install -d "$out"
bundle="borne-$version.raucb"
rm -f "$out/$bundle"
rauc bundle --cert="$cert" --key="$key" "$content" "$out/$bundle" >/dev/null
size="$(stat -c %s "$out/$bundle")"
sha="$(sha256sum "$out/$bundle" | cut -d' ' -f1)"
printf '{"version":"%s","bundle":"%s","sha256":"%s","size":%s}\n' "$version" "$bundle" "$sha" "$size" > "$out/manifest.json"
echo "make-bundle.sh: $out/$bundle ($((size / 1024 / 1024)) MiB), version $version, $compatible"
