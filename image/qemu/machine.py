"""The emulated kiosk: an arm64 `virt` machine under qemu-system-aarch64, driven through QMP
(power, screen, touch, watchdog events) and the QEMU guest agent (commands inside the machine).

The Raspberry Pi's firmware is the one part QEMU cannot run: `Firmware` plays it. At each power
on it reads autoboot.txt from the config partition, as the Pi's bootloader does with
`tryboot_a_b=1`, picks the slot's boot partition (the `[tryboot]` one once, when the tryboot
flag is set), and starts that partition's kernel, initramfs and cmdline.txt. On a Pi the flag
is set by `reboot "0 tryboot"` and cleared by the firmware; here the guest sets it by writing
TRYBOOT on the config partition and this firmware clears it when it uses it.

Standard library only, so that it runs on any Debian python3.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SCREEN = (1280, 720)


class Failure(Exception):
    """A check that did not hold."""


def mtools_env():
    env = dict(os.environ)
    env["MTOOLS_SKIP_CHECK"] = "1"
    return env


class Disk:
    """The kiosk's disk image and the offsets of its GPT partitions."""

    def __init__(self, path):
        self.path = path
        table = json.loads(subprocess.check_output(["sfdisk", "--json", path]))["partitiontable"]
        sector = table.get("sectorsize", 512)
        self.offsets = {}
        for index, part in enumerate(table["partitions"], start=1):
            self.offsets[index] = part["start"] * sector

    def fat(self, partition):
        return f"{self.path}@@{self.offsets[partition]}"

    def read(self, partition, name):
        """A file of a FAT partition, or None."""
        out = subprocess.run(["mtype", "-i", self.fat(partition), "::" + name],
                             capture_output=True, env=mtools_env())
        return out.stdout.decode() if out.returncode == 0 else None

    def copy_out(self, partition, name, dest):
        subprocess.run(["mcopy", "-n", "-i", self.fat(partition), "::" + name, dest],
                       check=True, env=mtools_env())

    def delete(self, partition, name):
        subprocess.run(["mdel", "-i", self.fat(partition), "::" + name],
                       capture_output=True, env=mtools_env())


class Firmware:
    """The Pi bootloader's choice of boot partition, from autoboot.txt."""

    def __init__(self, disk):
        self.disk = disk

    def choose(self):
        autoboot = self.disk.read(1, "autoboot.txt")
        if autoboot is None:
            raise Failure("no autoboot.txt on the config partition")
        sections, section = {}, "all"
        for line in autoboot.splitlines():
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
            elif "=" in line:
                key, value = line.split("=", 1)
                sections.setdefault(section, {})[key.strip()] = value.strip()
        tryboot = self.disk.read(1, "TRYBOOT") is not None
        if tryboot:
            self.disk.delete(1, "TRYBOOT")
        chosen = sections.get("tryboot" if tryboot else "all", {}).get("boot_partition")
        if chosen is None:
            chosen = sections.get("all", {}).get("boot_partition", "2")
        return int(chosen), tryboot


class Qmp:
    # A raw socket and a buffer of its own: a file made by socket.makefile() cannot be read
    # again once a read has timed out, and events are read with a timeout.
    def __init__(self, path, deadline=30):
        self.sock = connect(path, deadline)
        self.buffer = b""
        self.events = []
        self._read()  # greeting
        self.command("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QMP closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, **arguments):
        message = {"execute": name}
        if arguments:
            message["arguments"] = arguments
        self.sock.sendall(json.dumps(message).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
            elif "error" in reply:
                raise Failure(f"QMP {name}: {reply['error']}")
            elif "return" in reply:
                return reply["return"]

    def poll_events(self, timeout):
        """Reads events for up to `timeout` seconds; returns False when QEMU has gone."""
        self.sock.settimeout(timeout)
        try:
            self.events.append(self._read())
            return True
        except (socket.timeout, TimeoutError):
            return True
        except (EOFError, OSError, ValueError):
            return False
        finally:
            self.sock.settimeout(None)


class Agent:
    """The QEMU guest agent: commands run inside the machine, as root."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buffer = b""
        self.next_id = int(time.time()) % 100000 * 1000

    def _connect(self):
        if self.sock is None:
            self.sock = connect(self.path, 10)
            self.buffer = b""

    def _send(self, message):
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def _reply(self, timeout):
        end = time.monotonic() + timeout
        while True:
            if b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                line = line.strip(b"\xff \r")
                if not line:
                    continue
                try:
                    return json.loads(line)
                except ValueError:
                    continue
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("guest agent closed")
            self.buffer += chunk

    def sync(self, timeout=5):
        """True once the agent answers (stale replies of earlier attempts are skipped)."""
        try:
            self._connect()
            self.next_id += 1
            wanted = self.next_id
            self._send({"execute": "guest-sync", "arguments": {"id": wanted}})
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                reply = self._reply(end - time.monotonic())
                if reply.get("return") == wanted:
                    return True
        except (TimeoutError, socket.timeout, OSError, EOFError):
            pass
        return False

    def wait(self, deadline):
        while time.monotonic() < deadline:
            if self.sync():
                return
            time.sleep(1)
        raise Failure("the guest agent never answered")

    def call(self, name, timeout=30, **arguments):
        self._send({"execute": name, "arguments": arguments})
        reply = self._reply(timeout)
        if "error" in reply:
            raise Failure(f"guest agent {name}: {reply['error']}")
        return reply.get("return")

    def start(self, command):
        """Starts a shell command and does not wait (for one that never returns)."""
        return self.call("guest-exec", path="/bin/sh", arg=["-c", command])["pid"]

    def run(self, command, timeout=120, check=True):
        """Runs a shell command in the machine; returns its standard output."""
        pid = self.call("guest-exec", path="/bin/sh", arg=["-c", command],
                        **{"capture-output": True})["pid"]
        end = time.monotonic() + timeout
        while True:
            status = self.call("guest-exec-status", pid=pid)
            if status.get("exited"):
                break
            if time.monotonic() > end:
                raise Failure(f"`{command}` still running after {timeout} s")
            time.sleep(0.2)
        out = base64.b64decode(status.get("out-data", "")).decode(errors="replace")
        err = base64.b64decode(status.get("err-data", "")).decode(errors="replace")
        if check and status.get("exitcode", 0) != 0:
            raise Failure(f"`{command}` exited {status.get('exitcode')}: {out}{err}".strip())
        return out

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def connect(path, deadline):
    end = time.monotonic() + deadline
    while True:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


class Machine:
    """One emulated kiosk on `disk`; each power_on is a cold boot chosen by the firmware."""

    def __init__(self, disk_path, out_dir):
        self.disk = Disk(disk_path)
        self.firmware = Firmware(self.disk)
        self.out = out_dir
        self.run_dir = tempfile.mkdtemp(prefix="borne-vm.")
        self.proc = None
        self.qmp = None
        self.agent = None
        self.boots = 0
        self.powered_at = None
        self.slot = None

    def power_on(self, rtc=None):
        """A cold boot; `rtc`: the clock's UTC start ("2026-12-09T01:30:00"), else the host's."""
        partition, tryboot = self.firmware.choose()
        kernel = os.path.join(self.run_dir, "vmlinuz")
        initrd = os.path.join(self.run_dir, "initrd.img")
        cmdline = os.path.join(self.run_dir, "cmdline.txt")
        for name, dest in (("vmlinuz", kernel), ("initrd.img", initrd), ("cmdline.txt", cmdline)):
            if os.path.exists(dest):
                os.remove(dest)
            self.disk.copy_out(partition, name, dest)
        with open(cmdline) as f:
            append = f.read().strip()
        self.slot = "A" if partition == 2 else "B"
        self.boots += 1
        qmp_path = os.path.join(self.run_dir, "qmp.sock")
        qga_path = os.path.join(self.run_dir, "qga.sock")
        for path in (qmp_path, qga_path):
            if os.path.exists(path):
                os.remove(path)
        serial = os.path.join(self.out, f"serial-{self.boots:02d}.log")
        command = [
            "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72",
            "-accel", "tcg,thread=multi", "-smp", "2", "-m", "2G",
            "-L", "/usr/lib/ipxe/qemu", "-display", "none",
            # QEMU's user network: the host is 10.0.2.2 (the test's update server).
            "-nic", "user,model=virtio-net-pci",
            "-rtc", f"base={rtc or 'utc'},clock=host",
            "-kernel", kernel, "-initrd", initrd, "-append", append,
            "-drive", f"file={self.disk.path},format=raw,if=none,id=disk,cache=writeback",
            "-device", "virtio-blk-pci,drive=disk",
            "-device", f"virtio-gpu-pci,xres={SCREEN[0]},yres={SCREEN[1]}",
            "-device", "virtio-tablet-pci",
            # The watchdog card, and a reset (or reboot) that ends this QEMU: the next power on
            # goes through the firmware again, as on a Pi.
            "-device", "i6300esb", "-action", "watchdog=reset", "-action", "reboot=shutdown",
            "-chardev", f"socket,id=qmp,path={qmp_path},server=on,wait=off",
            "-mon", "chardev=qmp,mode=control",
            "-chardev", f"socket,id=qga,path={qga_path},server=on,wait=off",
            "-device", "virtio-serial-pci",
            "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
            "-serial", f"file:{serial}",
        ]
        self.powered_at = time.monotonic()
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.qmp = Qmp(qmp_path)
        self.agent = Agent(qga_path)
        return partition, tryboot

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def power_cut(self):
        """Pulls the plug: QEMU is killed, whatever the guest was doing."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def wait_off(self, timeout):
        """Waits for the machine to stop by itself (a reboot, a watchdog reset); the events seen."""
        end = time.monotonic() + timeout
        while self.alive() and time.monotonic() < end:
            if not self.qmp.poll_events(0.5):
                break
        try:
            self.proc.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Failure(f"the machine was still on after {timeout} s")
        events = list(self.qmp.events)
        self._reap()
        return events

    def _reap(self):
        if self.proc is not None:
            self.proc.wait()
            self.proc.stderr.close()
        if self.agent is not None:
            self.agent.close()
        self.proc = self.qmp = self.agent = None

    def screendump(self, path):
        self.qmp.command("screendump", filename=path, format="png")
        return path

    def tap(self, x, y):
        """A tap at screen pixel (x, y) through the virtio tablet."""
        ax = round(x * 0x7FFF / (SCREEN[0] - 1))
        ay = round(y * 0x7FFF / (SCREEN[1] - 1))
        move = [{"type": "abs", "data": {"axis": "x", "value": ax}},
                {"type": "abs", "data": {"axis": "y", "value": ay}}]
        self.qmp.command("input-send-event", events=move)
        self.qmp.command("input-send-event",
                         events=[{"type": "btn", "data": {"down": True, "button": "left"}}])
        time.sleep(0.1)
        self.qmp.command("input-send-event",
                         events=[{"type": "btn", "data": {"down": False, "button": "left"}}])

    def close(self):
        self.power_cut()
        shutil.rmtree(self.run_dir, ignore_errors=True)
