# SPDX-License-Identifier: MIT
"""Reliability (issue 7): firegw killed at random moments and at exact points while alarms
flow, write errors injected, the disk filled. What holds is what a user (or the platform)
would check: every event the ledger committed reached the platform receiver exactly once by
event_id, in seq order per hazard; no committed event is ever lost or changed; seq never
repeats; PRAGMA integrity_check is ok after every kill (the ledger opened read-only between
kill and restart); the final state of every detector is in the ledger.

Short forms run in CI. FIREGW_LONG=1 runs the long forms (500 kills, a wider strace sweep, a
random seed printed with the figures). Helpers: tests/reliability/scenario.py.

The strace tests are marked `alone`: meson runs them as reliability-alone with no other test
beside them, since their sweeps count what firegw reaches within a time limit under strace.
The crash loop and the disk-full test run beside the other files.

An MQTT alarm killed between its receipt and its commit is sent again by the broker: firegw
holds the PUBACK until the commit (test_mqtt_alarm_survives_kill_before_commit).
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import BUILD_ROOT, SOURCE_ROOT, ledger_query, small_tmpfs
from mqtt_peers import Broker
from test_uplink import (LONG, Gw, assert_exactly_once, pki, platform,  # noqa: F401
                         wait_delivered, wait_until)

sys.path.insert(0, str(SOURCE_ROOT / "tests" / "reliability"))
from scenario import (Scenario, assert_kept, ledger_check, long_mode,  # noqa: E402
                      site_extra)

SEED = int(time.time()) if long_mode() else 7


@pytest.fixture
def gw(tmp_path):
    return Gw(tmp_path)


def write_site(gw, rx, pki, sim, broker):
    """The site: Gw's config (smoke-1 on the simulator, the platform) plus more detectors
    (tests/reliability/scenario.py) and a control socket of its own; returns the socket."""
    gw.write(rx.url, pki.ca(), smoke_port=sim.port, timeout="2s")
    sock = gw.root / "ctl"
    if len(str(sock)) > 100:  # AF_UNIX paths hold 107 bytes
        sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(site_extra(sim.port, broker.port))
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n')
    return sock


def kill(d):
    d.proc.kill()
    d.wait_exit(timeout=LONG)
    d.close()
    assert d.returncode == -signal.SIGKILL, f"{d.name} exited {d.returncode} before the kill" \
        f"\n{d.log_text()}"


def final_state_held(gw, state):
    """Every detector's last state is in the ledger: an alarm has its active fire_alarm item,
    a detector back to normal has none active."""
    rows = ledger_query(gw.ledger, "SELECT device, active FROM hazards WHERE "
                        "kind = 'fire_alarm' AND status != 'closed'")
    active = {dev for dev, a in rows if a}
    return all((dev in active) == on for dev, on in state.items())


def settle_and_check(gw, rx, daemon_factory, scenario, committed):
    """The last run: no more kills; the ledger catches up with every detector, the outbox
    drains, firegw stops cleanly; then every check."""
    rx.set_fail("none")
    t0 = time.time()
    d = daemon_factory(gw.conf, name="firegw-final").start(timeout=LONG)
    wait_until("every detector's last state in the ledger",
               lambda: final_state_held(gw, scenario.state), daemon=d)
    # The first success after the start queues a resync of the open items: wait for a
    # heartbeat the platform took, then until the ledger stands still with all delivered.
    wait_until("a heartbeat taken by the platform since the start", lambda: any(
        r["path"].endswith("/v1/heartbeat") and r["status"] == "200" and r["ts"] >= t0
        for r in rx.state()["request_log"]), timeout=2 * LONG, daemon=d)
    while True:
        wait_delivered(gw, rx, d, timeout=2 * LONG)
        n = len(gw.events())
        time.sleep(1.5)
        if len(gw.events()) == n and gw.outbox() == 0:
            break
    assert d.stop() == 0, d.log_text()
    final = ledger_check(gw.ledger)
    assert_kept(committed, final)
    stored = assert_exactly_once(gw, rx)
    assert len(stored) == len(final)
    per_hazard = {}
    for e in rx.events(arrival=True):
        per_hazard.setdefault(e["hazard_id"], []).append(e["seq"])
    for hid, seqs in per_hazard.items():
        assert seqs == sorted(seqs), f"{hid}: the platform got its events out of order: {seqs}"
    return final


def test_crash_loop(gw, platform, sims, broker, daemon_factory, pki):
    """SIGKILL at random moments, 100 times (FIREGW_LONG: 500), while four Modbus smoke
    modules and three MQTT smoke alarms keep raising and clearing; the platform now and then
    fails (503, slow, reset, garbage) for a couple of requests."""
    kills = 500 if long_mode() else 100
    rng = random.Random(SEED)
    rx = platform()
    sim = sims("20-23")
    write_site(gw, rx, pki, sim, broker)
    scenario = Scenario(sim, broker, SEED).start()
    committed = {}
    t0 = time.monotonic()
    try:
        for i in range(kills):
            if i % 10 == 5:
                rx.set_fail(rng.choice(["503", "slow", "reset", "garbage"]), count=2,
                            delay=0.5)
            d = daemon_factory(gw.conf, name=f"firegw-{i}").start(timeout=LONG)
            time.sleep(rng.uniform(0.0, 0.6))
            kill(d)
            now = ledger_check(gw.ledger)
            assert_kept(committed, now)
            committed = now
    finally:
        scenario.stop()
    final = settle_and_check(gw, rx, daemon_factory, scenario, committed)
    print(f"crash loop: {kills} kills survived in {time.monotonic() - t0:.0f} s, "
          f"{scenario.changes} detector changes, {len(final)} events checked, seed {SEED}")
    assert len(final) > kills / 2  # the scenario really raised alarms meanwhile


# ---- kills and errors at exact points: strace fault injection on fdatasync ----

STRACE = shutil.which("strace")


def child_pid(pid):
    """The one child of a process (firegw under its strace), or None."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            kids = f.read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def strace_wrapper(tmp_path, inject):
    """A firegw that runs under `strace -f -e inject=fdatasync:INJECT`; its trace (fdatasync
    calls only) goes to tmp_path/strace.out."""
    import conftest
    w = tmp_path / "firegw-strace"
    # LeakSanitizer cannot run under ptrace; a sanitized build keeps its other checks.
    w.write_text("#!/bin/sh\n"
                 'export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"\n'
                 f'exec {STRACE} -f -qq -o "{tmp_path}/strace.out" -e trace=fdatasync,fsync '
                 f'-e inject=fdatasync:{inject} "{conftest.FIREGW}" "$@"\n', encoding="utf-8")
    w.chmod(0o755)
    return w


def run_injected(monkeypatch, tmp_path, gw, daemon_factory, inject, name, wait_for=None,
                 limit=8.0):
    """Runs firegw under strace with one injection; returns the Daemon after it has exited
    (killed by the injection, or stopped by us once `wait_for` held or `limit` passed)."""
    import conftest
    monkeypatch.setattr(conftest, "FIREGW", strace_wrapper(tmp_path, inject))
    trace = tmp_path / "strace.out"
    trace.unlink(missing_ok=True)
    d = daemon_factory(gw.conf, name=name).start(wait_ready=False)
    monkeypatch.undo()
    deadline = time.monotonic() + limit
    while d.alive() and time.monotonic() < deadline:
        if wait_for and wait_for(d, trace):
            break
        time.sleep(0.05)
    if d.alive():
        kid = child_pid(d.pid)
        if kid:
            os.kill(kid, signal.SIGTERM)
    d.wait_exit(timeout=LONG)
    d.close()
    return d


def injected(trace):
    try:
        return "INJECTED" in trace.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return False


@pytest.fixture
def loaded_site(gw, platform, sims, broker, pki):
    """A site with alarms flowing (the scenario running) and the platform up."""
    rx = platform()
    sim = sims("20-23")
    write_site(gw, rx, pki, sim, broker)
    scenario = Scenario(sim, broker, SEED).start()
    yield rx, scenario
    scenario.stop()


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (scripts/install-deps)")
@pytest.mark.alone
def test_kill_at_each_fdatasync(gw, loaded_site, daemon_factory, monkeypatch, tmp_path):
    """SIGKILL delivered by strace at the Nth fdatasync (the commit's own sync, or a
    checkpoint's), N swept over 1..30 (FIREGW_LONG: 1..150); the same checks as the crash
    loop after every kill."""
    rx, scenario = loaded_site
    top = 150 if long_mode() else 30
    committed, hit = {}, 0
    for n in range(1, top + 1):
        d = run_injected(monkeypatch, tmp_path, gw, daemon_factory,
                         f"signal=KILL:when={n}", f"firegw-kill-at-{n}")
        if d.returncode == -signal.SIGKILL:
            hit += 1
        else:  # ran out of time before its Nth fdatasync: stopped cleanly instead
            assert d.returncode == 0, f"{d.name} exited {d.returncode}\n{d.log_text()}"
        if gw.ledger.exists():
            now = ledger_check(gw.ledger)
            assert_kept(committed, now)
            committed = now
    scenario.stop()
    final = settle_and_check(gw, rx, daemon_factory, scenario, committed)
    print(f"kill at fdatasync 1..{top}: {hit} killed there, {len(final)} events checked")
    assert hit >= top * 2 // 3


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (scripts/install-deps)")
@pytest.mark.alone
def test_eio_on_fdatasync(gw, loaded_site, daemon_factory, monkeypatch, tmp_path):
    """fdatasync fails with EIO once, at the Nth call: the commit is not taken as done (the
    log says so), firegw retries or exits non-zero for systemd to restart it; either way,
    after a restart nothing committed is lost and the platform has every event once."""
    rx, scenario = loaded_site
    committed = {}
    seen_failure = 0
    for n in (1, 2, 3, 5, 8, 13, 21, 34) if not long_mode() else range(1, 100):
        after = {}

        def settled(d, trace):
            if not injected(trace):
                return False
            after.setdefault("t", time.monotonic())
            return time.monotonic() - after["t"] > 2.5  # a retry (1 s) and a commit after it

        d = run_injected(monkeypatch, tmp_path, gw, daemon_factory, f"error=EIO:when={n}",
                         f"firegw-eio-at-{n}", wait_for=settled, limit=15)
        assert d.returncode != -signal.SIGKILL
        assert d.returncode >= 0, f"{d.name} crashed ({d.returncode})\n{d.log_text()}"
        log = "\n".join(d.lines)
        if d.returncode != 0:
            # It gave up: it said why, and exited for systemd to restart it.
            assert "<3>" in log or "<2>" in log, d.log_text()
        if "disk I/O error" in log:
            seen_failure += 1
        said = [x for x in d.lines if x.startswith(("<2>", "<3>", "<4>")) and "mqtt" not in x]
        print(f"EIO at fdatasync {n}: exit {d.returncode}; {said[:2]}")
        if gw.ledger.exists():
            now = ledger_check(gw.ledger)
            assert_kept(committed, now)
            committed = now
    scenario.stop()
    final = settle_and_check(gw, rx, daemon_factory, scenario, committed)
    print(f"EIO at fdatasync: {seen_failure} failed commit(s) logged, "
          f"{len(final)} events checked")
    assert seen_failure >= 1


# ---- disk full ----


@pytest.fixture
def small_disk(gw):
    """gw.data on a tmpfs of 8 MiB that the test mounts and always unmounts (needs the right
    to mount: root, as in CI's container; otherwise the test is skipped and says why)."""
    yield from small_tmpfs(gw.data)


def fill(path):
    """Writes path until the filesystem is full; returns the bytes written."""
    n = 0
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(chunk)
            except OSError as e:
                if e.errno != 28:  # ENOSPC
                    raise
                if len(chunk) > 512:
                    chunk = chunk[:len(chunk) // 2]  # the last few pages too
                    continue
                return n


def ctl_status(sock):
    r = subprocess.run([str(BUILD_ROOT / "firegwctl"), "-s", str(sock), "--json", "status"],
                       capture_output=True, text=True, timeout=LONG)
    assert r.returncode == 0, f"firegwctl status: {r.returncode} {r.stderr}"
    return json.loads(r.stdout)


def ctl_table(sock):
    r = subprocess.run([str(BUILD_ROOT / "firegwctl"), "-s", str(sock), "status"],
                       capture_output=True, text=True, timeout=LONG)
    assert r.returncode == 0, f"firegwctl status: {r.returncode} {r.stderr}"
    return r.stdout


def heartbeat_ledger(rx, since):
    """The `ledger` objects of the heartbeats the platform took after `since` (a time)."""
    return [h["body"].get("ledger") for h in rx.heartbeats()
            if datetime.fromisoformat(h["received_at"].replace("Z", "+00:00")).timestamp()
            >= since]


def test_disk_full(gw, small_disk, platform, sims, broker, pki, daemon_factory, tmp_path):
    """The data directory's filesystem fills up while alarms flow: firegw keeps running,
    says so in its log, its status (ledger.ok false, with the error, since when and the
    failed commits; `firegwctl status` says NOT RECORDING) and its heartbeat at the platform;
    keeps every event it had committed, and resumes by itself when space returns: ledger.ok
    true again, the detectors' last states reach the ledger and the platform, exactly
    once."""
    rx = platform()
    sim = sims("20-23")
    sock = write_site(gw, rx, pki, sim, broker)
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write('platform {\n  heartbeat = "1s"\n}\n')  # merged into the platform section
    d = daemon_factory(gw.conf, name="firegw-diskfull").start(timeout=LONG)
    st = ctl_status(sock)
    assert st["ledger"]["ok"] is True and st["ledger"]["failed_commits"] == 0, st["ledger"]
    scenario = Scenario(sim, broker, SEED).start()
    try:
        wait_until("a few events committed", lambda: len(ledger_check(gw.ledger)) >= 5,
                   daemon=d)
        mark = d.mark()
        filler = small_disk / "filler"
        t_full = time.time()
        fill(filler)
        d.wait_log(r"disk full|database or disk is full", since=mark, timeout=LONG)
        before = ledger_check(gw.ledger)
        time.sleep(2)  # alarms keep coming against a full disk
        assert d.alive(), d.log_text()
        st = ctl_status(sock)
        assert st["disk_free_bytes"] < 1 << 20, st
        lg = st["ledger"]
        assert lg["ok"] is False, lg
        assert "disk full" in lg["error"] and lg["failed_commits"] >= 1 and lg["since"], lg
        assert "NOT RECORDING since" in ctl_table(sock)
        wait_until("a heartbeat at the platform saying the ledger fails", lambda: any(
            x and x["ok"] is False and "disk full" in x["error"]
            for x in heartbeat_ledger(rx, t_full)), daemon=d)
        wait_until("systemd's STATUS saying hazards are not recorded", lambda: any(
            "STATUS=NOT RECORDING: disk full" in n for n in d.notes), daemon=d)
        assert_kept(before, ledger_check(gw.ledger))
    finally:
        scenario.stop()
    mark = d.mark()
    t_back = time.time()
    filler.unlink()
    # The ledger's own recovery (the uplink or MQTT may log theirs first: not this one).
    d.wait_log(r"ledger commit: recovered after \d+ repeated failure", since=mark, timeout=LONG)
    lg = ctl_status(sock)["ledger"]
    assert lg["ok"] is True and lg["error"] is None and lg["since"] is None, lg
    assert lg["failed_commits"] >= 1, lg
    wait_until("a heartbeat at the platform saying the ledger records again", lambda: any(
        x and x["ok"] is True for x in heartbeat_ledger(rx, t_back + 0.5)), daemon=d)
    wait_until("every detector's last state in the ledger",
               lambda: final_state_held(gw, scenario.state), daemon=d)
    wait_delivered(gw, rx, d, timeout=2 * LONG)
    assert d.stop() == 0, d.log_text()
    final = ledger_check(gw.ledger)
    assert_kept(before, final)
    assert_exactly_once(gw, rx)
    print(f"disk full: {len(before)} events kept through it, {len(final)} after, "
          f"{scenario.changes} detector changes")


# ---- MQTT: a QoS 1 alarm acknowledged to the broker before the ledger has it ----


class KillAtFirstWrite:
    """firegw on `conf`, killed by strace at its first ledger write (pwrite64) after it sat
    idle and connected (the log line `connected`): a first run makes the ledger and the
    broker session, a traced run counts the writes of a start, and a second traced run gets
    SIGKILL at the write after those. start() returns once that run is connected; the test
    then sends what should be committed, and landed() says whether the kill fell on a write
    to the ledger (else the test is skipped)."""

    def __init__(self, tmp_path, monkeypatch, daemon_factory, conf, connected):
        self.tmp, self.mp, self.factory = tmp_path, monkeypatch, daemon_factory
        self.conf, self.connected = conf, connected

    def _traced(self, inject, name):
        import conftest
        w = self.tmp / "firegw-strace"
        w.write_text("#!/bin/sh\n"
                     'export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"\n'
                     f'exec {STRACE} -f -qq -y -o "{self.tmp}/strace.out" -e trace=pwrite64 '
                     f'{inject} "{conftest.FIREGW}" "$@"\n', encoding="utf-8")
        w.chmod(0o755)
        self.mp.setattr(conftest, "FIREGW", w)
        d = self.factory(self.conf, name=name).start(timeout=LONG)
        self.mp.undo()
        d.wait_log(self.connected, timeout=LONG)
        return d

    def start(self):
        d = self.factory(self.conf, name="firegw-setup").start(timeout=LONG)
        d.wait_log(self.connected, timeout=LONG)
        assert d.stop() == 0
        # How many ledger writes a start makes before it sits idle, connected.
        d = self._traced("", "firegw-count")
        time.sleep(1.5)
        idle = (self.tmp / "strace.out").read_text().count("pwrite64(")
        os.kill(child_pid(d.pid), signal.SIGTERM)
        d.wait_exit(timeout=LONG)
        self.d = self._traced(f"-e inject=pwrite64:signal=KILL:when={idle + 1}",
                              "firegw-killed")
        time.sleep(1.5)
        return self.d

    def landed(self):
        assert self.d.wait_exit(timeout=LONG) == -signal.SIGKILL, self.d.log_text()
        writes = [x for x in (self.tmp / "strace.out").read_text().splitlines()
                  if "pwrite64(" in x]
        return bool(writes and "ledger.db-wal>" in writes[-1] and writes[-1].endswith("= ?"))


def _site(tmp_path, gateway, body):
    import conftest
    conf = tmp_path / "firegw.conf"
    conf.write_text(f'gateway {{\n  id = "{gateway}"\n  data_dir = "{tmp_path / "data"}"\n'
                    f'  profile_dir = "{conftest.PROFILES}"\n'
                    f'  control_socket = "{tempfile.mkdtemp(prefix="fgw-")}/ctl"\n}}\n' + body,
                    encoding="utf-8")
    return conf


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (scripts/install-deps)")
@pytest.mark.alone
def test_mqtt_alarm_survives_kill_before_commit(tmp_path, broker, daemon_factory, monkeypatch):
    """A smoke alarm arrives at QoS 1; firegw is killed at the first ledger write after it
    (strace: SIGKILL at that pwrite64), i.e. after firegw took the message and before the
    ledger has it. After a restart the alarm must be in the ledger: the broker redelivers it,
    because firegw holds the PUBACK until the commit."""
    conf = _site(tmp_path, "MQ-0001",
                 f'mqtt {{\n  host = "127.0.0.1"\n  port = {broker.port}\n'
                 '  keepalive = "10s"\n}\n'
                 'device "mq-K1" {\n  key = "K1"\n  profile = "smoke-codes"\n'
                 '  location = "room 1"\n  heartbeat_timeout = "30m"\n}\n')
    connected = r"<5>mqtt: connected to 127\.0\.0\.1"
    k = KillAtFirstWrite(tmp_path, monkeypatch, daemon_factory, conf, connected)
    d = k.start()
    broker.publish("smoke/K1/event", json.dumps({"code": 1, "ts": int(time.time())}))
    if not (k.landed() and any("raised: fire_alarm" in x for x in d.lines)):
        pytest.skip("the kill did not land on the alarm's ledger write")
    # Restarted, with the broker up all along: the alarm is there.
    d = daemon_factory(conf, name="firegw-after").start(timeout=LONG)
    d.wait_log(connected, timeout=LONG)
    wait_until("the fire alarm in the ledger", lambda: ledger_query(
        tmp_path / "data" / "ledger.db", "SELECT count(*) FROM hazards WHERE device = 'mq-K1' "
        "AND kind = 'fire_alarm'")[0][0] == 1, timeout=10, daemon=d)
    assert d.stop() == 0


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (scripts/install-deps)")
@pytest.mark.alone
def test_mqtt_command_survives_kill_before_commit(tmp_path, broker, daemon_factory,
                                                  monkeypatch):
    """Platform transport mqtt: a command arrives at QoS 1 and firegw is killed at the first
    ledger write after it (the transaction that applies it). After a restart the command is
    applied, once: the broker sends it again because firegw had not acknowledged it."""
    conf = _site(tmp_path, "MQ-0002",
                 'platform {\n  transport = "mqtt"\n'
                 f'  url = "mqtt://127.0.0.1:{broker.port}"\n'
                 '  topic_prefix = "county/zw/"\n  heartbeat = "1h"\n}\n')
    connected = r"<5>platform uplink: connected to 127\.0\.0\.1"
    k = KillAtFirstWrite(tmp_path, monkeypatch, daemon_factory, conf, connected)
    k.start()
    cmd = {"id": "cmd-k", "type": "hazard.acknowledge", "hazard_id": "no-such-item"}
    broker.publish("county/zw/MQ-0002/commands", json.dumps(cmd))
    if not k.landed():
        pytest.skip("the kill did not land on the command's ledger write")
    ledger = tmp_path / "data" / "ledger.db"
    assert ledger_query(ledger, "SELECT count(*) FROM commands")[0][0] == 0
    d = daemon_factory(conf, name="firegw-after").start(timeout=LONG)
    d.wait_log(connected, timeout=LONG)
    wait_until("the command applied", lambda: ledger_query(
        ledger, "SELECT id, ok, reason FROM commands") == [("cmd-k", 0, "unknown hazard")],
        timeout=10, daemon=d)
    assert d.stop() == 0
