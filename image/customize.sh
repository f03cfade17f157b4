#!/bin/sh
# Turns a Debian/Raspberry Pi OS arm64 root file system into a Borne kiosk. Used by the image
# recipe (rpi-image-gen's customize hook) and by image/test-arm64.sh on a debootstrap root.
#
# Usage: customize.sh ROOT
# The package is installed by the caller; this script only writes configuration. Environment:
#   BORNE_COMPATIBLE       RAUC's `compatible` of this hardware's bundles (default
#                          borne-rpi-arm64; the emulated machine's is borne-virt-arm64)
#   BORNE_UPDATE_KEYRING   the certificate (PEM) that signs the network's update bundles;
#                          without it the image takes no update
#   BORNE_RELEASE          this system's version (default: the borne package's version)
set -eu
root="$1"
here="$(cd "$(dirname "$0")" && pwd)"

install -d "$root/etc/systemd/system.conf.d" "$root/etc/systemd/journald.conf.d" \
    "$root/etc/systemd/system" "$root/usr/local/sbin" "$root/etc/ssh/sshd_config.d" \
    "$root/etc/systemd/system/getty@tty1.service.d"

# Hardware watchdog: a frozen kernel or systemd reboots the Pi.
cat > "$root/etc/systemd/system.conf.d/borne-watchdog.conf" <<'CONF'
[Manager]
RuntimeWatchdogSec=15s
RebootWatchdogSec=2min
CONF

# Journald capped: years of logs must not fill the card.
cat > "$root/etc/systemd/journald.conf.d/borne.conf" <<'CONF'
[Journal]
Storage=persistent
SystemMaxUse=64M
SystemMaxFileSize=8M
MaxRetentionSec=3month
CONF

# Time zone Europe/Paris, clock from NTP (systemd-timesyncd, enabled by the package list).
ln -sf /usr/share/zoneinfo/Europe/Paris "$root/etc/localtime"
echo "Europe/Paris" > "$root/etc/timezone"

# No login prompt on the screen: the kiosk owns tty1.
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"

# SSH: off by default; when a site enables it, keys only.
cat > "$root/etc/ssh/sshd_config.d/borne.conf" <<'CONF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
CONF
ln -sf /dev/null "$root/etc/systemd/system/ssh.service"

# The data partition, ext4 with noatime, mounted at /var/lib/borne-data. The root file system
# is read-only with a RAM overlay (overlayroot) and an update replaces it whole, so only this
# partition persists: borne-provision binds its `store` on /var/lib/borne (the review store)
# and its `site` on /etc/borne (the site's configuration and token) at every boot.
# The root's own line: overlayroot rewrites it for the overlay, and systemd-remount-fs then
# makes the overlay writable (the kernel mounts the root read-only: `ro` on its command line).
if ! grep -qE '^[^#[:space:]]+[[:space:]]+/[[:space:]]' "$root/etc/fstab" 2>/dev/null; then
    echo "/dev/root / ext4 defaults,noatime 0 0" >> "$root/etc/fstab"
fi
if ! grep -q " /var/lib/borne-data " "$root/etc/fstab" 2>/dev/null; then
    echo "LABEL=borne-data /var/lib/borne-data ext4 defaults,noatime,nofail,x-systemd.device-timeout=90s 0 2" >> "$root/etc/fstab"
fi
install -d -m 0755 "$root/var/lib/borne-data"
install -d -m 0750 "$root/var/lib/borne"
if [ -d "$root/etc/overlayroot.conf.d" ] || [ -f "$root/etc/overlayroot.conf" ]; then
    echo 'overlayroot="tmpfs:swap=0,recurse=0"' > "$root/etc/overlayroot.local.conf"
fi

# Console blanking off (the kernel command line is on the boot partition).
for cmdline in "$root/boot/firmware/cmdline.txt" "$root/boot/cmdline.txt"; do
    if [ -f "$cmdline" ] && ! grep -q consoleblank "$cmdline"; then
        sed -i 's/$/ consoleblank=0 vt.global_cursor_default=0/' "$cmdline"
    fi
done

# A/B slots: the boot partition of the slot that booted is mounted at /boot/firmware.
install -d "$root/etc/systemd/system-generators"
install -m 0755 "$here/files/borne-boot-generator" "$root/etc/systemd/system-generators/borne-boot-generator"

# First-boot provisioning from the boot partition.
install -m 0755 "$here/files/borne-provision" "$root/usr/local/sbin/borne-provision"
install -m 0644 "$here/files/borne-provision.service" "$root/etc/systemd/system/borne-provision.service"
install -d "$root/etc/systemd/system/multi-user.target.wants" "$root/etc/systemd/system/borne.service.wants"
ln -sf ../borne-provision.service "$root/etc/systemd/system/multi-user.target.wants/borne-provision.service"
ln -sf ../borne-provision.service "$root/etc/systemd/system/borne.service.wants/borne-provision.service"

# Updates in the field (A/B slots, RAUC, tryboot): ARCHITECTURE.md « Mises à jour ».
install -d "$root/etc/rauc" "$root/etc/systemd/system/timers.target.wants"
sed "s/@COMPATIBLE@/${BORNE_COMPATIBLE:-borne-rpi-arm64}/" "$here/files/rauc-system.conf" > "$root/etc/rauc/system.conf"
if [ -n "${BORNE_UPDATE_KEYRING:-}" ]; then
    install -m 0644 "$BORNE_UPDATE_KEYRING" "$root/etc/rauc/keyring.pem"
fi
install -m 0755 "$here/files/borne-boot-slots" "$root/usr/local/sbin/borne-boot-slots"
install -m 0755 "$here/files/borne-update-confirm" "$root/usr/local/sbin/borne-update-confirm"
install -m 0755 "$here/files/borne-rauc-post-install" "$root/usr/local/sbin/borne-rauc-post-install"
for unit in borne-update.service borne-update.timer borne-update-confirm.service; do
    install -m 0644 "$here/files/$unit" "$root/etc/systemd/system/$unit"
done
ln -sf ../borne-update.timer "$root/etc/systemd/system/timers.target.wants/borne-update.timer"
ln -sf ../borne-update-confirm.service "$root/etc/systemd/system/multi-user.target.wants/borne-update-confirm.service"
release="${BORNE_RELEASE:-}"
if [ -z "$release" ]; then
    release="$(chroot "$root" dpkg-query -W -f='${Version}' borne 2>/dev/null || echo inconnue)"
fi
echo "$release" > "$root/etc/borne-release"
