# SPDX-License-Identifier: MIT
"""Helpers for the reliability tests (tests/integration/test_reliability.py): a site that
raises and clears alarms on Modbus and MQTT detectors, and the ledger checks made after every
kill. Imported with tests/reliability on sys.path."""

import atexit
import json
import os
import random
import shutil
import sqlite3
import tempfile
import threading
import time

GATEWAY = "UP-0001"
MODBUS_UNITS = (20, 21, 22, 23)
MQTT_KEYS = ("K1", "K2", "K3")


def long_mode():
    return os.environ.get("FIREGW_LONG", "") not in ("", "0")


def site_extra(sim_port, broker_port):
    """Config appended to a Gw.write() config: more Modbus smoke modules on the simulator
    (unit 20 is Gw's smoke-1), an MQTT broker and smoke alarms that speak event codes."""
    text = ""
    for u in MODBUS_UNITS[1:]:
        text += (f'device "smoke-{u}" {{\n  bus = "sim"\n  unit = {u}\n'
                 '  profile = "smoke-modbus"\n  location = "corridor"\n'
                 '  interval = "100ms"\n  timeout = "500ms"\n}\n')
    text += (f'mqtt {{\n  host = "127.0.0.1"\n  port = {broker_port}\n'
             '  keepalive = "10s"\n}\n')
    for k in MQTT_KEYS:
        text += (f'device "mq-{k}" {{\n  key = "{k}"\n  profile = "smoke-codes"\n'
                 f'  location = "room {k}"\n  heartbeat_timeout = "30m"\n}}\n')
    return text


class Scenario:
    """A thread that keeps raising and clearing fire alarms: Modbus alarm registers on the
    simulator, and MQTT smoke alarms published at QoS 1 (codes 1 alarm, 7 normal). The last
    state set for every device is remembered (what the ledger must end with)."""

    def __init__(self, sim, broker, seed):
        self.sim, self.broker = sim, broker
        self.rng = random.Random(seed)
        self.state = {}           # device id -> True (alarm) / False
        self.changes = 0
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scenario", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "the scenario thread did not stop"
        assert not self.errors, f"scenario failed: {self.errors}"

    def _run(self):
        try:
            while not self._stop.is_set():
                self.step()
                self._stop.wait(self.rng.uniform(0.02, 0.15))
        except Exception as e:  # reported by stop()
            self.errors.append(repr(e))

    def step(self):
        if self.rng.random() < 0.6:
            u = self.rng.choice(MODBUS_UNITS)
            dev = "smoke-1" if u == 20 else f"smoke-{u}"
            on = not self.state.get(dev, False)
            self.sim.set(u, "input", 0, 1 if on else 0)
        else:
            k = self.rng.choice(MQTT_KEYS)
            dev = f"mq-{k}"
            on = not self.state.get(dev, False)
            self.broker.publish(f"smoke/{k}/event",
                                json.dumps({"code": 1 if on else 7, "ts": int(time.time())}))
        self.state[dev] = on
        self.changes += 1


def ledger_check(path):
    """What is checked with the daemon dead, on the ledger opened read-only: integrity_check
    ok, event seq strictly increasing, none repeated or skipped, sqlite_sequence not behind
    max(seq), no outbox row without its event. Returns
    {event_id: (seq, hazard_id, type)}.

    After a kill the WAL may need recovery, which a read-only connection cannot do; the check
    then runs on a copy of the database and its WAL (what the next start will recover), and
    the ledger itself is never written by the test."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        con.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.OperationalError:
        con.close()
        tmp = tempfile.mkdtemp(prefix="ledger-copy-")
        for suffix in ("", "-wal"):
            if os.path.exists(f"{path}{suffix}"):
                shutil.copyfile(f"{path}{suffix}", os.path.join(tmp, "ledger.db" + suffix))
        con = sqlite3.connect(os.path.join(tmp, "ledger.db"), timeout=10)
        atexit.register(shutil.rmtree, tmp, True)
    try:
        ic = con.execute("PRAGMA integrity_check").fetchall()
        assert ic == [("ok",)], f"integrity_check: {ic}"
        tables = {t for t, in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "events" not in tables:
            return {}  # killed before the schema's first commit: nothing was committed yet
        rows = con.execute("SELECT seq, event_id, hazard_id, type FROM events "
                           "ORDER BY rowid").fetchall()
        seqs = [r[0] for r in rows]
        assert seqs == sorted(set(seqs)), "event seq not strictly increasing"
        # None skipped either: events are append-only and a rolled-back seq is reused.
        assert seqs == list(range(1, len(seqs) + 1)), \
            f"event seq skipped: {sorted(set(range(1, seqs[-1] + 1)) - set(seqs))[:10]}"
        seqtab = dict(con.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
        if seqs:
            assert seqtab.get("events", 0) >= seqs[-1], \
                f"sqlite_sequence {seqtab.get('events')} behind max(seq) {seqs[-1]}"
        # Every event still waiting is in the outbox; none is in both outbox and nowhere.
        orphan = con.execute("SELECT count(*) FROM outbox o WHERE o.lane = 0 AND NOT EXISTS "
                             "(SELECT 1 FROM events e WHERE e.seq = o.seq)").fetchone()[0]
        assert orphan == 0, f"{orphan} outbox row(s) without their event"
        return {e: (s, h, t) for s, e, h, t in rows}
    finally:
        con.close()


def assert_kept(before, after):
    """Nothing committed before a kill is gone or changed after it."""
    lost = set(before) - set(after)
    assert not lost, f"committed events lost: {[before[e] for e in sorted(lost)][:10]}"
    changed = [e for e in before if after[e] != before[e]]
    assert not changed, f"committed events changed: {changed[:10]}"
