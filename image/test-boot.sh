#!/usr/bin/env bash
# The whole machine: boots the kiosk's image in an emulated arm64 computer (QEMU `virt`,
# Debian's arm64 kernel, the Pi image's own customisation and package) and checks, through QMP
# and the guest agent: the home screen drawn by borne.service on virtio-gpu, a tap, the root
# read-only, power cuts right after « Merci », the systemd watchdog and the machine's watchdog;
# then updates in the field: a good signed bundle kept, a broken one rolled back, an older
# signed one refused (under its own version, and under a lying manifest's).
#
# Usage: sudo image/test-boot.sh [BORNE_ARM64_DEB]
#   Without a package, builds it (cargo deb, arm64, touch through libinput).
#   OUT=DIR keeps the screenshots and serial logs there; CUTS=N power cuts (default 10).
# The base root file system is cached in $HOME/.cache/borne/image (10 to 25 minutes the first
# time); with it, the whole test takes about half an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/borne/target}"
start=$(date +%s)

missing=()
for pkg in qemu-system-arm ipxe-qemu mmdebstrap arch-test qemu-user-static binfmt-support mtools dosfstools \
    fdisk e2fsprogs python3-pil rauc squashfs-tools openssl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

out="${OUT:-$(mktemp -d /var/tmp/borne-boot.XXXXXX)}"
install -d "$out"
deb="${1:-}"
if [ -z "$deb" ]; then
    deb="$out/borne_arm64.deb"
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc PKG_CONFIG_ALLOW_CROSS=1 \
        PKG_CONFIG_PATH=/usr/lib/aarch64-linux-gnu/pkgconfig \
        cargo deb --locked --target aarch64-unknown-linux-gnu --features kms-touch --output "$deb"
fi

base="$(image/qemu/base.sh | tail -1)"
echo "base root file system: $base"

# The update server the kiosk reaches (QEMU's user network: the host is 10.0.2.2).
port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# The site's configuration and token, put on the boot partition as a site would: one tap is a
# whole visit (no follow-up question, no comment), so that « Merci » follows « Très bien ».
provision="$out/provision"
install -d "$provision"
cat > "$provision/borne.toml" <<TOML
[kiosk]
device_id = "qemu-virt-01"
site_name = "Borne émulée"
admin_pin = "482913"
[survey]
comment = false
follow_up = []
[update]
enabled = true
url = "http://10.0.2.2:$port/"
confirm_timeout_s = 90
TOML
echo "jeton-de-la-borne-emulee" > "$provision/borne-token"

# The network's signing keys (a test CA): its certificate is the image's keyring.
keys="$out/keys"
install -d "$keys"
openssl req -x509 -newkey rsa:3072 -nodes -keyout "$keys/ca.key" -out "$keys/ca.pem" -days 3650 \
    -subj "/O=Borne essais/CN=Borne essais CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:3072 -nodes -keyout "$keys/signing.key" -out "$keys/signing.csr" \
    -subj "/O=Borne essais/CN=Borne essais signature" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' > "$keys/ext.cnf"
openssl x509 -req -in "$keys/signing.csr" -CA "$keys/ca.pem" -CAkey "$keys/ca.key" -CAcreateserial \
    -out "$keys/signing.pem" -days 3650 -extfile "$keys/ext.cnf" 2>/dev/null

BORNE_UPDATE_KEYRING="$keys/ca.pem" image/qemu/assemble.sh "$base" "$deb" "$out" "$provision"
echo "image ready after $(( $(date +%s) - start )) s"

# Two new versions: a good one, and a broken one whose kiosk never reaches READY.
release="$(debugfs -R "cat /etc/borne-release" "$out/system.ext4" 2>/dev/null)"
good="$release+essai.1"
broken="$release+essai.2"
updates="$out/updates"
install -d "$updates"
image/make-bundle.sh "$out/boot" "$out/system.ext4" "$good" "$keys/signing.pem" "$keys/signing.key" \
    "$updates" borne-virt-arm64
mv "$updates/manifest.json" "$updates/manifest-$good.json"
cp --sparse=always "$out/system.ext4" "$out/broken.ext4"
printf '[Service]\nExecStart=\nExecStart=/bin/sleep infinity\n' > "$out/broken.conf"
debugfs -w -R "mkdir /etc/systemd/system/borne.service.d" "$out/broken.ext4" >/dev/null
debugfs -w -R "write $out/broken.conf /etc/systemd/system/borne.service.d/broken.conf" "$out/broken.ext4" >/dev/null
image/make-bundle.sh "$out/boot" "$out/broken.ext4" "$broken" "$keys/signing.pem" "$keys/signing.key" \
    "$updates" borne-virt-arm64
mv "$updates/manifest.json" "$updates/manifest-$broken.json"
rm -f "$out/broken.ext4"
# An older version, validly signed: published under its own number, then under a newer number
# than any (a manifest lying about the bundle it names). Both must be refused.
old="$release+essai.0"
image/make-bundle.sh "$out/boot" "$out/system.ext4" "$old" "$keys/signing.pem" "$keys/signing.key" \
    "$updates" borne-virt-arm64
mv "$updates/manifest.json" "$updates/manifest-$old.json"
sed "s/\"version\":\"[^\"]*\"/\"version\":\"$release+essai.9\"/" "$updates/manifest-$old.json" \
    > "$updates/manifest-lying.json"
echo "bundles ready after $(( $(date +%s) - start )) s"

/usr/bin/python3 image/qemu/boot_test.py "$out/disk.img" "$out" docs/screens/1280x720 "${CUTS:-10}" \
    "$updates" "$port" "$good" "$broken" "$old"
echo "whole-machine test passed in $(( $(date +%s) - start )) s; screenshots and serial logs: $out"
