"""The whole-machine test: boots the kiosk's disk image in an emulated arm64 computer and checks
what a site would see. Run by image/test-boot.sh, which builds the disk; prints one line per
check and the figures, and exits non-zero at the first check that does not hold.

Usage: python3 boot_test.py DISK_IMG OUT_DIR SCREENS_DIR POWER_CUTS [UPDATES_DIR PORT GOOD BROKEN OLD]
  UPDATES_DIR holds manifest-GOOD.json, manifest-BROKEN.json, manifest-OLD.json (an older
  version), manifest-lying.json (the older bundle announced as a newer version) and their
  bundles; it is served on
  127.0.0.1:PORT, which the kiosk reaches as 10.0.2.2:PORT (its update.url).
"""

import functools
import http.server
import json
import os
import shutil
import sys
import threading
import time

from PIL import Image, ImageChops

from machine import SCREEN, Failure, Machine

# Where « Très bien » is on the 1280x720 home screen (docs/screens/1280x720/01-accueil.png).
TRES_BIEN = (1061, 300)
# The home screen's result line (« 8,4/10 sur 312 avis… » in the documentation's picture)
# depends on the reviews stored: the comparison leaves that box out.
RESULT_BOX = (360, 530, 920, 720)
BOOT_DEADLINE = 240
WATCHDOG_SEC = 30
RESTART_SEC = 2
RUNTIME_WATCHDOG_SEC = 15
# The update phase runs at night (the window is 01:00-05:00, Paris time): 02:30 in Paris.
NIGHT = "2026-12-09T01:30:00"
CONFIRM_TIMEOUT_S = 90

figures = {}


def ok(message):
    print(f"ok - {message}", flush=True)


def difference(shot, reference, mask=None):
    """The share of pixels that differ by more than a rounding in any channel."""
    a = Image.open(shot).convert("RGB")
    b = Image.open(reference).convert("RGB")
    if a.size != b.size:
        return 1.0
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 24 else 0)
    if mask is not None:
        diff.paste(0, mask)
    changed = diff.histogram()[255]
    total = a.size[0] * a.size[1]
    if mask is not None:
        total -= (mask[2] - mask[0]) * (mask[3] - mask[1])
    return changed / total


class Kiosk:
    def __init__(self, disk, out, screens):
        self.machine = Machine(disk, out)
        self.out = out
        self.home = os.path.join(screens, "01-accueil.png")
        self.thanks = os.path.join(screens, "07-merci.png")
        self.shot = os.path.join(out, "screen.png")

    @property
    def agent(self):
        return self.machine.agent

    def screen_is(self, reference, mask=None, keep=None):
        path = self.machine.screendump(self.shot)
        share = difference(path, reference, mask)
        if keep is not None and share < 0.01:
            os.replace(path, os.path.join(self.out, keep))
        return share < 0.01, share

    def boot(self, what="power on", rtc=None, home=True):
        """Powers on and waits for the home screen (and the guest agent); returns seconds to
        the first smiley, the boot partition and whether it was a trial boot."""
        partition, tryboot = self.machine.power_on(rtc)
        start = self.machine.powered_at
        end = start + BOOT_DEADLINE
        share = 1.0
        seen = not home
        while not seen and time.monotonic() < end:
            if not self.machine.alive():
                raise Failure(f"{what}: QEMU stopped during boot (see serial log)")
            try:
                seen, share = self.screen_is(self.home, RESULT_BOX)
            except Failure:
                seen = False
            if not seen:
                time.sleep(0.5)
        if not seen:
            raise Failure(f"{what}: no home screen after {BOOT_DEADLINE} s "
                          f"(last screen differs from 01-accueil.png on {share:.1%}; {self.shot})")
        first_smiley = time.monotonic() - start
        if home:
            self.agent.wait(end)
        return first_smiley, partition, tryboot

    def service(self):
        out = self.agent.run("systemctl show borne.service -p Type -p ActiveState -p SubState "
                             "-p MainPID -p NRestarts -p ActiveEnterTimestampMonotonic")
        return dict(line.split("=", 1) for line in out.strip().splitlines())

    def wait_ready(self, deadline):
        while time.monotonic() < deadline:
            state = self.service()
            if state["ActiveState"] == "active" and state["SubState"] == "running":
                return state
            time.sleep(1)
        raise Failure(f"borne.service not active: {self.service()}")

    def borne(self, args):
        return self.agent.run(f"runuser -u borne -- borne --data-dir /var/lib/borne {args}")

    def reviews(self):
        out = self.borne("export --format jsonl")
        return [line for line in out.splitlines() if line.strip()]

    def db_check(self):
        out = self.borne("db check")
        if "intégrité : ok" not in out:
            raise Failure(f"borne db check: {out}")

    def visit(self):
        """A visitor taps « Très bien »; returns once « Merci » is on the screen."""
        self.machine.tap(*TRES_BIEN)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            seen, _ = self.screen_is(self.thanks, keep="boot-merci.png")
            if seen:
                return
            time.sleep(0.1)
        # What the kiosk had open and said, for the report.
        report = self.agent.run("pid=$(systemctl show -p MainPID --value borne.service); "
                                "ls -l /proc/$pid/fd | grep -c /dev/input; "
                                "journalctl -b -u borne.service -o short-monotonic | tail -15", check=False)
        raise Failure(f"no « Merci » within 30 s of the tap on « Très bien » ({self.shot}); input "
                      f"devices open, then the kiosk's journal: {report}")


def main():
    disk, out, screens = sys.argv[1:4]
    cuts = int(sys.argv[4])
    kiosk = Kiosk(disk, out, screens)
    total_start = time.monotonic()
    try:
        run(kiosk, cuts)
        if len(sys.argv) > 5:
            updates_dir, port, good, broken, old = sys.argv[5:10]
            server = serve(updates_dir, int(port))
            try:
                updates(kiosk, updates_dir, good, broken, old)
            finally:
                server.shutdown()
    finally:
        kiosk.machine.close()
    figures["whole test"] = f"{time.monotonic() - total_start:.0f} s"
    print("\nfigures (emulated arm64, TCG):")
    for name, value in figures.items():
        print(f"  {name}: {value}")


def run(kiosk, cuts):
    agent_of = lambda: kiosk.agent  # noqa: E731 (the agent changes at every boot)

    # 1. Power on: the home screen, drawn by borne.service through linuxkms on virtio-gpu.
    first, partition, _ = kiosk.boot()
    figures["power on to first smiley (first boot)"] = f"{first:.1f} s"
    ok(f"power on → home screen on virtio-gpu in {first:.1f} s (boot partition {partition})")
    kiosk.machine.screendump(os.path.join(kiosk.out, "boot-accueil.png"))
    matches, share = kiosk.screen_is(kiosk.home, RESULT_BOX)
    if not matches:
        raise Failure(f"the screen differs from docs/screens/1280x720/01-accueil.png on {share:.2%} of its "
                      f"pixels (result line left out; {kiosk.shot})")
    ok(f"the screen matches docs/screens/1280x720/01-accueil.png ({share:.2%} of pixels differ, "
       "result line left out)")
    state = kiosk.wait_ready(time.monotonic() + 60)
    if state["Type"] != "notify":
        raise Failure(f"borne.service is Type={state['Type']}")
    ready = int(state["ActiveEnterTimestampMonotonic"]) / 1e6
    figures["kernel start to READY (first boot)"] = f"{ready:.1f} s"
    ok(f"borne.service active (Type=notify, READY {ready:.1f} s after the kernel started)")
    # findmnt takes one mount point at a time.
    mounts = agent_of().run("for m in / /media/root-ro /var/lib/borne-data /var/lib/borne /etc/borne "
                            "/boot/firmware; do findmnt -n -o TARGET,SOURCE,FSTYPE,OPTIONS \"$m\" "
                            "|| echo \"$m (not mounted)\"; done")
    print(mounts.rstrip())
    if "not mounted" in mounts or "borne-data" not in mounts:
        raise Failure(f"mounts: {mounts}")
    ok("data partition mounted, the store and /etc/borne bound on it, the boot partition mounted")
    site = agent_of().run("grep -c qemu-virt-01 /etc/borne/borne.toml; ls /boot/firmware", check=False)
    if not site.startswith("1\n") or "borne.toml" in site:
        raise Failure(f"provisioning: {site}")
    ok("provisioned from the boot partition (borne.toml installed, removed from the FAT)")

    # 2. A touch on « Très bien » → « Merci » → a review on the data partition.
    kiosk.visit()
    reviews = kiosk.reviews()
    answers = [a for r in reviews for a in json.loads(r)["answers"] if a["field_code"] == "satisfaction"]
    if len(reviews) != 1 or [a["intention"] for a in answers] != ["good"]:
        raise Failure(f"after one tap on « Très bien »: {reviews}")
    ok("a tap on « Très bien » (virtio-tablet) → « Merci » → 1 review (satisfaction: good) on the "
       "data partition")

    # 3. The root file system is read-only: a write outside the data partition is gone after a
    #    reboot; the configuration and the reviews stay.
    root = agent_of().run("findmnt -n -o FSTYPE / ; findmnt -n -o OPTIONS /media/root-ro")
    if not root.startswith("overlay") or not root.split("\n")[1].startswith("ro"):
        raise Failure(f"root file system: {root}")
    agent_of().run("echo scribble > /etc/borne-scribble && echo scribble > /usr/local/borne-scribble")
    agent_of().start("systemctl reboot")
    kiosk.machine.wait_off(120)
    kiosk.boot("reboot")
    left = agent_of().run("ls /etc/borne-scribble /usr/local/borne-scribble 2>&1 || true")
    if "No such file" not in left or "scribble\n" in left:
        raise Failure(f"writes outside the data partition survived a reboot: {left}")
    if len(kiosk.reviews()) != 1 or "qemu-virt-01" not in agent_of().run("cat /etc/borne/borne.toml"):
        raise Failure("the review or the site's configuration did not survive a reboot")
    ok("root read-only (overlay on a read-only ext4): writes to /etc and /usr gone after reboot; "
       "review and site configuration kept")

    # 4. Power cuts right after « Merci ».
    acknowledged = 1
    times = []
    for cut in range(1, cuts + 1):
        kiosk.visit()
        acknowledged += 1
        kiosk.machine.power_cut()
        first, _, _ = kiosk.boot(f"boot after power cut {cut}")
        times.append(first)
        kiosk.wait_ready(time.monotonic() + 60)
        kiosk.db_check()
        count = len(kiosk.reviews())
        if count != acknowledged:
            raise Failure(f"power cut {cut}: {count} reviews stored, {acknowledged} thanked")
        ok(f"power cut {cut} right after « Merci »: {count}/{acknowledged} reviews, db check ok, "
           f"home screen in {first:.1f} s")
    if times:
        figures["power on to first smiley (after cuts)"] = (
            f"min {min(times):.1f} s, median {sorted(times)[len(times) // 2]:.1f} s, "
            f"max {max(times):.1f} s over {len(times)} boots")

    # 5. A frozen kiosk (SIGSTOP) is restarted by systemd's watchdog.
    before = kiosk.service()
    agent_of().run(f"kill -STOP {before['MainPID']}")
    frozen = time.monotonic()
    limit = WATCHDOG_SEC + RESTART_SEC + 60
    while True:
        state = kiosk.service()
        if state["MainPID"] not in ("0", before["MainPID"]) and state["SubState"] == "running":
            break
        if time.monotonic() - frozen > limit:
            raise Failure(f"frozen kiosk not restarted within {limit} s: {state}")
        time.sleep(1)
    restarted = time.monotonic() - frozen
    reason = agent_of().run("journalctl -b -u borne.service -o cat | grep -i watchdog || true")
    if "watchdog" not in reason.lower():
        raise Failure(f"the restart was not the watchdog's: {reason}")
    # The new process draws the home screen again.
    deadline = time.monotonic() + 60
    matches, share = kiosk.screen_is(kiosk.home, RESULT_BOX)
    while not matches and time.monotonic() < deadline:
        time.sleep(1)
        matches, share = kiosk.screen_is(kiosk.home, RESULT_BOX)
    if not matches:
        raise Failure(f"after the watchdog's restart the screen differs from the home screen on {share:.2%} "
                      f"of its pixels ({kiosk.shot})")
    figures["frozen kiosk back (SIGSTOP → new READY)"] = f"{restarted:.0f} s (WatchdogSec={WATCHDOG_SEC})"
    ok(f"frozen kiosk (SIGSTOP) restarted by the systemd watchdog: active again {restarted:.0f} s later "
       f"(NRestarts {before['NRestarts']} → {state['NRestarts']}), home screen drawn again "
       f"({share:.2%} of pixels differ)")

    # 6. A hung machine (kernel panic, nothing left to feed the watchdog) is reset by the
    #    i6300esb watchdog card that systemd arms (RuntimeWatchdogSec).
    card = agent_of().run("cat /sys/class/watchdog/watchdog0/identity /sys/class/watchdog/watchdog0/state "
                          "/sys/class/watchdog/watchdog0/timeout")
    if "i6300ESB" not in card or "active" not in card:
        raise Failure(f"watchdog card not armed: {card}")
    agent_of().run("sysctl -q -w kernel.panic=0 kernel.panic_on_oops=1")
    agent_of().start("sleep 1; echo c > /proc/sysrq-trigger")
    hung = time.monotonic()
    events = kiosk.machine.wait_off(RUNTIME_WATCHDOG_SEC + 60)
    fired = [e for e in events if e.get("event") == "WATCHDOG"]
    if not fired or fired[0]["data"].get("action") != "reset":
        raise Failure(f"no watchdog reset: {[e.get('event') for e in events]}")
    reset_after = time.monotonic() - hung
    first, _, _ = kiosk.boot("boot after the watchdog reset")
    kiosk.wait_ready(time.monotonic() + 60)
    kiosk.db_check()
    if len(kiosk.reviews()) != acknowledged:
        raise Failure("reviews lost across the watchdog reset")
    figures["hung machine reset by i6300esb"] = f"{reset_after:.0f} s after the panic (RuntimeWatchdogSec={RUNTIME_WATCHDOG_SEC}s)"
    ok(f"hung machine (kernel panic) reset by the i6300esb watchdog {reset_after:.0f} s later; "
       f"back on the home screen in {first:.1f} s with {acknowledged} reviews")


def serve(directory, port):
    handler = functools.partial(QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        print(f"  update server: {format % args}", flush=True)


def publish(updates_dir, version):
    shutil.copyfile(os.path.join(updates_dir, f"manifest-{version}.json"),
                    os.path.join(updates_dir, "manifest.json"))


def updates(kiosk, updates_dir, good, broken, old):
    """A good update is kept, a broken one is rolled back; reviews and token untouched."""
    agent = lambda: kiosk.agent  # noqa: E731 (a new agent at every boot)
    kiosk.machine.power_cut()
    kiosk.boot("night boot", rtc=NIGHT)
    kiosk.wait_ready(time.monotonic() + 60)

    def kept():
        return {
            "reviews": len(kiosk.reviews()),
            "token": agent().run("sha256sum /etc/borne/token").split()[0],
            "store": agent().run("findmnt -n -o SOURCE /var/lib/borne-data"),
        }

    def system():
        return {
            "release": agent().run("cat /etc/borne-release").strip(),
            "slot": agent().run("tr ' ' '\\n' < /proc/cmdline | sed -n 's/^rauc.slot=//p'").strip(),
            "state": json.loads(agent().run("cat /var/lib/borne-data/update/state.json 2>/dev/null "
                                            "|| echo '{}'")),
        }

    def confirmed(deadline):
        while time.monotonic() < deadline:
            out = agent().run("systemctl show borne-update-confirm.service -p ActiveState -p Result")
            if "ActiveState=active" in out or "Result=exit-code" in out:
                return agent().run("journalctl -b -u borne-update-confirm.service -o cat")
            time.sleep(2)
        raise Failure("borne-update-confirm never finished")

    before = kept()
    original = system()
    ok(f"night boot (02:30 in Paris) on slot {original['slot']}, version {original['release']}, "
       f"{before['reviews']} reviews")

    # A good version: installed at night, tried once, confirmed, kept.
    publish(updates_dir, good)
    started = time.monotonic()
    agent().start("systemctl start borne-update.service")
    kiosk.machine.wait_off(1800)
    installed = time.monotonic() - started
    first, partition, tryboot = kiosk.boot("trial boot of the good version", rtc=NIGHT)
    if not tryboot or partition != 3:
        raise Failure(f"the good version was not tried once from slot B (partition {partition}, "
                      f"tryboot {tryboot})")
    log = confirmed(time.monotonic() + CONFIRM_TIMEOUT_S + 120)
    now = system()
    if now["release"] != good or now["slot"] != "B" or now["state"].get("pending") is not None:
        raise Failure(f"good version not confirmed: {now}\n{log}")
    if kept() != before:
        raise Failure(f"reviews or token changed by the update: {before} → {kept()}")
    kiosk.db_check()
    figures["update downloaded, installed and rebooted"] = f"{installed:.0f} s"
    ok(f"good version {good}: downloaded, verified and installed by RAUC into slot B in {installed:.0f} s, "
       f"tried once (tryboot), READY + probe → confirmed; reviews and token untouched")
    print("  " + log.strip().replace("\n", "\n  "))
    agent().start("systemctl reboot")
    kiosk.machine.wait_off(120)
    _, partition, tryboot = kiosk.boot("reboot after the confirmation", rtc=NIGHT)
    if partition != 3 or tryboot or system()["release"] != good:
        raise Failure(f"the confirmed version was not kept (partition {partition}, tryboot {tryboot})")
    ok("after a reboot the kiosk starts the confirmed version (slot B is the default)")

    # A broken version (its kiosk never reaches READY): tried once, given up, rolled back.
    kiosk.wait_ready(time.monotonic() + 60)
    publish(updates_dir, broken)
    agent().start("systemctl start borne-update.service")
    kiosk.machine.wait_off(1800)
    _, partition, tryboot = kiosk.boot("trial boot of the broken version", rtc=NIGHT, home=False)
    if not tryboot or partition != 2:
        raise Failure(f"the broken version was not tried from slot A (partition {partition})")
    trial = time.monotonic()
    kiosk.machine.wait_off(CONFIRM_TIMEOUT_S + 300)
    gave_up = time.monotonic() - trial
    _, partition, tryboot = kiosk.boot("boot after the broken version", rtc=NIGHT)
    log = confirmed(time.monotonic() + 120)
    now = system()
    if partition != 3 or tryboot or now["release"] != good or broken not in now["state"].get("rejected", []):
        raise Failure(f"the broken version was not rolled back: partition {partition}, {now}\n{log}")
    if kept() != before:
        raise Failure(f"reviews or token changed by the failed update: {before} → {kept()}")
    kiosk.db_check()
    figures["broken update given up (trial boot → back on the old slot)"] = f"{gave_up:.0f} s"
    ok(f"broken version {broken}: tried once from slot A, not READY within {CONFIRM_TIMEOUT_S} s, "
       f"given up after {gave_up:.0f} s; slot B and version {good} again, reviews and token untouched")
    print("  " + log.strip().replace("\n", "\n  "))
    again = agent().run("borne update run 2>&1 || true")
    if "déjà échoué" not in again:
        raise Failure(f"the rejected version would be installed again: {again}")
    ok("the rejected version is not installed again: " + again.strip())

    # Going back is refused: an older signed bundle under its own version, then under a
    # manifest announcing it as newer than anything. The kiosk stays on the good version.
    publish(updates_dir, old)
    back = agent().run("borne update run 2>&1 || true")
    if "retour en arrière" not in back or "installation" in back:
        raise Failure(f"an older version was not refused before its download: {back}")
    ok("an older signed version is refused before its download: " + back.strip())
    # (the guest agent is a service: its children log to the journal, as the timer's unit does)
    logged = agent().run("journalctl -b -t borne -o cat | grep 'update refused' || true")
    if "update refused" not in logged:
        raise Failure(f"the refusal was not logged: {logged}")
    # The lying manifest, through the unit the timer starts: its refusal goes to the journal.
    shutil.copyfile(os.path.join(updates_dir, "manifest-lying.json"), os.path.join(updates_dir, "manifest.json"))
    agent().run("systemctl start borne-update.service 2>&1 || true")
    lying = agent().run("journalctl -b -u borne-update.service -o cat")
    if f"le paquet signé porte la version {old}" not in lying or "update refused" not in lying:
        raise Failure(f"a manifest lying about an older bundle was not caught and logged: {lying}")
    after = system()
    if after["release"] != good or after["slot"] != "B" or after["state"].get("pending"):
        raise Failure(f"the kiosk left the good version after a downgrade attempt: {after}")
    ok(f"an older bundle announced as newer is downloaded, read by rauc info, refused and logged "
       f"in the journal; still version {good} on slot B")


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print(f"ÉCHEC : {failure}", file=sys.stderr)
        sys.exit(1)
