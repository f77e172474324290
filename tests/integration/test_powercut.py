# SPDX-License-Identifier: MIT
"""Power cuts (issue 19): firegw's ledger after the power fails, not after a kill.

A kill -9 keeps the page cache: whatever firegw wrote reaches the disk. A power cut keeps
only what was flushed. These tests load the power-cut simulator (tests/powercut/powercut_vfs.c,
an SQLite VFS, with LD_PRELOAD) into firegw: at a cut point the simulator undoes every ledger
write not yet followed by a sync of its file (drop), or lets them reach the device in order
up to one torn in a sector (tear), or sector by sector in any order (mix), then kills firegw
with SIGKILL; firegw is then started again, without the simulator, on what is left.

After every cut, on a copy of what is left (what the next start recovers):
- PRAGMA integrity_check is ok; event seq strictly increasing, never repeated or skipped
  (tests/reliability/scenario.py: ledger_check);
- every event the ledger had committed (seen by a reader while firegw ran: a commit is
  visible only once its fsync returned) is still there, unchanged;
- every MQTT alarm whose PUBACK firegw had sent (the broker's log) is in the ledger;
- every event the platform stored is in the ledger, and every event of the ledger the
  platform did not store is still in the outbox: a cut can make an event be sent again (the
  acceptances committed without a sync, ledger_begin_relaxed), never lost. How many would be
  sent again is counted and printed.
At the end, the last run stops cleanly after everything is delivered: the platform has every
event of the ledger once after dedup, in seq order per hazard (test_reliability's
settle_and_check).

test_cut_at_each_sync_point: a scripted run, cut at the 1st, 2nd, ... sync after each step
is triggered: an alarm raised, cleared, recurred; the platform's acceptance; a platform
command applied; a drain of a backlog (full batches committed relaxed, by syncs and by
writes); the resync after the platform comes back. test_random_cuts: cuts at a random moment
(a timer, firegw busy or idle) or at a random write or sync, while Modbus and MQTT alarms
flow and the platform fails now and then. FIREGW_LONG=1 runs the long forms.
"""

import os
import random
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import time

import pytest

from conftest import BUILD_ROOT, SOURCE_ROOT, ledger_query
from test_reliability import settle_and_check
from test_uplink import LONG, Gw, pki, platform, wait_until  # noqa: F401

sys.path.insert(0, str(SOURCE_ROOT / "tests" / "reliability"))
from scenario import Scenario, assert_kept, ledger_check, long_mode, site_extra  # noqa: E402

SHIM = BUILD_ROOT / "tests" / "powercut_vfs.so"
SEED = int(os.environ.get("FIREGW_SEED") or (int(time.time()) if long_mode() else 19))
MODES = ("drop", "tear", "mix")
P_KEYS = 60  # MQTT smoke alarms that each raise once (the PUBACK check)

pytestmark = [pytest.mark.no_valgrind,
              pytest.mark.skipif(not SHIM.is_file(), reason=f"no {SHIM}: build the tests")]


@pytest.fixture
def gw(tmp_path):
    return Gw(tmp_path)


def write_site(gw, rx, pki, sim, broker):
    """Gw's site with the reliability scenario's detectors, batches of 5 (a backlog drains in
    several, the full ones relaxed), a heartbeat a second (commands arrive with it), and
    P_KEYS MQTT smoke alarms P1.. that the tests raise once each."""
    gw.write(rx.url, pki.ca(), smoke_port=sim.port, timeout="2s", batch=5, heartbeat="1s")
    text = site_extra(sim.port, broker.port)
    for i in range(1, P_KEYS + 1):
        text += (f'device "mq-P{i}" {{\n  key = "P{i}"\n  profile = "smoke-codes"\n'
                 f'  location = "flat {i}"\n  heartbeat_timeout = "30m"\n}}\n')
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(text)


SEND = re.compile(r"Sending PUBLISH to (\S+) \(d\d, q1, r\d, m(\d+), 'smoke/(P\d+)/event'")
ACK = re.compile(r"Received PUBACK from (\S+) \(Mid: (\d+)")


def acked_keys(broker):
    """The P keys whose alarm firegw acknowledged (PUBACK) to the broker, from its log."""
    mids, acked = {}, set()
    for line in broker.log_lines():
        m = SEND.search(line)
        if m:
            mids[(m[1], m[2])] = m[3]
            continue
        m = ACK.search(line)
        if m and (m[1], m[2]) in mids:
            acked.add(mids.pop((m[1], m[2])))
    return acked


def copy_ledger(path):
    """A copy of the ledger and its WAL as the cut left them (the test never writes the
    ledger itself); opening the copy recovers the WAL as the next start will."""
    tmp = tempfile.mkdtemp(prefix="powercut-")
    for suffix in ("", "-wal"):
        if os.path.exists(f"{path}{suffix}"):
            shutil.copyfile(f"{path}{suffix}", os.path.join(tmp, "ledger.db" + suffix))
    return tmp


class Cuts:
    """The site, the firegw runs with the simulator loaded, and the checks after each cut."""

    def __init__(self, gw, rx, broker, daemon_factory, tmp_path):
        self.gw, self.rx, self.broker, self.factory = gw, rx, broker, daemon_factory
        self.log = tmp_path / "powercut.log"
        self.arm = tmp_path / "powercut.arm"
        self.committed = {}    # every event known committed (fsync returned)
        self.cuts = 0          # runs that ended in a cut
        self.missed = 0        # runs stopped cleanly before their cut point
        self.resend = 0        # events stored by the platform yet still in the outbox
        self.runs = 0
        self.acked = set()
        self.undone = 0        # acceptances a cut undid: those events are sent again
        self.seen = (set(), set())

    def start(self, **env):
        self.arm.unlink(missing_ok=True)
        e = {"LD_PRELOAD": str(SHIM), "POWERCUT_LOG": str(self.log),
             "POWERCUT_ARM": str(self.arm)}
        e.update({f"POWERCUT_{k.upper()}": str(v) for k, v in env.items()})
        # A sanitized build: the simulator, preloaded, comes before ASan's runtime.
        asan = os.environ.get("ASAN_OPTIONS", "")
        e["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "verify_asan_link_order=0"
        self.runs += 1
        return self.factory(self.gw.conf, name=f"firegw-cut-{self.runs}", env=e).start(
            wait_ready=False)

    def arm_at(self, k, on="sync", mode="drop"):
        tmp = self.arm.with_suffix(".tmp")
        tmp.write_text(f"{k} {on} {mode}\n", encoding="ascii")
        tmp.rename(self.arm)

    def sample(self):
        """Events visible to a reader now: committed, and so synced (a FULL commit is made
        visible after its fsync; relaxed commits hold only acceptances)."""
        try:
            events = self.gw.events()
            waiting = {e for e, in self.gw.q(
                "SELECT e.event_id FROM outbox o JOIN events e ON e.seq = o.seq "
                "WHERE o.lane = 0")}
        except (sqlite3.Error, AssertionError):
            return
        self.committed.update(events)
        self.seen = (set(events), waiting)

    def wait_cut(self, d, limit):
        """Waits for the cut (the process killed by the simulator) for up to `limit` s,
        sampling the ledger meanwhile; a run still alive then is stopped cleanly."""
        deadline = time.monotonic() + limit
        while d.alive() and time.monotonic() < deadline:
            self.sample()
            time.sleep(0.1)
        if d.alive():
            # Not reached: stopped cleanly; an armed cut point may still fall in the stop.
            rc = d.stop(timeout=LONG)
            assert rc in (0, -signal.SIGKILL), f"{d.name} exited {rc}\n{d.log_text()}"
            cut = rc == -signal.SIGKILL
            self.missed += not cut
            self.cuts += cut
        else:
            rc = d.wait_exit(timeout=LONG)
            assert rc == -signal.SIGKILL, f"{d.name} exited {rc}, not cut\n{d.log_text()}"
            self.cuts += 1
            cut = True
        d.close()
        self.check()
        return cut

    def check(self):
        tmp = copy_ledger(self.gw.ledger)
        try:
            now = ledger_check(os.path.join(tmp, "ledger.db"))
            assert_kept(self.committed, now)
            con = sqlite3.connect(os.path.join(tmp, "ledger.db"))
            try:
                devices = {d for d, in con.execute("SELECT DISTINCT device FROM hazards")}
                waiting = {e for e, in con.execute(
                    "SELECT e.event_id FROM outbox o JOIN events e ON e.seq = o.seq "
                    "WHERE o.lane = 0")}
            finally:
                con.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.acked |= acked_keys(self.broker)
        lost = {k for k in self.acked if f"mq-{k}" not in devices}
        assert not lost, f"MQTT alarms acknowledged to the broker, not in the ledger: {lost}"
        stored = {e["event_id"] for e in self.rx.events()}
        extra = stored - set(now)
        assert not extra, f"the platform stored events the ledger lost: {sorted(extra)[:5]}"
        unsent = set(now) - stored - waiting
        assert not unsent, f"events neither stored by the platform nor waiting: {unsent}"
        self.resend += len(waiting & stored)
        # Acceptances seen committed before the cut and undone by it (relaxed commits).
        seen, seen_waiting = self.seen
        self.undone += len({e for e in waiting if e in seen and e not in seen_waiting})
        self.seen = (set(), set())
        self.committed = now


# ---- cuts at each sync point of a scripted run ----


def quiet(cuts, d, empty, secs=0.5, limit=LONG):
    """Waits until the ledger has not been synced for `secs` (the simulator's log stands
    still) and, if `empty`, the outbox is empty."""
    deadline = time.monotonic() + limit
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        assert d.alive(), d.log_text()
        s = cuts.log.stat().st_size if cuts.log.exists() else 0
        if s != size:
            size, since = s, time.monotonic()
        elif time.monotonic() - since >= secs and (not empty or cuts.gw.outbox() == 0):
            return
        time.sleep(0.05)
    raise AssertionError(f"the ledger never stood still\n{d.log_text()}")


def open_item(gw, device):
    rows = gw.q("SELECT id FROM hazards WHERE device = ? AND kind = 'fire_alarm' AND "
                "status != 'closed'", (device,))
    return rows[0][0] if rows else None


def test_cut_at_each_sync_point(gw, platform, sims, broker, daemon_factory, pki, tmp_path):
    """Cut at the Kth sync (or write) after each step of a scripted run is triggered."""
    rx = platform()
    sim = sims("20-23")
    write_site(gw, rx, pki, sim, broker)
    cuts = Cuts(gw, rx, broker, daemon_factory, tmp_path)
    state = {"smoke-1": False, "smoke-21": False, "smoke-22": False, "smoke-23": False,
             "mq-K1": False, "mq-K2": False, "mq-K3": False}
    unit = {"smoke-1": 20, "smoke-21": 21, "smoke-22": 22, "smoke-23": 23}

    def setdev(dev, on):
        state[dev] = on
        if dev in unit:
            sim.set(unit[dev], "input", 0, 1 if on else 0)
        else:
            broker.publish(f"smoke/{dev[3:]}/event",
                           '{"code": %d, "ts": %d}' % (1 if on else 7, int(time.time())))

    def held(dev, on):
        return lambda: (open_item(gw, dev) is not None and gw.q(
            "SELECT active FROM hazards WHERE id = ?", (open_item(gw, dev),))[0][0] == on) \
            if on else not gw.q("SELECT 1 FROM hazards WHERE device = ? AND active = 1", (dev,))

    # Steps: (label, prepare(d), trigger(), cut points [(k, on)]).
    def p_none(d):
        pass

    def p_off_closed(d):
        # smoke-21 normal and its item closed (by the platform), so the next alarm raises.
        if state["smoke-21"]:
            setdev("smoke-21", False)
        wait_until("smoke-21 normal", held("smoke-21", False), daemon=d)
        hid = open_item(gw, "smoke-21")
        if hid:
            rx.queue_command({"type": "hazard.close", "hazard_id": hid})
            wait_until("smoke-21's item closed", lambda: open_item(gw, "smoke-21") is None,
                       daemon=d)

    def p_cleared_open(d):
        if state["smoke-21"]:
            setdev("smoke-21", False)
        if open_item(gw, "smoke-21") is None:
            setdev("smoke-21", True)
            wait_until("smoke-21 raised", held("smoke-21", True), daemon=d)
            setdev("smoke-21", False)
        wait_until("smoke-21 cleared", held("smoke-21", False), daemon=d)

    def p_down(d):
        rx.set_fail("503")
        t = time.time()
        wait_until("a request refused", lambda: any(
            r["status"] == "503" and r["ts"] >= t for r in rx.state()["request_log"]), daemon=d)

    def p_backlog(d):
        p_down(d)
        for i in range(6):
            for dev in ("mq-K1", "mq-K2", "mq-K3", "smoke-23"):
                setdev(dev, not state[dev])
            time.sleep(0.25)
        wait_until("a backlog of 3 batches", lambda: gw.outbox() >= 15, daemon=d)

    def p_command(d):
        p_cleared_open(d)
        wait_until("delivered", lambda: gw.outbox() == 0, daemon=d)

    steps = [
        ("raised", p_off_closed, lambda: setdev("smoke-21", True), [(1, "sync")]),
        ("cleared", p_none, lambda: setdev("smoke-21", False), [(1, "sync")]),
        ("recurred", p_cleared_open, lambda: setdev("smoke-21", True), [(1, "sync")]),
        ("acceptance", p_none, lambda: setdev("smoke-22", not state["smoke-22"]),
         [(2, "sync"), (3, "sync")]),
        ("command", p_command, lambda: rx.queue_command(
            {"type": "hazard.close", "hazard_id": open_item(gw, "smoke-21")}),
         [(1, "sync"), (2, "sync")]),
        ("drain", p_backlog, lambda: rx.set_fail("none"),
         [(1, "sync"), (2, "sync"), (3, "sync"), (3, "write"), (9, "write")]),
        ("resync", lambda d: (setdev("smoke-22", True) if not state["smoke-22"] else None,
                              wait_until("smoke-22 in alarm", held("smoke-22", True), daemon=d),
                              p_down(d)),
         lambda: rx.set_fail("none"), [(1, "sync"), (2, "sync")]),
    ]
    rounds = len(MODES) if long_mode() else 1
    extra_k = 3 if long_mode() else 0  # the long form: 3 more syncs after each step
    per, n = {}, 0
    t0 = time.monotonic()
    for r in range(rounds):
        for label, prepare, trigger, points in steps:
            pts = list(points) + [(points[-1][0] + j, points[-1][1]) for j in
                                  range(1, extra_k + 1)]
            for k, on in pts:
                mode = MODES[(n + r) % len(MODES)]
                n += 1
                d = cuts.start()
                d.wait_ready(timeout=LONG)
                prepare(d)
                quiet(cuts, d, label not in ("drain", "resync"))
                cuts.sample()
                cuts.arm_at(k, on, mode)
                trigger()
                cut = cuts.wait_cut(d, 3.0)
                got = per.setdefault(label, [0, 0])
                got[0 if cut else 1] += 1
                rx.set_fail("none")
    print(f"power cut at each sync point: {per} (cut, not reached); {cuts.cuts} cuts, "
          f"{cuts.resend} event(s) stored by the platform still in the outbox after a cut, "
          f"{cuts.undone} acceptance(s) undone by a cut, {time.monotonic() - t0:.0f} s")
    settle_and_check(gw, rx, daemon_factory, Scenario(sim, broker, SEED), cuts.committed)
    assert cuts.cuts >= n * 3 // 4, per


# ---- random cuts while alarms flow ----


def test_random_cuts(gw, platform, sims, broker, daemon_factory, pki, tmp_path):
    """Random cuts (a timer, a random write or a random sync) while four Modbus smoke modules
    and three MQTT alarms raise and clear, a fresh MQTT alarm is raised at every run and the
    platform fails now and then."""
    total = 1000 if long_mode() else int(os.environ.get("FIREGW_POWERCUTS") or 60)
    rng = random.Random(SEED)
    rx = platform()
    sim = sims("20-23")
    write_site(gw, rx, pki, sim, broker)
    cuts = Cuts(gw, rx, broker, daemon_factory, tmp_path)
    # A first run makes firegw's persistent session at the broker (a message published
    # before any session exists is not kept for firegw).
    d = daemon_factory(gw.conf, name="firegw-setup").start(timeout=LONG)
    d.wait_log(r"<5>mqtt: connected to", timeout=LONG)
    assert d.stop() == 0, d.log_text()
    scenario = Scenario(sim, broker, SEED).start()
    published = set()
    kinds = {"timer": 0, "sync": 0, "write": 0}
    t0 = time.monotonic()
    try:
        for i in range(total):
            if i % 7 == 3:
                rx.set_fail(rng.choice(["503", "slow", "reset", "garbage"]), count=3,
                            delay=0.5)
            kind = rng.choice(["timer", "timer", "sync", "write"])
            env = {"mode": rng.choice(MODES), "seed": rng.randrange(1 << 30),
                   "after_ms": rng.randint(100, 1500)}
            if kind == "sync":
                env.update(at=rng.randint(1, 12), on="sync", after_ms=3000)
            elif kind == "write":
                env.update(at=rng.randint(1, 60), on="write", after_ms=3000)
            kinds[kind] += 1
            d = cuts.start(**env)
            key = f"P{i % P_KEYS + 1}"
            if key not in published:
                broker.publish(f"smoke/{key}/event", '{"code": 1, "ts": %d}' % time.time())
                published.add(key)
            cuts.wait_cut(d, 4.0)
    finally:
        scenario.stop()
    print(f"random power cuts: {cuts.cuts} cuts ({kinds}), {cuts.missed} runs ended before "
          f"their cut, {len(cuts.acked)} MQTT alarms acknowledged then checked, "
          f"{cuts.resend} event(s) stored by the platform still in the outbox after a cut, "
          f"{cuts.undone} acceptance(s) undone by a cut, {time.monotonic() - t0:.0f} s, "
          f"seed {SEED}")
    final = settle_and_check(gw, rx, daemon_factory, scenario, cuts.committed)
    devices = {d for d, in ledger_query(gw.ledger, "SELECT DISTINCT device FROM hazards")}
    never = {f"mq-{k}" for k in published} - devices
    assert not never, f"MQTT alarms never recorded: {never}"
    print(f"random power cuts: {len(final)} events checked at the platform")
    assert cuts.cuts >= total * 3 // 4
