# SPDX-License-Identifier: MIT
"""The fleet scenario of bench/run (issue 8): N firegw processes against one platform receiver,
the platform down for a while and then back on the same port. What it measures: the time from
the platform's return until every gateway's backlog is drained, the requests per second that
hit the receiver when it comes back (the uplink backoff's full jitter should spread the herd),
the fleet's memory and the machine's load. Imported by bench/run, which prints the figures.

Each gateway is a real firegw with its own gateway id, data dir, control socket and config,
one MQTT smoke alarm (its own key) on one shared mosquitto, and the HTTPS uplink with the
default platform settings (heartbeat 60 s, backoff_max 5 min). The alarms: during the outage
each gateway's smoke alarm goes alarm, normal, alarm (3 hazard events) at random times.
The mqtt group measures one firegw's MQTT ingest; here MQTT is only the cheapest real source
of hazard events (a Modbus device would be polled all along, `firegwctl test` raises test
items, not fire alarms).
FLEET_KEEP=DIR in the environment keeps every gateway's config, ledger and log (and the
platform's database) in DIR instead of a temporary directory. How to read the figures:
docs/performance.md."""
import json
import os
import random
import re
import socket
import sqlite3
import ssl
import subprocess
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent
RECEIVER = SRC / "tests" / "platform" / "receiver.py"
HEARTBEAT_S = 60.0     # firegw's default platform heartbeat (the fleet runs the defaults)
BACKOFF_MAX_S = 300.0  # firegw's default backoff_max
MESSAGES = (b'{"code": 1}', b'{"code": 7}', b'{"code": 1}')  # alarm, normal, alarm


class Receiver:
    """tests/platform/receiver.py as a process of its own (HTTPS, bodies not stored). Started
    again with port= the same port and the same database, it is the platform coming back."""

    def __init__(self, pki, token, db, port=0):
        self.pki = pki
        self.p = subprocess.Popen(["/usr/bin/python3", str(RECEIVER), "--port", str(port),
                                   "--db", str(db), "--tls-cert", str(pki.cert), "--tls-key",
                                   str(pki.key), "--token", token, "--base", "/api",
                                   "--no-bodies"], stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        self.up = time.time()
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"the platform receiver did not start on port {port}")
        self.port = int(line.split()[1])
        self.url = f"https://127.0.0.1:{self.port}/api"

    def control(self, what, body=None):
        ctx = ssl.create_default_context(cafile=str(self.pki.ca))
        req = urllib.request.Request(self.url + "/control/" + what,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=60) as r:
            return json.loads(r.read())

    def state(self):
        return self.control("state")

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Gateway:
    """One firegw of the fleet; its log goes to DIR/firegw.log."""

    def __init__(self, build, d, gid, key, mqtt_port, url, pki):
        self.dir, self.gid, self.key = d, gid, key
        d.mkdir()
        self.control = d / "control"
        # Its own copy of the smoke-codes profile subscribed to its own device's topic only: on
        # the shared broker each gateway would otherwise receive every gateway's messages (N^2
        # deliveries, a cost a real fleet with a broker or concentrator per site does not have).
        (d / "profiles").mkdir()
        prof = (SRC / "config" / "profiles" / "smoke-codes.conf").read_text()
        own = prof.replace('subscribe = {"smoke/+/event"}', f'subscribe = {{"smoke/{key}/event"}}')
        if own == prof:
            raise RuntimeError("fleet: the smoke-codes profile no longer subscribes to "
                               "smoke/+/event; update bench/fleet.py")
        (d / "profiles" / "smoke-codes.conf").write_text(own)
        conf = d / "firegw.conf"
        conf.write_text(
            f'gateway {{\n  id = "{gid}"\n  data_dir = "{d}/data"\n'
            f'  profile_dir = "{d}/profiles"\n  log_level = "notice"\n'
            f'  control_socket = "{self.control}"\n}}\n'
            f'mqtt {{\n  port = {mqtt_port}\n}}\n'
            f'device "s1" {{\n  key = "{key}"\n  profile = "smoke-codes"\n}}\n'
            f'platform {{\n  url = "{url}"\n  token_file = "{pki.token}"\n'
            f'  ca_file = "{pki.ca}"\n}}\n')
        self.log = d / "firegw.log"
        with open(self.log, "w") as log:
            self.p = subprocess.Popen([str(build / "firegw"), "-f", "-c", str(conf)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=log)
        self.started = time.time()

    def ready(self):
        return " ready: " in self.log.read_text(errors="replace")

    def status(self, timeout=10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(str(self.control))
            s.sendall(b'{"cmd": "status"}\n')
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        return json.loads(buf)

    def proc(self, name):
        return Path(f"/proc/{self.p.pid}/{name}").read_text()


def wait_for(fn, timeout, what, step=0.2):
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r:
            return r
        if time.monotonic() > deadline:
            raise RuntimeError(f"fleet: {what}: not within {timeout:.0f} s")
        time.sleep(step)


def iso_ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def kb(text, key):
    m = re.search(rf"^{key}:\s+(\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def cpu_s(gw):
    fields = gw.proc("stat").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def pctl(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def run(build, pki, token, broker_cls, n, down, stagger, outage="refused", log=print):
    """The scenario, once. outage: "refused" (the receiver stopped: connections refused) or
    "503" (it answers every platform request 503, no Retry-After). Returns a dict of figures
    (see the end)."""
    import tempfile
    import paho.mqtt.client as paho
    with tempfile.TemporaryDirectory(prefix="fleet-") as t:
        tmp = Path(os.environ.get("FLEET_KEEP") or t)  # FLEET_KEEP=DIR: keep the logs there
        tmp.mkdir(exist_ok=True)
        db = tmp / "platform.db"
        broker = broker_cls(tmp)
        rx = Receiver(pki, token, db)
        fleet, pub = [], None
        try:
            # The fleet comes up while the platform is up: stagger > 0 spreads the starts (and
            # so the heartbeats' phases) at random over that many seconds, as gateways booted
            # at unrelated times; 0 starts them as fast as they come, as after a power cut.
            log(f"fleet: starting {n} gateways over {stagger:.0f} s")
            offsets = sorted(random.uniform(0, stagger) for _ in range(n))
            t0 = time.monotonic()
            for i, off in enumerate(offsets):
                while time.monotonic() - t0 < off:
                    time.sleep(min(0.05, off - (time.monotonic() - t0)))
                fleet.append(Gateway(build, tmp / f"g{i + 1:03d}", f"FLEET-{i + 1:03d}",
                                     f"K{i + 1:03d}", broker.port, rx.url, pki))
            wait_for(lambda: all(g.ready() for g in fleet), 120, "every gateway READY", 0.5)
            # The first heartbeat goes at start: the platform has heard every gateway.
            ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
            q = lambda sql, p=(): ro.execute(sql, p).fetchall()
            wait_for(lambda: q("SELECT count(DISTINCT gateway) FROM heartbeats")[0][0] >= n, 120,
                     "a heartbeat from every gateway", 0.5)
            wait_for(lambda: all(g.status()["mqtt"]["connected"] for g in fleet), 60,
                     "every gateway subscribed at the broker", 0.5)
            pub = paho.Client()
            pub.connect("127.0.0.1", broker.port)
            pub.loop_start()
            time.sleep(1.0)

            # The outage: the receiver stops (connections refused) or answers 503; the alarms come.
            if outage == "refused":
                rx.stop()
            else:
                rx.control("fail", {"mode": "503"})
            t_down = time.time()
            load_down = os.getloadavg()[0]
            cpu_down = sum(cpu_s(g) for g in fleet)
            log(f"fleet: platform down for {down:.0f} s; alarms arriving")
            plan = []
            for g in fleet:
                at = sorted(random.uniform(0.05 * down, 0.75 * down) for _ in MESSAGES)
                plan += [(a, g.key, m) for a, m in zip(at, MESSAGES)]
            plan.sort()
            infos = []
            for at, key, body in plan:
                while time.time() - t_down < at:
                    time.sleep(min(0.05, max(0.0, at - (time.time() - t_down))))
                infos.append(pub.publish(f"smoke/{key}/event", body, qos=1))
            for info in infos:
                info.wait_for_publish(30)
            while time.time() - t_down < down - 2.0:
                time.sleep(0.1)
            # Each gateway's own account of its backoff, just before the platform returns.
            snap = {}
            for g in fleet:
                st = g.status()
                snap[g.gid] = (time.time(), st["platform"], st["outbox"]["alarm"])
            while time.time() - t_down < down:
                time.sleep(0.01)
            cpu_up = sum(cpu_s(g) for g in fleet)
            dead = [(g.gid, g.p.returncode) for g in fleet if g.p.poll() is not None]
            if dead:
                raise RuntimeError(f"fleet: gateways exited during the outage (id, exit "
                                   f"status): {dead}; their logs: {tmp}/gNNN/firegw.log "
                                   f"(FLEET_KEEP=DIR keeps them)")

            # The platform comes back on the same port, with the same database.
            busy0 = machine_busy()
            if outage == "refused":
                rx = Receiver(pki, token, db, port=rx.port)
                t_up = rx.up
            else:
                rx.control("fail", {"mode": "none"})
                t_up = time.time()
            load_up = os.getloadavg()[0]
            log("fleet: platform up; waiting for every outbox to empty")
            done = {}
            deadline = time.monotonic() + BACKOFF_MAX_S + HEARTBEAT_S + 120
            while len(done) < n:
                for g in fleet:
                    if g.gid in done:
                        continue
                    if g.p.poll() is not None:
                        raise RuntimeError(f"fleet: {g.gid} exited with {g.p.returncode} after "
                                           f"the platform's return; its log: {g.log} "
                                           f"(FLEET_KEEP=DIR keeps it)")
                    ob = g.status()["outbox"]
                    if ob["alarm"] == 0 and ob["telemetry"] == 0:
                        done[g.gid] = time.time()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"fleet: {n - len(done)} gateways still have a backlog "
                                       f"{time.time() - t_up:.0f} s after the platform's return")
                if len(done) < n:
                    time.sleep(0.5)
            t_done = max(done.values())
            busy1 = machine_busy()
            cpu_end = sum(cpu_s(g) for g in fleet)
            f = Path(f"/proc/{rx.p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            rx_cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
            load_end = os.getloadavg()[0]
            rss = sum(kb(g.proc("status"), "VmRSS") for g in fleet)
            hwm = sum(kb(g.proc("status"), "VmHWM") for g in fleet)
            pss = sum(kb(g.proc("smaps_rollup"), "Pss") for g in fleet)
            time.sleep(1.0)
            state = rx.state()

            # What each gateway wrote and what the platform holds.
            want = {}
            for g in fleet:
                led = sqlite3.connect(f"file:{g.dir}/data/ledger.db?mode=ro", uri=True,
                                      timeout=30)
                want[g.gid] = {r[0] for r in led.execute("SELECT event_id FROM events")}
                led.close()
            got = {}
            for gw, eid in q("SELECT gateway, event_id FROM events"):
                got.setdefault(gw, set()).add(eid)
            lost = sum(len(want[k] - got.get(k, set())) for k in want)
            total = sum(len(v) for v in want.values())
            dup = q("SELECT COALESCE(sum(deliveries - 1), 0) FROM events")[0][0]
            last_ms = q("SELECT max(received_ms) FROM events")[0][0]
            first_ev = dict(q("SELECT gateway, min(received_ms) FROM events GROUP BY gateway"))
            hb_before, hb_after = {}, {}
            for gw, at in q("SELECT gateway, received_at FROM heartbeats ORDER BY num"):
                ts = iso_ts(at)
                if ts < t_down:
                    hb_before[gw] = ts
                elif gw not in hb_after:
                    hb_after[gw] = ts
        finally:
            if pub:
                pub.loop_stop()
                pub.disconnect()
            for g in fleet:
                if g.p.poll() is None:
                    g.p.terminate()
            for g in fleet:
                try:
                    g.p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    g.p.kill()
                    g.p.wait()
            rx.stop()
            broker.stop()

    # Requests at the receiver after its return, in 1-s buckets from the return.
    log_entries = [e for e in state["request_log"]
                   if e["path"] != "other" and e["arrived_ts"] >= t_up]
    span = max(30, int(t_done - t_up) + 1)
    buckets = [0] * span
    hb_buckets = [0] * span
    for e in log_entries:
        i = int(e["arrived_ts"] - t_up)
        if 0 <= i < span:
            buckets[i] += 1
            if e["path"].endswith("heartbeat"):
                hb_buckets[i] += 1
    statuses = {}
    for e in log_entries:
        statuses[e["status"]] = statuses.get(e["status"], 0) + 1

    # How each gateway came back: by its heartbeat (fixed phase, ends an unreachable
    # platform's backoff) or by the jittered retry of its events, whichever came first.
    by_hb, first = 0, []
    for g in fleet:
        ev = first_ev.get(g.gid, 0) / 1000.0 or float("inf")
        hb = hb_after.get(g.gid, float("inf"))
        first.append(min(ev, hb) - t_up)
        by_hb += hb <= ev
    retry_at = [s[0] + s[1].get("retry_in_s", 0) - t_up for s in snap.values()]
    failures = [s[1].get("failures_in_a_row", 0) for s in snap.values()]
    backlog = [s[2] for s in snap.values()]
    phases = sorted((hb_before[k] % HEARTBEAT_S) for k in hb_before)
    gaps = [b - a for a, b in zip(phases, phases[1:])] + (
        [phases[0] + HEARTBEAT_S - phases[-1]] if phases else [])
    return {
        "n": n, "down": down, "stagger": stagger, "outage": outage,
        "drain": last_ms / 1000.0 - t_up, "drain_polled": t_done - t_up,
        "peak10": max(buckets[:10]), "buckets": buckets, "hb_buckets": hb_buckets,
        "peak_all": max(buckets), "peak_at": buckets.index(max(buckets)),
        "requests": len(log_entries), "statuses": statuses,
        "events": total, "lost": lost, "duplicates": dup,
        "backlog_min": min(backlog), "backlog_max": max(backlog),
        "by_heartbeat": by_hb, "first_p50": pctl(first, 0.5), "first_p90": pctl(first, 0.9),
        "first_max": max(first),
        "retry_min": min(retry_at), "retry_p50": pctl(retry_at, 0.5), "retry_max": max(retry_at),
        "retry_10s": sum(0 <= r < 10 for r in retry_at),
        "fail_min": min(failures), "fail_max": max(failures),
        "hb_gap_max": max(gaps) if gaps else float("nan"),
        "hb_in_10s": max(sum(1 for p in phases if (p - s) % HEARTBEAT_S < 10) for s in phases)
        if phases else 0,
        "rss_mb": rss / 1024, "pss_mb": pss / 1024, "hwm_mb": hwm / 1024,
        "cpu_outage_pct": (cpu_up - cpu_down) / down * 100,
        "cpu_drain_s": cpu_end - cpu_up, "rx_cpu_s": rx_cpu,
        "machine_busy_pct": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]) * 100,
        "load_down": load_down, "load_up": load_up, "load_end": load_end,
    }
