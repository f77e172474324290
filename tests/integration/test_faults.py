# SPDX-License-Identifier: MIT
"""Network and peer faults (issue 7, part 4): a broker frozen with SIGSTOP (MQTT input, and
the MQTT uplink), firegw itself frozen past its MQTT keepalive and its HTTPS timeout, and a
platform host name that does not resolve.

What holds is what a user or the platform would check: firegw notices (log, `firegwctl
status`), comes back by itself, every alarm is in the ledger once (one item, one `raised`),
and every ledger event is stored by the platform once by event_id, with no burst of
duplicates after a freeze. Peers are the ones of test_uplink.py (the HTTPS receiver, the
detector simulator), mqtt_peers.py (mosquitto) and test_uplink_mqtt.py (the MQTT platform).

The DNS test runs firegw in a private mount namespace (`unshare --mount`, root) whose
/etc/resolv.conf names only 127.0.0.1 and whose /etc/hosts lacks the platform's name: no
query leaves the machine. A small DNS responder on 127.0.0.1:53 (when that port is free)
answers NXDOMAIN and counts the queries. The name resolves once the test adds it to that
hosts file ("DNS comes back").
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import conftest
from conftest import BUILD_ROOT, SOURCE_ROOT, ledger_query, wait_subscribed
from mqtt_peers import Broker
from test_uplink import (LONG, Gw, assert_exactly_once, pki, platform, requests,  # noqa: F401
                         wait_delivered, wait_until)
import test_uplink_mqtt as um

sys.path.insert(0, str(SOURCE_ROOT / "tests" / "reliability"))
from scenario import long_mode  # noqa: E402

KEEPALIVE_S = 5  # the shortest MQTT keepalive firegw accepts


@pytest.fixture
def gw(tmp_path):
    return Gw(tmp_path)


_STARTED = []


@pytest.fixture(autouse=True)
def _clean_exit():
    """Every firegw a test started (and did not kill) exits 0 when stopped."""
    _STARTED.clear()
    yield
    for d in _STARTED:
        if d.alive():
            d.proc.send_signal(signal.SIGCONT)  # a test that failed mid-freeze
        if d.returncode is None:
            d.close()
        assert d.returncode == 0, f"{d.name} exited with {d.returncode}\n{d.log_text()}"
    _STARTED.clear()


def start(daemon_factory, conf, name=None):
    d = daemon_factory(conf, name=name).start(timeout=LONG)
    _STARTED.append(d)
    return d


def control_socket(root):
    sock = root / "ctl"
    if len(str(sock)) > 100:  # AF_UNIX paths hold 107 bytes
        sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
    return sock


def ctl(sock, table=False):
    args = [str(BUILD_ROOT / "firegwctl"), "-s", str(sock)]
    args += ["status"] if table else ["--json", "status"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=LONG)
    assert r.returncode == 0, f"firegwctl status: {r.returncode} {r.stderr}"
    return r.stdout if table else json.loads(r.stdout)


KEYS = [f"F{n:02d}" for n in range(1, 13)]


def write_mqtt_site(gw, rx, pki, broker, keys=KEYS, dead=0, timeout="5s"):
    """Gw's site (HTTPS platform) with MQTT smoke alarms on `broker`, keepalive 5 s, and a
    control socket; returns the socket."""
    gw.write(rx.url, pki.ca(), dead=dead, timeout=timeout)
    sock = control_socket(gw.root)
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n'
                f'mqtt {{\n  host = "127.0.0.1"\n  port = {broker.port}\n'
                f'  keepalive = "{KEEPALIVE_S}s"\n}}\n')
        for k in keys:
            f.write(f'device "mq-{k}" {{\n  key = "{k}"\n  profile = "smoke-codes"\n'
                    f'  location = "room {k}"\n  heartbeat_timeout = "30m"\n}}\n')
    return sock


def alarm(broker, key):
    broker.publish(f"smoke/{key}/event", json.dumps({"code": 1, "ts": int(time.time())}))


def alarm_later(broker, key):
    """mosquitto_pub in the background: it waits while the broker is frozen."""
    return subprocess.Popen(["mosquitto_pub", *broker.pub_args(), "-q", "1", "-t",
                             f"smoke/{key}/event", "-m",
                             json.dumps({"code": 1, "ts": int(time.time())})],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def fire_alarms(gw):
    """{device: [(hazard id, occurrences, [event types])]} of the fire_alarm items."""
    out = {}
    for hid, dev, occ in ledger_query(gw.ledger, "SELECT id, device, occurrences FROM hazards "
                                      "WHERE kind = 'fire_alarm' ORDER BY num"):
        out.setdefault(dev, []).append((hid, occ, gw.types(hid)))
    return out


def assert_each_alarm_once(gw, keys):
    """Every key's alarm is one fire_alarm item, raised once, seen once."""
    got = fire_alarms(gw)
    assert sorted(got) == sorted(f"mq-{k}" for k in keys), got
    for dev, items in got.items():
        assert len(items) == 1, f"{dev}: more than one item: {items}"
        hid, occ, types = items[0]
        assert occ == 1, f"{dev}: {occ} occurrences"
        assert [t for t in types if t != "resync"] == ["raised"], f"{dev}: {types}"


def stop_procs(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=LONG)


# ---- 1. the broker frozen ----


def test_broker_frozen_mqtt_input(gw, platform, broker, daemon_factory, pki):
    """The broker is frozen (SIGSTOP) for longer than firegw's MQTT keepalive (5 s) while
    alarms come before, during (the publishers wait) and after: firegw finds the broker gone
    (log, status), reconnects to its persistent session once the broker runs again, and
    every alarm is in the ledger once and at the platform once."""
    rx = platform()
    sock = write_mqtt_site(gw, rx, pki, broker)
    d = start(daemon_factory, gw.conf)
    d.wait_log(r"<5>mqtt: connected to 127\.0\.0\.1", timeout=LONG)
    wait_subscribed(broker, d)
    for k in KEYS[:4]:
        alarm(broker, k)  # the broker has them; firegw may not yet
    mark = d.mark()
    waiting = []
    broker.proc.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        waiting = [alarm_later(broker, k) for k in KEYS[4:8]]
        d.wait_log(rf"<4>mqtt: 127\.0\.0\.1:{broker.port}: connection lost", since=mark,
                   timeout=LONG)
        noticed = time.monotonic() - t0
        st = ctl(sock)
        assert st["mqtt"]["connected"] is False, st["mqtt"]
        assert "broker not connected" in next(x["why"] for x in st["devices"]
                                               if x["id"] == "mq-F01")
        assert "mqtt broker   not connected" in ctl(sock, table=True)
        time.sleep(2)
    finally:
        broker.proc.send_signal(signal.SIGCONT)
    frozen = time.monotonic() - t0
    d.wait_log(r"<5>mqtt: connected to .* \(resumed session", since=mark, timeout=LONG)
    for p in waiting:
        assert p.wait(timeout=LONG) == 0, p.stderr.read()
    stop_procs(waiting)
    for k in KEYS[8:]:
        alarm(broker, k)
    wait_until("all 12 fire alarms in the ledger", lambda: len(fire_alarms(gw)) == 12,
               daemon=d)
    assert ctl(sock)["mqtt"]["connected"] is True
    wait_delivered(gw, rx, d)
    assert d.stop() == 0
    assert_each_alarm_once(gw, KEYS)
    assert_exactly_once(gw, rx)
    print(f"broker frozen {frozen:.1f} s; firegw noticed after {noticed:.1f} s; "
          f"{len(gw.events())} events, {rx.state()['deliveries']} deliveries")


@pytest.fixture
def mqtt_platform():
    made = []

    def make(b):
        p = um.Platform(b)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.mark.parametrize("freeze,keepalive", [(12, 60), (12, 5)] +
                         ([(130, 60)] if long_mode() else []))
def test_broker_frozen_mqtt_uplink(tmp_path, broker, mqtt_platform, sims, daemon_factory,
                                   freeze, keepalive):
    """Platform transport mqtt: the broker is frozen for 12 s while a fire alarm comes and
    goes; its events are published and wait for their PUBACK. With the uplink's keepalive
    at 60 s (the default) the connection outlives the freeze: after SIGCONT the PUBACKs come,
    the outbox empties, and the platform has every event once, none repeated. With keepalive
    5 s (and, FIREGW_LONG, frozen 130 s against 60 s), the freeze outlasts it: the uplink
    drops the connection, reconnects, publishes what had no PUBACK again; the platform has
    every event, a repeat only as the same event_id and body."""
    pf = mqtt_platform(broker)
    sim = sims("20")
    g = um.Gw(tmp_path)
    g.write(broker.port, dead=2, smoke_port=sim.port,
            extra_platform=f'  keepalive = "{keepalive}s"\n')
    d = start(daemon_factory, g.conf)
    d.wait_log(rf"<5>platform uplink: connected to 127\.0\.0\.1:{broker.port}", timeout=LONG)
    um.wait_until("two device_offline items", lambda: len(g.hazard_ids()) == 2, daemon=d)
    um.wait_delivered(g, pf, d)
    mark = d.mark()
    broker.proc.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        sim.set(20, "input", 0, 0b1)
        hid = d.wait_log(r"hazard (\S+) raised: fire_alarm", since=mark,
                         timeout=LONG).group(1)
        sim.set(20, "input", 0, 0)
        um.wait_until("a cleared event", lambda: "cleared" in g.types(hid), daemon=d)
        assert g.outbox() >= 2  # published, not acknowledged
        time.sleep(max(0.0, freeze - (time.monotonic() - t0)))
        assert g.outbox() >= 2
    finally:
        broker.proc.send_signal(signal.SIGCONT)
    um.wait_delivered(g, pf, d, timeout=2 * LONG)
    assert d.stop() == 0
    repeats = um.assert_delivered_in_order(g, pf)
    mine = [e["type"] for e in pf.first_deliveries() if e["hazard"]["id"] == hid]
    assert [t for t in mine if t != "resync"] == ["raised", "cleared"]
    lost = [x for x in d.log_since(mark) if "connection lost" in x]
    print(f"uplink: broker frozen {freeze} s, {len(g.events())} events, {repeats} repeated; "
          f"connection lost lines: {lost}")
    if freeze < keepalive:
        assert repeats == 0, "events published again although the connection held"
        assert not lost, lost
    else:
        assert lost, "the freeze outlasted the keepalive, but no connection loss was seen"


# ---- 2. firegw frozen ----


def test_firegw_frozen_past_keepalive_and_timeout(gw, platform, broker, daemon_factory, pki):
    """firegw is frozen (SIGSTOP) for longer than its MQTT keepalive (the broker drops it)
    and its HTTPS timeout (2 s; a request is in flight at the platform when it stops).
    Alarms published meanwhile wait at the broker in firegw's persistent session. After
    SIGCONT: those alarms arrive, each once in the ledger; the platform stores every event
    once, and only the batch that was in flight is delivered a second time (no burst)."""
    rx = platform()
    sock = write_mqtt_site(gw, rx, pki, broker, dead=2, timeout="2s")
    d = start(daemon_factory, gw.conf)
    d.wait_log(r"<5>mqtt: connected to 127\.0\.0\.1", timeout=LONG)
    wait_subscribed(broker, d)
    for k in KEYS[:3]:
        alarm(broker, k)
    wait_until("3 fire alarms", lambda: len(fire_alarms(gw)) == 3, daemon=d)
    wait_delivered(gw, rx, d)
    # A batch in flight when firegw stops: the platform takes 3 s over it.
    rx.set_fail("slow", count=1, delay=3.0, path="events")
    alarm(broker, KEYS[3])
    wait_until("a batch in flight", lambda: rx.state()["fail"]["mode"] == "none", daemon=d)
    mark = d.mark()
    d.proc.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        for k in KEYS[4:8]:
            alarm(broker, k)  # the broker sends them to a frozen firegw
        wait_until("the broker to drop the frozen firegw", lambda: any(
            "exceeded timeout" in x for x in broker.log_lines()), timeout=LONG)
        for k in KEYS[8:]:
            alarm(broker, k)  # queued in the session
        time.sleep(max(0.0, 2 * KEEPALIVE_S + 2 - (time.monotonic() - t0)))
    finally:
        d.proc.send_signal(signal.SIGCONT)
    frozen = time.monotonic() - t0
    n_before = len(requests(rx))
    d.wait_log(r"<5>mqtt: connected to .* \(resumed session", since=mark, timeout=LONG)
    wait_until("all 12 fire alarms in the ledger", lambda: len(fire_alarms(gw)) == 12,
               daemon=d)
    wait_delivered(gw, rx, d)
    # The ledger stands still: nothing more comes (a late duplicate would show here).
    time.sleep(2)
    wait_delivered(gw, rx, d)
    st = ctl(sock)
    assert st["mqtt"]["connected"] is True and st["ledger"]["ok"] is True
    assert d.stop() == 0
    assert_each_alarm_once(gw, KEYS)
    stored = assert_exactly_once(gw, rx)
    slow = [r for r in requests(rx) if r["fail"] == "slow"]
    assert len(slow) == 1, slow
    in_flight = set(slow[0]["event_ids"])
    again = {e["event_id"]: e["deliveries"] for e in stored if e["deliveries"] > 1}
    assert set(again) <= in_flight, f"delivered again, not in flight at the freeze: {again}"
    assert all(n <= 3 for n in again.values()), again  # a retry may time out once more
    after = requests(rx)[n_before:]
    print(f"firegw frozen {frozen:.1f} s; in flight {len(in_flight)} event(s), delivered "
          f"again {len(again)}; {len(after)} /v1/events request(s) after SIGCONT, "
          f"{len(stored)} events stored, {rx.state()['deliveries']} deliveries, "
          f"{rx.state()['heartbeats']} heartbeats")


# ---- 3. DNS failure for the platform host ----

HOST = "platform.example.invalid"  # the name in pki's "wrong-host" certificate
UNSHARE = shutil.which("unshare")


class DnsSink:
    """UDP on 127.0.0.1:53: counts the queries and answers each NXDOMAIN."""

    def __init__(self):
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def qname(q):
        labels, i = [], 12
        while i < len(q) and q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        return ".".join(labels)

    def _run(self):
        while not self._stop.is_set():
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(q) < 12:
                continue
            self.queries.append(self.qname(q))
            flags = 0x8000 | (q[2] & 0x79) << 8 | 0x80 | 3  # response, RD kept, RA, NXDOMAIN
            self.sock.sendto(q[:2] + flags.to_bytes(2, "big") + q[4:6] + b"\0" * 6 + q[12:],
                             peer)

    def close(self):
        self._stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def dns_sink():
    try:
        s = DnsSink()
    except OSError:
        yield None  # port 53 taken: the queries still stay on loopback, only uncounted
        return
    yield s
    s.close()


@pytest.mark.skipif(UNSHARE is None or os.geteuid() != 0,
                    reason="needs root and unshare(1) for a private mount namespace")
def test_platform_name_does_not_resolve(gw, platform, daemon_factory, pki, tmp_path,
                                        monkeypatch, dns_sink):
    """The platform url names a host that does not resolve: firegw runs on, logs the failure
    once (not per retry), status shows it, the events stay in the outbox; once the name
    resolves (added to the hosts file firegw sees), all of them arrive, each once."""
    rx = platform(cert="wrong-host")
    url = f"https://{HOST}:{rx.port}/api"
    gw.write(url, pki.ca(), dead=3, heartbeat="1s")
    sock = control_socket(gw.root)
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n')
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n")
    hosts = etc / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost\n")
    (etc / "nsswitch.conf").write_text("hosts: files dns\n")
    binds = " && ".join(f'mount --bind "{etc / n}" /etc/{n}'
                        for n in ("resolv.conf", "hosts", "nsswitch.conf"))
    wrapper = tmp_path / "firegw-netns"
    wrapper.write_text("#!/bin/sh\n"
                       f"exec {UNSHARE} --mount --propagation private sh -c "
                       f"'{binds} && exec \"$0\" \"$@\"' \"{conftest.FIREGW}\" \"$@\"\n",
                       encoding="utf-8")
    wrapper.chmod(0o755)
    monkeypatch.setattr(conftest, "FIREGW", wrapper)
    d = start(daemon_factory, gw.conf)
    monkeypatch.undo()
    says = rf"{HOST}:\d+/api/v1/events: Could not resolve host: {HOST.replace('.', '[.]')}"
    d.wait_log(rf"<4>platform uplink: https://{says}", timeout=LONG)
    wait_until("three device_offline items", lambda: len(gw.hazard_ids()) == 3, daemon=d)
    d.wait_log(r"<7>platform uplink: failure 6 in a row", timeout=LONG)
    st = ctl(sock)
    pl = st["platform"]
    assert pl["failures_in_a_row"] >= 1 and "Could not resolve host" in pl["last_error"], pl
    assert "Could not resolve host" in ctl(sock, table=True)
    assert gw.outbox() >= 3 and rx.state()["requests_total"] == 0
    said = [x for x in d.lines if "Could not resolve" in x and not x.startswith("<7>")]
    print("logged:", *said, sep="\n  ")
    assert len([x for x in said if "platform uplink:" in x]) == 1, said
    assert len([x for x in said if "platform heartbeat:" in x]) <= 1, said
    if dns_sink is not None:
        assert HOST in dns_sink.queries, dns_sink.queries  # asked, on loopback
        asked = len(dns_sink.queries)

    # DNS comes back: the name in the hosts file (written in place: the bind mount holds).
    with open(hosts, "a", encoding="utf-8") as f:
        f.write(f"127.0.0.1 {HOST}\n")
    d.wait_log(r"<5>platform uplink: recovered after \d+ repeated failure", timeout=LONG)
    wait_delivered(gw, rx, d)
    assert ctl(sock)["platform"]["failures_in_a_row"] == 0
    assert d.stop() == 0
    assert_exactly_once(gw, rx)
    if dns_sink is not None:
        print(f"DNS: {asked} queries to 127.0.0.1:53 while the name did not resolve")
