#!/usr/bin/env bash
# Assembles the emulated kiosk's disk from the cached base (base.sh), the arm64 package and the
# Pi image's own customisation (image/customize.sh), in the A/B layout of rpi-image-gen's
# `image-rota` (GPT):
#   1 config     FAT   autoboot.txt: which boot partition the firmware starts, and which on tryboot
#   2 boot-a     FAT   slot A: kernel, initramfs, cmdline.txt (and the site's provisioning files)
#   3 boot-b     FAT   slot B
#   4 system-a   ext4  slot A's root file system, mounted read-only under a tmpfs overlay
#   5 system-b   ext4  slot B's root file system
#   6 borne-data ext4  /var/lib/borne: the review store, shared by both slots, never written by
#                      an update
# Slot B starts as a copy of slot A. No loop device is needed: every file system is made in a
# file (mkfs.ext4 -d, mkfs.vfat + mcopy) and written at its offset.
#
# Usage: assemble.sh BASE_TAR BORNE_DEB OUT_DIR [PROVISION_DIR]
#   OUT_DIR receives disk.img, system.ext4 and boot/ (the slot's boot files, for update bundles).
#   PROVISION_DIR's files (borne.toml, borne-token) are put on boot-a as a site would, for
#   first-boot provisioning. BORNE_UPDATE_KEYRING (customize.sh) lets the image take updates.
# Needs root (chroot under qemu-user for the package's maintainer scripts).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="$1"
deb="$2"
out="$3"
provision="${4:-}"

# Partition sizes in MiB, first partition at 1 MiB.
config_mib=16
boot_mib=128
system_mib=1536
# The data partition holds the reviews and, during an update, the downloaded bundle.
data_mib=1024

install -d "$out"
work="$(mktemp -d "$out/assemble.XXXXXX")"
root="$work/root"
cleanup() {
    for m in dev/pts dev proc sys; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$root"
tar -xpf "$base" --xattrs --xattrs-include='*' --numeric-owner -C "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sysfs "$root/sys"

# The package, exactly as the Pi image's layer installs it (its dependencies are in the base).
cp "$deb" "$root/tmp/borne.deb"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/borne.deb
rm -f "$root/tmp/borne.deb"

# The boot partition as Raspberry Pi OS has it, then the Pi image's customisation.
install -d "$root/boot/firmware"
echo "root=/dev/vda4 ro rootwait console=tty1 console=ttyAMA0 quiet rauc.slot=A borne.boot=/dev/vda2" \
    > "$root/boot/firmware/cmdline.txt"
BORNE_COMPATIBLE=borne-virt-arm64 "$here/../customize.sh" "$root"

# The emulated machine's network (the Pi image has its own): DHCP on QEMU's user network, so
# that the kiosk reaches the test's update server on the host.
cat > "$root/etc/systemd/network/20-wired.network" <<'NET'
[Match]
Name=en*
[Network]
DHCP=yes
NET
ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"

for m in dev/pts dev proc sys; do mountpoint -q "$root/$m" && umount -l "$root/$m"; done

# The boot files leave the root file system for the slot's boot partition.
boot="$out/boot"
rm -rf "$boot"
install -d "$boot"
mv "$root"/boot/firmware/* "$boot/"
cp "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)" "$boot/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)" "$boot/initrd.img"

rm -f "$out/system.ext4"
mkfs.ext4 -q -L rootfs -d "$root" "$out/system.ext4" "${system_mib}M"

vfat() { # vfat FILE LABEL MIB SOURCE_DIR...
    local file="$1" label="$2" mib="$3"
    shift 3
    rm -f "$file"
    mkfs.vfat -n "$label" -C "$file" $((mib * 1024)) >/dev/null
    for dir in "$@"; do
        [ -z "$(ls -A "$dir")" ] || mcopy -s -i "$file" "$dir"/* ::
    done
}
slot_boot() { # slot_boot SLOT(A|B) DIR: the slot's boot files, its command line naming its partitions
    local slot="$1" dir="$2" bootdev rootdev
    if [ "$slot" = A ]; then bootdev=/dev/vda2 rootdev=/dev/vda4; else bootdev=/dev/vda3 rootdev=/dev/vda5; fi
    rm -rf "$dir"
    cp -r "$boot" "$dir"
    sed -i -e "s|root=[^ ]*|root=$rootdev|" -e "s|rauc.slot=[^ ]*|rauc.slot=$slot|" \
        -e "s|borne.boot=[^ ]*|borne.boot=$bootdev|" "$dir/cmdline.txt"
}
slot_boot A "$work/boot-a"
slot_boot B "$work/boot-b"
if [ -n "$provision" ]; then
    cp "$provision"/* "$work/boot-a/"
fi
install -d "$work/config"
cat > "$work/config/autoboot.txt" <<'TXT'
[all]
tryboot_a_b=1
boot_partition=2
[tryboot]
boot_partition=3
TXT
vfat "$work/config.vfat" CONFIG "$config_mib" "$work/config"
vfat "$work/boot-a.vfat" BOOT-A "$boot_mib" "$work/boot-a"
vfat "$work/boot-b.vfat" BOOT-B "$boot_mib" "$work/boot-b"
rm -f "$work/data.ext4"
mkfs.ext4 -q -L borne-data "$work/data.ext4" "${data_mib}M"

disk="$out/disk.img"
rm -f "$disk"
total=$((1 + config_mib + 2 * boot_mib + 2 * system_mib + data_mib + 1))
truncate -s "${total}M" "$disk"
sfdisk -q "$disk" <<EOF
label: gpt
start=1MiB, size=${config_mib}MiB, type=uefi, name=config
size=${boot_mib}MiB, type=linux, name=boot-a
size=${boot_mib}MiB, type=linux, name=boot-b
size=${system_mib}MiB, type=linux, name=system-a
size=${system_mib}MiB, type=linux, name=system-b
size=${data_mib}MiB, type=linux, name=borne-data
EOF
seek=1
for part in "$work/config.vfat:$config_mib" "$work/boot-a.vfat:$boot_mib" "$work/boot-b.vfat:$boot_mib" \
    "$out/system.ext4:$system_mib" "$out/system.ext4:$system_mib" "$work/data.ext4:$data_mib"; do
    dd if="${part%:*}" of="$disk" bs=1M seek="$seek" conv=notrunc,sparse status=none
    seek=$((seek + ${part##*:}))
done
echo "assemble.sh: $disk ($(du -h --apparent-size "$disk" | cut -f1), $(du -h "$disk" | cut -f1) used)"
