#!/usr/bin/env bash
# The deployment test (long: 15 to 30 minutes; kept out of .ci/run). On this x86_64 machine:
#   1. cross-builds the arm64 Debian package (with touch on the console: --features kms-touch);
#   2. builds an arm64 Debian root file system with debootstrap, with the customisations the
#      image recipe applies (image/customize.sh);
#   3. installs the package into it;
#   4. checks inside it, under qemu-user: the units verify, the service user, directories and
#      conffile exist, provisioning from a fake boot partition works, `borne config check`
#      passes on the provisioned configuration, `borne rate` then `borne stats` run, and a
#      kiosk configured for an SPI panel says there is no Pi and stops (if_no_pi = "stop").
# Needs root (debootstrap, chroot). Installs what it lacks from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/borne/target}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_PATH=/usr/lib/aarch64-linux-gnu/pkgconfig
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok - %s\n' "$*"; }
fail() { printf 'ÉCHEC : %s\n' "$*" >&2; exit 1; }

step "tools"
dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -q; }
missing=()
for pkg in gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static debootstrap binfmt-support \
    libinput-dev:arm64 libudev-dev:arm64 libxkbcommon-dev:arm64 libfontconfig-dev:arm64 libfreetype-dev:arm64 \
    pkg-config file; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked

work="$(mktemp -d /var/tmp/borne-arm64.XXXXXX)"
root="$work/root"
cleanup() {
    for m in dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
    if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept: $work"; fi
}
trap cleanup EXIT

step "1. arm64 package"
cargo deb --target aarch64-unknown-linux-gnu --features kms-touch --output "$work/borne_arm64.deb"
dpkg-deb --info "$work/borne_arm64.deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$work/borne_arm64.deb"
ok "package built: $(du -h "$work/borne_arm64.deb" | cut -f1)"

step "2. arm64 root file system (debootstrap) with the image's customisations"
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || {
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable qemu-aarch64
}
debootstrap --arch=arm64 --foreign --variant=minbase \
    --include=systemd,systemd-sysv,systemd-timesyncd,ca-certificates,libinput10,libxkbcommon0,udev \
    bookworm "$root" http://deb.debian.org/debian
cp /usr/bin/qemu-aarch64-static "$root/usr/bin/"
chroot "$root" /debootstrap/debootstrap --second-stage
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
# A boot partition as Raspberry Pi OS has it.
install -d "$root/boot/firmware"
echo "console=serial0,115200 console=tty1 root=LABEL=rootfs rootfstype=ext4 fsck.repair=yes rootwait" \
    > "$root/boot/firmware/cmdline.txt"
image/customize.sh "$root"
ok "root file system customised"

step "3. install the package"
cp "$work/borne_arm64.deb" "$root/tmp/borne.deb"
chroot "$root" apt-get install -y -q /tmp/borne.deb
ok "installed"

step "4. checks under qemu-user"
{ file -L "$root/usr/bin/borne" | grep -q "ARM aarch64"; } || fail "borne is an arm64 binary"; ok "borne is an arm64 binary"
chroot "$root" systemd-analyze verify /usr/lib/systemd/system/borne.service /etc/systemd/system/borne-provision.service
ok "units verify"
chroot "$root" systemd-analyze security --offline=yes --threshold=30 /usr/lib/systemd/system/borne.service | tail -1
{ chroot "$root" getent passwd borne | grep -q "^borne:"; } || fail "service user borne exists"; ok "service user borne exists"
for group in video input; do
    { chroot "$root" id -nG borne | tr ' ' '\n' | grep -qx "$group"; } || fail "borne is in $group"; ok "borne is in $group"
done
{ [ "$(chroot "$root" systemctl is-enabled borne.service)" = enabled ]; } || fail "borne.service enabled"; ok "borne.service enabled"
{ [ "$(chroot "$root" systemctl is-enabled borne-provision.service)" = enabled ]; } || fail "borne-provision enabled"; ok "borne-provision enabled"
{ [ -d "$root/var/lib/borne" ]; } || fail "/var/lib/borne exists"; ok "/var/lib/borne exists"
{ [ "$(chroot "$root" stat -c '%U:%G %a' /etc/borne/borne.toml)" = "root:borne 640" ]; } || fail "conffile /etc/borne/borne.toml root:borne 640"; ok "conffile /etc/borne/borne.toml root:borne 640"
dpkg-deb --field "$work/borne_arm64.deb" Conffiles 2>/dev/null || true
{ chroot "$root" dpkg-query --showformat='${Conffiles}\n' --show borne | grep -q /etc/borne/borne.toml; } || fail "borne.toml is a conffile"; ok "borne.toml is a conffile"
{ grep -q "LABEL=borne-data /var/lib/borne-data ext4 defaults,noatime" "$root/etc/fstab"; } || fail "data partition in fstab (noatime)"; ok "data partition in fstab (noatime)"
{ grep -q consoleblank=0 "$root/boot/firmware/cmdline.txt"; } || fail "console blanking off"; ok "console blanking off"
{ [ "$(readlink "$root/etc/systemd/system/getty@tty1.service")" = /dev/null ]; } || fail "no login prompt on tty1"; ok "no login prompt on tty1"
{ [ "$(readlink "$root/etc/localtime")" = /usr/share/zoneinfo/Europe/Paris ]; } || fail "timezone Europe/Paris"; ok "timezone Europe/Paris"

# Provisioning from a fake boot partition.
cat > "$root/boot/firmware/borne.toml" <<'TOML'
[kiosk]
device_id = "caf-lyon-accueil-1"
site_name = "CAF de Lyon, accueil"
admin_pin = "482913"
[upload]
enabled = true
base_url = "https://plateforme.example/api/open-api"
token_file = "/etc/borne/token"
product_id = 3119
form_id = 4521
button_id = 98765
TOML
echo "jeton-du-site" > "$root/boot/firmware/borne-token"
chroot "$root" /usr/local/sbin/borne-provision
{ [ ! -e "$root/boot/firmware/borne.toml" ] && [ ! -e "$root/boot/firmware/borne-token" ]; } || fail "provisioning removed the files from the boot partition"; ok "provisioning removed the files from the boot partition"
{ [ "$(chroot "$root" stat -c '%U:%G %a' /etc/borne/token)" = "root:borne 640" ]; } || fail "token installed root:borne 640"; ok "token installed root:borne 640"
{ grep -q caf-lyon-accueil-1 "$root/etc/borne/borne.toml"; } || fail "site configuration installed"; ok "site configuration installed"
chroot "$root" runuser -u borne -- borne config check /etc/borne/borne.toml
ok "borne config check passes on the provisioned configuration (as the service user)"

chroot "$root" runuser -u borne -- borne --data-dir /var/lib/borne rate --satisfaction 3 --comment "Accueil rapide"
chroot "$root" runuser -u borne -- borne --data-dir /var/lib/borne stats | tee "$work/stats.txt"
{ grep -q "1 avis" "$work/stats.txt"; } || fail "borne rate then borne stats run on arm64"; ok "borne rate then borne stats run on arm64"

# An SPI panel configured on a machine that is not a Pi: the arm64 build says so and stops
# (if_no_pi = "stop") before opening any screen.
cat > "$root/tmp/panel.toml" <<'TOML'
[hardware]
if_no_pi = "stop"
[panel]
model = "ili9341"
touch = "xpt2046"
touch_irq_pin = 17
TOML
chroot "$root" runuser -u borne -- borne config check /tmp/panel.toml
if chroot "$root" runuser -u borne -- borne --config /tmp/panel.toml --data-dir /var/lib/borne run >"$work/panel.out" 2>&1; then
    fail "the kiosk stops when its SPI panel cannot open"
fi
cat "$work/panel.out"
{ grep -q "pas de GPIO de Raspberry Pi" "$work/panel.out"; } || fail "the kiosk stops when its SPI panel cannot open"; ok "the kiosk stops when its SPI panel cannot open (arm64, no Pi)"

printf '\nall arm64 deployment checks passed\n'
