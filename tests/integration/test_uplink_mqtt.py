# SPDX-License-Identifier: MIT
"""The MQTT uplink (platform transport = "mqtt") through a real mosquitto broker, for real.

Each test starts mosquitto on a free loopback port (mqtt_peers.Broker) and a paho-mqtt client
that plays the platform: a persistent session subscribed at QoS 1 to everything under the
gateway's topics, so that it misses nothing while the broker restarts. Hazards come from real
acquisition: detectors on a converter that does not answer (a closed TCP port) go
device_offline at their first poll, and a Modbus smoke module on the detector simulator raises
fire alarms when told to. The tests compare what the platform received with the ledger.
Waits are bounded and generous; none asserts a tight timing.
"""

import json
import re
import signal
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

import conftest
from conftest import BUILD_ROOT, PROFILES, SOURCE_ROOT, ledger_query, line_of, run_firegw
from mqtt_peers import Broker, TestCA

sys.path.insert(0, str(SOURCE_ROOT / "tests" / "platform"))
from receiver import ISO_MS, hazard_problems, heartbeat_problems  # noqa: E402

GATEWAY = "MQ-0001"
PREFIX = "county/zw"
LONG = 30.0


def topic(name):
    return f"{PREFIX}/{GATEWAY}/{name}"


# ---- the platform: a paho subscriber ----


class Platform:
    """Subscribes (QoS 1, persistent session) to {prefix}/{gateway}/# and keeps every message:
    events, command results and heartbeats, in the order they arrived."""

    def __init__(self, broker, user=None, password=None, tls=None):
        self.lock = threading.Lock()
        self.msgs = []  # (topic, payload bytes)
        self.connected = threading.Event()
        self.c = paho.Client(client_id=f"platform-{broker.port}", clean_session=False)
        if user:
            self.c.username_pw_set(user, password)
        if tls:
            ctx = ssl.create_default_context(cafile=str(tls.ca_cert))
            ctx.load_cert_chain(str(tls.client_cert), str(tls.client_key))
            self.c.tls_set_context(ctx)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.reconnect_delay_set(1, 1)
        self.c.connect("127.0.0.1", broker.port, keepalive=30)
        self.c.loop_start()
        assert self.connected.wait(conftest.TIMEOUT), "the platform could not connect"

    def _on_connect(self, c, userdata, flags, rc):
        if rc == 0:
            c.subscribe(f"{PREFIX}/{GATEWAY}/#", qos=1)
            self.connected.set()

    def _on_message(self, c, userdata, m):
        with self.lock:
            self.msgs.append((m.topic, bytes(m.payload)))

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()

    def on(self, name):
        with self.lock:
            return [json.loads(p) for t, p in self.msgs if t == topic(name)]

    def raw(self, name):
        with self.lock:
            return [p for t, p in self.msgs if t == topic(name)]

    def events(self):
        return self.on("events")

    def first_deliveries(self):
        """Each event_id once, in the order first received."""
        seen, out = set(), []
        for e in self.events():
            if e["event_id"] not in seen:
                seen.add(e["event_id"])
                out.append(e)
        return out


@pytest.fixture
def broker(tmp_path):
    made = []

    def make(**kw):
        b = Broker(tmp_path / f"broker-{len(made)}", persistence=True, **kw)
        made.append(b)
        return b.start()

    yield make
    for b in made:
        b.stop()
    for b in made:
        print(b.describe())


@pytest.fixture
def platform():
    made = []

    def make(broker, **kw):
        p = Platform(broker, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


# ---- the gateway ----


class Gw:
    def __init__(self, root):
        self.root = root
        self.data = root / "data"
        self.conf = root / "firegw.conf"
        self.ledger = self.data / "ledger.db"
        self.password = root / "platform-password"

    def write(self, port, dead=0, smoke_port=None, batch=100, heartbeat="60s", user=None,
              password=None, mode=0o600, url=None, extra_platform=""):
        sock = self.root / "ctl"
        if len(str(sock)) > 100:
            sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
        text = (f'gateway {{\n  id = "{GATEWAY}"\n  data_dir = "{self.data}"\n'
                f'  profile_dir = "{PROFILES}"\n  log_level = "debug"\n'
                f'  control_socket = "{sock}"\n}}\n'
                'site {\n  county = "示例县"\n  town = "城关镇"\n  village = "东门社区"\n'
                '  unit = "东门路 18 号出租屋"\n  address = "东门路 18 号"\n'
                '  responsible = "王房东"\n  responsible_phone = "13800000001"\n'
                '  acceptor = "城关镇安监办"\n  acceptor_phone = "0000-1234567"\n}\n')
        if dead:
            text += ('bus "dead" {\n  type = "tcp"\n  host = "127.0.0.1"\n  tcp_port = 1\n'
                     '  connect_timeout = "200ms"\n}\n')
            for i in range(1, dead + 1):
                text += (f'device "dead-{i}" {{\n  bus = "dead"\n  unit = {i}\n'
                         f'  profile = "rcd-4t"\n  location = "dead box {i}"\n'
                         '  interval = "200ms"\n  timeout = "200ms"\n  retries = 0\n'
                         '  offline_after = 1\n}\n')
        if smoke_port:
            text += (f'bus "sim" {{\n  type = "tcp"\n  host = "127.0.0.1"\n'
                     f'  tcp_port = {smoke_port}\n  connect_timeout = "1s"\n}}\n'
                     'device "smoke-1" {\n  bus = "sim"\n  unit = 20\n'
                     '  profile = "smoke-modbus"\n  location = "3F 走廊"\n'
                     '  interval = "200ms"\n  timeout = "500ms"\n}\n')
        auth = ""
        if user:
            self.password.write_text(password + "\n", encoding="utf-8")
            self.password.chmod(mode)
            auth = f'  username = "{user}"\n  password_file = "{self.password}"\n'
            if not (url or "").startswith("mqtts://"):
                # The test brokers listen on loopback: plain MQTT has to be asked for.
                auth += "  insecure_plaintext = true\n"
        text += (f'platform {{\n  transport = "mqtt"\n'
                 f'  url = "{url or f"mqtt://127.0.0.1:{port}"}"\n'
                 f'  topic_prefix = "{PREFIX}/"\n  batch = {batch}\n'
                 f'  heartbeat = "{heartbeat}"\n  backoff_max = "1s"\n{auth}{extra_platform}}}\n')
        self.conf.write_text(text, encoding="utf-8")
        return self.conf

    def q(self, sql, params=()):
        return ledger_query(self.ledger, sql, params)

    def outbox(self):
        return self.q("SELECT count(*) FROM outbox WHERE lane = 0")[0][0]

    def events(self):
        """{event_id: (seq, hazard_id, type, body)} of every event in the ledger."""
        return {e: (s, h, t, json.loads(b)) for s, e, h, t, b in
                self.q("SELECT seq, event_id, hazard_id, type, body FROM events ORDER BY seq")}

    def hazard_ids(self):
        return [h for h, in self.q("SELECT id FROM hazards ORDER BY num")]

    def types(self, hid):
        return [t for t, in self.q("SELECT type FROM events WHERE hazard_id = ? ORDER BY seq",
                                   (hid,))]

    def status(self, hid):
        return self.q("SELECT status FROM hazards WHERE id = ?", (hid,))[0][0]


@pytest.fixture
def gw(tmp_path):
    return Gw(tmp_path)


_STARTED = []


def start_gw(daemon_factory, gw):
    d = daemon_factory(gw.conf).start(timeout=LONG)
    _STARTED.append(d)
    return d


@pytest.fixture(autouse=True)
def _clean_exit():
    """Every firegw a test started exits 0 when stopped: a sanitizer report or a crash at
    shutdown fails the test."""
    _STARTED.clear()
    yield
    for d in _STARTED:
        if d.returncode is None:
            d.close()
        if d.returncode != -signal.SIGKILL:
            assert d.returncode == 0, f"{d.name} exited with {d.returncode}\n{d.log_text()}"
    _STARTED.clear()


def wait_until(what, fn, timeout=LONG, daemon=None):
    return conftest.wait_until(what, fn, timeout=timeout, daemon=daemon)


def wait_delivered(gw, pf, d, timeout=LONG):
    """Until the outbox is empty and the platform has every event of the ledger."""
    def done():
        if gw.outbox() != 0:
            return False
        return set(gw.events()) <= {e["event_id"] for e in pf.events()}
    wait_until("every ledger event at the platform and an empty outbox", done, timeout, d)


def assert_delivered_in_order(gw, pf):
    """Every ledger event arrived, none other; a repeat carries the same body; the first
    deliveries of each hazard's events come in seq order; bodies are the ledger's."""
    ledger = gw.events()
    got = pf.events()
    first = {}
    for e in got:
        assert e["event_id"] in ledger, f"an event the ledger does not have: {e}"
        if e["event_id"] in first:
            assert first[e["event_id"]] == e, "a repeated event_id with another body"
        first.setdefault(e["event_id"], e)
    assert set(ledger) == set(first), f"missing: {set(ledger) - set(first)}"
    last = {}
    for e in pf.first_deliveries():
        seq, hid, typ, body = ledger[e["event_id"]]
        assert (e["seq"], e["hazard"]["id"], e["type"]) == (seq, hid, typ)
        assert e == body
        assert seq > last.get(hid, 0), f"seq went backwards for {hid}: {seq} after {last[hid]}"
        last[hid] = seq
    return len(got) - len(first)


# ---- the tests ----


def test_events_one_per_message_heartbeat_and_status(gw, broker, platform, daemon_factory):
    """Three device_offline items reach the events topic, one event object per message with
    every field of the contract, in seq order per hazard; the outbox empties; the first
    connect queues a resync; heartbeats arrive on their topic."""
    b = broker()
    pf = platform(b)
    gw.write(b.port, dead=3, heartbeat="1s")
    d = start_gw(daemon_factory, gw)
    d.wait_log(rf"platform uplink: mqtt://127\.0\.0\.1:{b.port} \(MQTT as "
               rf"'firegw-{GATEWAY}-uplink'\), events to {re.escape(topic('events'))}, up to "
               r"100 in flight")
    d.wait_log(rf"<5>platform uplink: connected to 127\.0\.0\.1:{b.port} as "
               rf"'firegw-{GATEWAY}-uplink'", timeout=LONG)
    wait_until("three device_offline items", lambda: len(gw.hazard_ids()) == 3, daemon=d)
    wait_delivered(gw, pf, d)
    assert_delivered_in_order(gw, pf)

    for raw in pf.raw("events"):
        e = json.loads(raw)
        assert isinstance(e, dict), "one event object per message"
        assert set(e) >= {"event_id", "seq", "type", "at", "hazard"}
        assert ISO_MS.match(e["at"]) and hazard_problems(e["hazard"]) == []
    raised = [e for e in pf.first_deliveries() if e["type"] == "raised"]
    assert sorted(e["hazard"]["id"] for e in raised) == gw.hazard_ids()
    assert all(e["hazard"]["kind"] == "device_offline" for e in raised)

    hb = wait_until("two heartbeats", lambda: len(pf.on("heartbeat")) >= 2 and pf.on(
        "heartbeat"), daemon=d)
    assert heartbeat_problems(hb[-1]) == [], hb[-1]
    assert hb[-1]["gateway"] == GATEWAY and ISO_MS.match(hb[-1]["sent_at"])
    assert pf.on("command_results") == []
    assert "<3>" not in "\n".join(line for line in d.lines if "platform" in line)


def test_broker_outage_nothing_lost(gw, broker, platform, sims, daemon_factory):
    """The broker goes away; a fire alarm comes and goes, and comes back, meanwhile; the
    broker comes back: every event arrives (repeats only as the same event_id and body), in
    seq order per hazard, and the outbox empties. The reconnect queues a resync."""
    b = broker()
    pf = platform(b)
    sim = sims("20")
    gw.write(b.port, dead=2, smoke_port=sim.port, batch=2)
    d = start_gw(daemon_factory, gw)
    wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
    wait_delivered(gw, pf, d)

    b.stop()
    d.wait_log(rf"<4>platform uplink: 127\.0\.0\.1:{b.port}: connection lost", timeout=LONG)
    sim.set(20, "input", 0, 0b1)
    m = d.wait_log(r"hazard (\S+) raised: fire_alarm", timeout=LONG)
    hid = m.group(1)
    sim.set(20, "input", 0, 0)
    wait_until("a cleared event", lambda: "cleared" in gw.types(hid), daemon=d)
    sim.set(20, "input", 0, 0b1)
    wait_until("a recurred event", lambda: "recurred" in gw.types(hid), daemon=d)
    sim.set(20, "input", 0, 0)
    wait_until("a second cleared event", lambda: gw.types(hid).count("cleared") == 2,
               daemon=d)
    assert gw.outbox() >= 4
    assert not any(e["hazard"]["id"] == hid for e in pf.events())

    b.start()
    wait_delivered(gw, pf, d, timeout=LONG * 2)
    repeats = assert_delivered_in_order(gw, pf)
    print(f"repeated deliveries: {repeats}")
    mine = [e["type"] for e in pf.first_deliveries() if e["hazard"]["id"] == hid]
    assert [t for t in mine if t != "resync"] == ["raised", "cleared", "recurred", "cleared"]
    assert gw.outbox() == 0
    # Every open item was resynced after the reconnect.
    resynced = {e["hazard"]["id"] for e in pf.first_deliveries() if e["type"] == "resync"}
    assert resynced >= set(gw.hazard_ids())


def test_commands_applied_once_results_published(gw, broker, platform, daemon_factory):
    """A command on the commands topic is applied once (its event forwarded, its result
    published); the same command again changes nothing and its result goes out again; an
    impossible one is answered ok=false; a message that is not JSON is logged once, counted,
    and harms nothing."""
    b = broker()
    pf = platform(b)
    gw.write(b.port, dead=1)
    d = start_gw(daemon_factory, gw)
    wait_until("a device_offline item", lambda: len(gw.hazard_ids()) == 1, daemon=d)
    wait_delivered(gw, pf, d)
    hid = gw.hazard_ids()[0]

    def results(cid):
        return [r for m in pf.on("command_results") for r in m["command_results"]
                if r["id"] == cid]

    ack = json.dumps({"id": "cmd-1", "type": "hazard.acknowledge", "hazard_id": hid})
    b.publish(topic("commands"), ack)
    wait_until("the result of cmd-1", lambda: results("cmd-1"), daemon=d)
    assert results("cmd-1")[0] == {"id": "cmd-1", "ok": True}
    msg = pf.on("command_results")[0]
    assert msg["gateway"] == GATEWAY and ISO_MS.match(msg["sent_at"])
    assert gw.status(hid) == "acknowledged"
    wait_delivered(gw, pf, d)
    assert any(e["type"] == "acknowledged" and e["hazard"]["id"] == hid for e in pf.events())

    # Garbage, twice: one log line; then the same command again (an array of two, with an
    # impossible one): applied once, results for both.
    b.publish(topic("commands"), "not json {")
    b.publish(topic("commands"), b"\xff\xfe")
    b.publish(topic("commands"), json.dumps([
        json.loads(ack), {"id": "cmd-2", "type": "hazard.reopen", "hazard_id": hid}]))
    wait_until("the result of cmd-2", lambda: results("cmd-2"), daemon=d)
    wait_until("cmd-1's result again", lambda: len(results("cmd-1")) >= 2, daemon=d)
    assert results("cmd-2")[0] == {"id": "cmd-2", "ok": False,
                                   "reason": "hazard is not closed"}
    assert gw.types(hid).count("acknowledged") == 1
    bad = [line for line in d.lines if "is not JSON" in line or "not JSON (" in line]
    assert len(bad) == 1, bad
    assert re.search(rf"<4>platform uplink: a message on {re.escape(topic('commands'))} "
                     r"ignored: not JSON", bad[0]), bad[0]
    assert d.alive()
    wait_until("every result reported", lambda: gw.q(
        "SELECT count(*) FROM commands WHERE reported = 0")[0][0] == 0, daemon=d)
    wait_delivered(gw, pf, d)
    assert_delivered_in_order(gw, pf)


def test_wrong_password_clear_log_and_backoff(gw, broker, platform, daemon_factory):
    """A password the broker refuses: one clear log line naming the user and the file, the
    attempts back off, the events wait in the outbox. The right password and a reload: they
    arrive."""
    b = broker(passwords={"gw": "right", "platform": "p"})
    pf = platform(b, user="platform", password="p")
    gw.write(b.port, dead=2, user="gw", password="wrong")
    d = start_gw(daemon_factory, gw)
    # Plain MQTT with a password (insecure_plaintext = true): a warning at every start.
    d.wait_log(rf"<4>platform: url mqtt://127\.0\.0\.1:{b.port} is plain MQTT "
               r"\(insecure_plaintext = true\): the broker password crosses the network")
    d.wait_log(rf"<4>platform uplink: 127\.0\.0\.1:{b.port}: the broker refused the login "
               r"\(.*\); check platform username \(gw\) and the password in "
               rf"{re.escape(str(gw.password))} against the broker's password file",
               timeout=LONG)
    wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
    def attempts():
        return sum(1 for line in b.log_lines()
                   if "not authorised" in line)
    before = attempts()
    time.sleep(3)
    during = attempts() - before
    refused = [line for line in d.lines if "refused the login" in line]
    assert len(refused) == 1, refused  # repeats are only counted
    # Backoff (backoff_max 1s, full jitter, never under 100 ms): retried, but no storm.
    assert 1 <= during <= 31, during
    assert gw.outbox() >= 2 and pf.events() == []

    gw.write(b.port, dead=2, user="gw", password="right")
    d.reload(timeout=LONG)
    wait_delivered(gw, pf, d)
    assert_delivered_in_order(gw, pf)


def test_password_file_readable_by_others_refuses_start(gw, broker, daemon_factory):
    b = broker()
    gw.write(b.port, dead=1, user="gw", password="secret", mode=0o644)
    d = daemon_factory(gw.conf)
    with pytest.raises(AssertionError):
        d.start(timeout=10)
    d.wait_exit(timeout=10)
    assert d.returncode != 0
    assert re.search(r"platform: password_file .* is readable by others \(mode 0644\); a "
                     r"password must stay secret: chmod 600", d.log_text())


def test_check_platform_mqtt_errors(gw, tmp_path):
    """firegw check: each mistake of an MQTT platform section at its file:line with advice."""
    gw.write(1883, url="https://127.0.0.1:8883", extra_platform='  pin = "sha256//x"\n')
    r = run_firegw("check", "-c", gw.conf)
    assert r.returncode == 1, (r.stdout, r.stderr)
    c = gw.conf
    assert r.stderr.splitlines() == [
        f"{c}:{line_of(c, 'url = ')}: platform: url 'https://127.0.0.1:8883' must be "
        "mqtts://host:port (TLS) or mqtt://host:port with transport = \"mqtt\"",
        f"{c}:{line_of(c, 'pin = ')}: platform: pin is not supported with transport = "
        "\"mqtt\" (the MQTT client cannot check a public key); remove it and trust the broker "
        "through ca_file",
        f"{c}: 2 error(s)",
    ], r.stderr
    gw.write(1883, url="mqtt://127.0.0.1:99999/x",
             extra_platform=f'  ca_file = "{tmp_path}"\n  password_file = "{tmp_path}/p"\n')
    r = run_firegw("check", "-c", gw.conf)
    assert r.returncode == 1
    err = r.stderr
    assert f"{c}:{line_of(c, 'url = ')}: platform: url 'mqtt://127.0.0.1:99999/x': the port " \
           "must be a number 1-65535" in err, err
    assert f"{c}:{line_of(c, 'ca_file = ')}: platform: ca_file is for TLS; use an mqtts:// " \
           "url" in err, err
    assert f"{c}:{line_of(c, 'password_file = ')}: platform: password_file needs a " \
           "username" in err, err
    # A token as the password without a username (MQTT sends none then); keepalive bounds.
    gw.write(1883, extra_platform=f'  token_file = "{tmp_path}/t"\n  keepalive = "2s"\n')
    r = run_firegw("check", "-c", gw.conf)
    assert r.returncode == 1
    err = r.stderr
    assert f"{c}:{line_of(c, 'token_file = ')}: platform: token_file needs a username with " \
           "transport = \"mqtt\"" in err, err
    assert f"{c}:{line_of(c, 'keepalive = ')}: platform: keepalive must be 5s to 65535s" \
        in err, err
    gw.write(1883, url="mqtts://broker.example.cn", extra_platform='  keepalive = "20s"\n')
    r = run_firegw("check", "-c", gw.conf)
    assert r.returncode == 0, r.stderr


def test_kill_during_upload_then_restart(gw, broker, platform, daemon_factory):
    """kill -9 of firegw while a backlog drains (small window, many events), then a restart:
    every event reaches the platform (repeats only as the same event_id and body), in seq
    order per hazard, and the outbox empties."""
    b = broker()
    pf = platform(b)
    gw.write(b.port, dead=12, batch=2)
    d = start_gw(daemon_factory, gw)
    wait_until("a first event at the platform", lambda: pf.events(), daemon=d)
    d.send(signal.SIGKILL)
    d.wait_exit(timeout=LONG)
    d2 = start_gw(daemon_factory, gw)
    wait_until("twelve device_offline items",
               lambda: len(gw.q("SELECT id FROM hazards WHERE kind = 'device_offline'")) == 12,
               daemon=d2)
    wait_delivered(gw, pf, d2)
    repeats = assert_delivered_in_order(gw, pf)
    print(f"repeated deliveries: {repeats}")


@pytest.mark.parametrize("ca", ["right", "other"])
def test_mqtts_with_client_certificate(gw, broker, platform, daemon_factory, tmp_path, ca):
    """mqtts:// to a broker that requires a client certificate: with the right CA, cert_file
    and key_file the events arrive; with a CA that did not sign the broker's certificate,
    nothing is sent, and the log says what to check."""
    pki = TestCA(tmp_path / "pki")
    b = broker(tls=pki)
    pf = platform(b, tls=pki)
    trust = pki.ca_cert if ca == "right" else TestCA(tmp_path / "other").ca_cert
    gw.write(b.port, dead=2, url=f"mqtts://127.0.0.1:{b.port}",
             extra_platform=f'  ca_file = "{trust}"\n  cert_file = "{pki.client_cert}"\n'
                            f'  key_file = "{pki.client_key}"\n')
    d = start_gw(daemon_factory, gw)
    wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
    if ca == "right":
        d.wait_log(rf"<5>platform uplink: connected to 127\.0\.0\.1:{b.port}", timeout=LONG)
        wait_delivered(gw, pf, d)
        assert_delivered_in_order(gw, pf)
        return
    d.wait_log(rf"<4>platform uplink: 127\.0\.0\.1:{b.port}: TLS handshake failed; check that "
               r"platform ca_file signs the broker's certificate", timeout=LONG)
    time.sleep(1)
    assert pf.events() == [] and gw.outbox() >= 2


def test_in_flight_events_sent_again_after_broker_dies(gw, broker, platform, sims,
                                                      daemon_factory):
    """The broker freezes (no PUBACK), a fire alarm comes and goes, its events are published
    and wait; the broker dies and comes back: the events that never got their PUBACK are
    still in the outbox and go again after the reconnect; nothing is missing."""
    b = broker()
    pf = platform(b)
    sim = sims("20")
    gw.write(b.port, smoke_port=sim.port)
    d = start_gw(daemon_factory, gw)
    d.wait_log(rf"<5>platform uplink: connected to 127\.0\.0\.1:{b.port}", timeout=LONG)
    wait_delivered(gw, pf, d)
    # Both sessions (the platform's subscription above all) must be in the broker's file
    # before it dies, or the restarted broker has nobody to queue the events for.
    since = time.time()
    db = b.dir / "mosquitto.db"
    wait_until("the broker's autosave with both sessions",
               lambda: db.exists() and db.stat().st_mtime > since + 1, daemon=d)

    b.proc.send_signal(signal.SIGSTOP)
    try:
        sim.set(20, "input", 0, 0b1)
        m = d.wait_log(r"hazard (\S+) raised: fire_alarm", timeout=LONG)
        hid = m.group(1)
        sim.set(20, "input", 0, 0)
        wait_until("a cleared event", lambda: "cleared" in gw.types(hid), daemon=d)
        time.sleep(1)
        assert gw.outbox() >= 2  # published, not acknowledged
    finally:
        b.proc.kill()
        b.proc.wait(timeout=10)
    d.wait_log(r"<6>platform uplink: [2-9]\d* event\(s\) had no PUBACK; they stay in the "
               r"outbox and go again after the reconnect", timeout=LONG)
    b.start()
    wait_delivered(gw, pf, d, timeout=LONG * 2)
    assert_delivered_in_order(gw, pf)
    mine = [e["type"] for e in pf.first_deliveries() if e["hazard"]["id"] == hid]
    assert [t for t in mine if t != "resync"] == ["raised", "cleared"]


def test_hostile_command_messages_bounded(gw, broker, platform, sims, daemon_factory):
    """Issue 13 on the MQTT transport: a 2 MiB command message is dropped before it is
    parsed (memory stays bounded), a message of 150 commands has 100 applied and the rest
    ignored with one log line, forged lines and escapes in every string stay inside firegw's
    own lines, and a fire alarm raised right after still reaches the platform at once."""
    b = broker()
    pf = platform(b)
    sim = sims("20")
    gw.write(b.port, dead=1, smoke_port=sim.port)
    d = start_gw(daemon_factory, gw)
    wait_until("a device_offline item", lambda: len(gw.hazard_ids()) == 1, daemon=d)
    wait_delivered(gw, pf, d)
    hid = gw.hazard_ids()[0]
    rss0 = conftest.peak_rss_kb(d)

    b.publish(topic("commands"), json.dumps(
        {"id": "huge", "type": "hazard.assign", "hazard_id": hid, "note": "x" * (2 << 20)}))
    d.wait_log(r"<4>platform uplink: a message of \d+ bytes on .*/commands dropped: over the "
               r"limit of 1048576", timeout=LONG)
    forged = "\n<0>FORGED \x1b[2J"
    b.publish(topic("commands"), json.dumps(
        [{"id": f"h{i}{forged}", "type": f"hazard.close{forged}", "hazard_id": f"x{forged}"}
         for i in range(150)]))
    d.wait_log(r"<4>platform uplink: a message on .*/commands ignored: 150 commands in one "
               r"message, over the limit of 100", timeout=LONG)

    def results():
        return [r for m in pf.on("command_results") for r in m["command_results"]]
    wait_until("100 results", lambda: len(results()) >= 100, daemon=d)
    assert len(results()) == 100
    assert gw.q("SELECT count(*) FROM commands")[0][0] == 100
    assert not any(r["id"] == "huge" for r in results())
    for line in d.lines:
        assert re.match(r"^<[3-7]>", line), f"a log line firegw did not write: {line!r}"
        assert "\x1b" not in line
    assert len([ln for ln in d.lines if "platform" in ln and "refused" in ln]) <= 2

    mark = d.mark()
    sim.set(20, "input", 0, 0b1)
    m = d.wait_log(r"hazard (\S+) raised: fire_alarm", since=mark, timeout=LONG)
    t0 = time.time()
    wait_until("the fire alarm at the platform", lambda: any(
        e["hazard"]["id"] == m.group(1) for e in pf.events()), daemon=d)
    latency = time.time() - t0
    if not (conftest.VALGRIND or conftest.sanitized_build()):
        grown = conftest.peak_rss_kb(d) - rss0
        print(f"mqtt hostile: peak RSS {conftest.peak_rss_kb(d)} kB (+{grown}), "
              f"fire alarm {latency:.3f} s")
        # libmosquitto reads the 2 MiB message whole before firegw can drop it: that, and
        # no more (the broker's max_packet_size keeps it off the wire in the field).
        assert grown < 8 * 1024, f"peak RSS grew by {grown} kB"
        assert latency <= 1.0
