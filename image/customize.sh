#!/bin/sh
# Turns a Debian/Raspberry Pi OS arm64 root file system into a Borne kiosk. Used by the image
# recipe (rpi-image-gen's customize hook) and by image/test-arm64.sh on a debootstrap root.
#
# Usage: customize.sh ROOT [BORNE_DEB]
# The package (when given) is installed by the caller; this script only writes configuration.
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

# The data partition, ext4 with noatime, mounted where the service keeps its state; the root
# file system is read-only with an overlay (overlayroot), so only /var/lib/borne persists.
if ! grep -q " /var/lib/borne " "$root/etc/fstab" 2>/dev/null; then
    echo "LABEL=borne-data /var/lib/borne ext4 defaults,noatime,nofail,x-systemd.device-timeout=30s 0 2" >> "$root/etc/fstab"
fi
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

# First-boot provisioning from the boot partition.
install -m 0755 "$here/files/borne-provision" "$root/usr/local/sbin/borne-provision"
install -m 0644 "$here/files/borne-provision.service" "$root/etc/systemd/system/borne-provision.service"
install -d "$root/etc/systemd/system/multi-user.target.wants"
ln -sf ../borne-provision.service "$root/etc/systemd/system/multi-user.target.wants/borne-provision.service"
