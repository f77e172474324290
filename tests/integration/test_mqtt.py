# SPDX-License-Identifier: MIT
"""MQTT input against a real mosquitto broker started by each test on a free loopback port.

Smoke alarms and detectors publish the way the shipped profiles describe (smoke-codes,
smoke-json, efd-json); the tests look where a user looks: the hazard ledger and the log. Every
peer (broker, daemon) is stopped in teardown, on failure too; every wait is bounded.
"""

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (BUILD_ROOT, PROFILES, TIMEOUT, _run_to_end, ledger_query, person_env,
                      run_firegw, run_tool, small_tmpfs)
from mqtt_peers import Broker, TestCA

NOW = int(time.time())


# ---- config and looking ----


class Site:
    def __init__(self, root):
        self.root = root
        self.data = root / "data"
        self.conf = root / "firegw.conf"
        self.ledger = self.data / "ledger.db"

    def write(self, broker, *devices, mqtt_extra="", log_level="info", keepalive="10s"):
        self.conf.write_text(
            'gateway {\n  id = "MQ-0001"\n'
            f'  data_dir = "{self.data}"\n  profile_dir = "{PROFILES}"\n'
            f'  log_level = "{log_level}"\n}}\n'
            f'mqtt {{\n  host = "127.0.0.1"\n  port = {broker.port}\n'
            f'  keepalive = "{keepalive}"\n{mqtt_extra}}}\n' + "".join(devices),
            encoding="utf-8")
        return self.conf


def device(dev_id, key, profile="smoke-codes", heartbeat="30m", extra=""):
    return (f'device "{dev_id}" {{\n  key = "{key}"\n  profile = "{profile}"\n'
            f'  location = "room {dev_id}"\n  heartbeat_timeout = "{heartbeat}"\n'
            f'  {extra}\n}}\n')


@pytest.fixture
def gw(tmp_path):
    return Site(tmp_path)


@pytest.fixture
def brokers(tmp_path):
    """brokers(**kw) -> a started Broker; all are stopped in teardown (log printed then)."""
    made = []

    def make(name="broker", start=True, **kw):
        b = Broker(tmp_path / name, **kw)
        made.append(b)
        return b.start() if start else b

    yield make
    for b in made:
        b.stop()
    for b in made:
        print(b.describe())


def wait_until(what, fn, daemon, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if not daemon.alive():
            raise AssertionError(f"firegw exited while waiting for {what}\n{daemon.log_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s\n{daemon.log_text()}")
        time.sleep(0.1)


COLS = ("id", "device", "point", "kind", "grade", "status", "active", "test", "occurrences")


def hazards(gw, **where):
    if not gw.ledger.exists():
        return []
    sql = f"SELECT {', '.join(COLS)} FROM hazards"
    if where:
        sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
    return [dict(zip(COLS, r)) for r in
            ledger_query(gw.ledger, sql + " ORDER BY num", tuple(where.values()))]


def wait_hazard(gw, d, timeout=TIMEOUT, **where):
    def one():
        found = hazards(gw, **where)
        assert len(found) <= 1, f"more than one item for {where}: {found}"
        return found[0] if found else None

    return wait_until(f"hazard {where}", one, d, timeout)


def events(gw, hazard_id):
    return [r[0] for r in ledger_query(
        gw.ledger, "SELECT type FROM events WHERE hazard_id = ? ORDER BY seq", (hazard_id,))]


def count(lines, pattern):
    rx = re.compile(pattern)
    return sum(1 for line in lines if rx.search(line))


def start(daemon_factory, gw):
    d = daemon_factory(gw.conf).start()
    d.wait_log(r"<5>mqtt: connected to 127\.0\.0\.1:\d+ as 'firegw-MQ-0001'")
    return d


def code(broker, key, c, **extra):
    payload = {"code": c, "ts": NOW, **extra}
    broker.publish(f"smoke/{key}/event", json.dumps(payload))


# ---- the event codes ----


def test_each_event_code_gives_the_right_hazard(gw, brokers, daemon_factory):
    """The common smoke-alarm numbering, one alarm per code: 1 alarm is an immediate
    fire_alarm; 2 silenced is recorded on the open alarm, which stays open and active; 4 low
    battery, 5 fault, 10 removed (tamper) are general items; 7 normal clears the alarm and 11
    installed clears the tamper (both items stay open for the platform); 14 test makes a test
    item on its own channel, never a real alarm."""
    b = brokers()
    keys = {n: f"86000{n}" for n in range(1, 9)}
    gw.write(b, *(device(f"sa-{n}", k) for n, k in keys.items()))
    d = start(daemon_factory, gw)

    code(b, keys[1], 1)
    code(b, keys[2], 1)
    code(b, keys[2], 2)
    code(b, keys[3], 4)
    code(b, keys[4], 5)
    code(b, keys[5], 1)
    code(b, keys[5], 7)
    code(b, keys[6], 10)
    code(b, keys[7], 10)
    code(b, keys[7], 11)
    code(b, keys[8], 14)

    h = wait_hazard(gw, d, device="sa-1", kind="fire_alarm")
    assert (h["point"], h["grade"], h["status"], h["active"], h["test"]) == \
        ("smoke", "immediate", "open", 1, 0)

    wait_until("the silence recorded",
               lambda: "silenced" in events(gw, hazards(gw, device="sa-2")[0]["id"])
               if hazards(gw, device="sa-2") else None, d)
    (h,) = hazards(gw, device="sa-2")
    assert (h["kind"], h["status"], h["active"]) == ("fire_alarm", "open", 1)
    assert events(gw, h["id"]) == ["raised", "silenced"]
    info = ledger_query(gw.ledger, "SELECT body FROM events WHERE hazard_id = ? AND "
                        "type = 'silenced'", (h["id"],))[0][0]
    assert '"silenced_at"' in info

    for dev, kind in (("sa-3", "low_battery"), ("sa-4", "device_fault"), ("sa-6", "tamper")):
        h = wait_hazard(gw, d, device=dev, kind=kind)
        assert (h["point"], h["grade"], h["active"]) == ("smoke", "general", 1), h

    for dev, kind in (("sa-5", "fire_alarm"), ("sa-7", "tamper")):
        h = wait_hazard(gw, d, device=dev, kind=kind, active=0)
        assert h["status"] == "open"
        assert events(gw, h["id"]) == ["raised", "cleared"]

    t = wait_hazard(gw, d, device="sa-8")
    assert (t["kind"], t["point"], t["test"]) == ("fire_alarm", "test", 1)
    assert events(gw, t["id"])[:2] == ["raised", "cleared"]
    # Exactly the items above, nothing else (no offline, no stray alarm).
    assert sorted((x["device"], x["kind"]) for x in hazards(gw)) == sorted([
        ("sa-1", "fire_alarm"), ("sa-2", "fire_alarm"), ("sa-3", "low_battery"),
        ("sa-4", "device_fault"), ("sa-5", "fire_alarm"), ("sa-6", "tamper"),
        ("sa-7", "tamper"), ("sa-8", "fire_alarm")])
    # Open items by grade count no test (what the platform and status show).
    real = ledger_query(gw.ledger, "SELECT count(*) FROM hazards WHERE kind = 'fire_alarm' "
                        "AND test = 0")[0][0]
    assert real == 3


def test_json_smoke_and_detector_profiles(gw, brokers, daemon_factory):
    """smoke-json: the key in the payload's id, the alarm as a boolean, the battery by
    percent (low_battery at 15 % or less), the test button as an event. efd-json: residual
    current in mA and temperatures read by JSON pointer from an array of channels."""
    b = brokers()
    gw.write(b, device("sa-j", "A-100", profile="smoke-json"),
             device("efd-1", "E1", profile="efd-json",
                    extra='setpoint "leak" { hold = "0s" clear_hold = "0s" }\n'
                          '  setpoint "t2" { hold = "0s" }'))
    d = start(daemon_factory, gw)

    b.publish("smoke/x/state", '{"id": "A-100", "alarm": false, "battery": 90}')
    b.publish("smoke/x/state", '{"id": "A-100", "alarm": true, "battery": 12}')
    h = wait_hazard(gw, d, device="sa-j", kind="fire_alarm")
    assert (h["point"], h["grade"]) == ("smoke", "immediate")
    lb = wait_hazard(gw, d, device="sa-j", kind="low_battery")
    assert (lb["point"], lb["grade"]) == ("battery", "general")
    b.publish("smoke/x/state", '{"id": "A-100", "alarm": false}')
    wait_hazard(gw, d, device="sa-j", kind="fire_alarm", active=0)
    b.publish("smoke/x/state", '{"id": "A-100", "event": "test"}')
    wait_hazard(gw, d, device="sa-j", point="test", test=1)

    data = ('{"ts": %d, "data": [{"ch": "leak", "value": %s}, {"value": 31.5}, '
            '{"value": %s}, {"value": 30}, {"value": 30}], "fault": false}')
    b.publish("efd/E1/data", data % (NOW, 350, 40))
    h = wait_hazard(gw, d, device="efd-1", kind="residual_current")
    assert (h["point"], h["grade"]) == ("leak", "significant")
    b.publish("efd/E1/data", data % (NOW + 1, 20, 95))
    t = wait_hazard(gw, d, device="efd-1", kind="overtemperature")
    assert (t["point"], t["grade"]) == ("t2", "immediate")
    wait_hazard(gw, d, device="efd-1", kind="residual_current", active=0)


# ---- heartbeat ----


def test_heartbeat_timeout_and_recovery(gw, brokers, daemon_factory):
    """A smoke alarm silent for longer than its heartbeat_timeout is device_offline (logged
    once); its next message clears the item, which stays open for the platform."""
    b = brokers()
    gw.write(b, device("sa-hb", "HB1", heartbeat="2s"), device("sa-other", "OT1"))
    d = start(daemon_factory, gw)
    b.publish("smoke/HB1/event", '{"battery": 80}')

    h = wait_hazard(gw, d, device="sa-hb", kind="device_offline")
    assert (h["point"], h["grade"], h["active"]) == ("online", "general", 1)
    d.wait_log(r"<4>device 'sa-hb' is offline")

    b.publish("smoke/HB1/event", '{"battery": 80}')
    wait_hazard(gw, d, device="sa-hb", kind="device_offline", active=0)
    d.wait_log(r"<5>device 'sa-hb' is back online")
    (h,) = hazards(gw, device="sa-hb")
    assert h["status"] == "open"
    assert events(gw, h["id"]) == ["raised", "cleared"]
    assert count(d.log_since(), r"device 'sa-hb' is offline") == 1
    assert hazards(gw, device="sa-other") == []


# ---- broker restart, persistent session ----


def test_broker_restart_no_alarm_lost(gw, brokers, daemon_factory):
    """QoS 1 and a persistent session: firegw reconnects after a broker restart mid-stream
    and reads on; alarms published while firegw is away (and across a second broker
    restart) arrive when it comes back. Not one of them is lost."""
    b = brokers(persistence=True)
    keys = [f"R{n:02d}" for n in range(1, 21)]
    gw.write(b, *(device(f"r-{k}", k) for k in keys))
    d = start(daemon_factory, gw)

    # Mid-stream: half the alarms, a broker restart, the other half.
    for k in keys[:5]:
        code(b, k, 1)
    mark = d.mark()
    b.stop()
    d.wait_log(r"<4>mqtt: 127\.0\.0\.1:\d+: connection lost", since=mark)
    b.start()
    d.wait_log(r"<5>mqtt: connected to .* \(resumed session", since=mark,
               timeout=3 * TIMEOUT)
    for k in keys[5:10]:
        code(b, k, 1)
    wait_until("10 fire alarms", lambda: len(hazards(gw, kind="fire_alarm")) == 10, d)

    # firegw away (a clean stop: the broker keeps its session), alarms queue at the broker,
    # the broker restarts too, then firegw comes back.
    assert d.stop() == 0
    for k in keys[10:]:
        code(b, k, 1)
    b.stop()
    b.start()
    d2 = start(daemon_factory, gw)
    wait_until("all 20 fire alarms", lambda: len(hazards(gw, kind="fire_alarm")) == 20, d2,
               timeout=2 * TIMEOUT)
    assert sorted(h["device"] for h in hazards(gw, kind="fire_alarm")) == \
        sorted(f"r-{k}" for k in keys)
    assert all(h["occurrences"] == 1 for h in hazards(gw))


def test_stale_retained_message_ignored(gw, brokers, daemon_factory):
    """A retained state older than what firegw has seen (by the payload's timestamp) is
    ignored when the broker sends it again after a resubscribe: the cleared alarm does not
    come back."""
    b = brokers(persistence=True)
    gw.write(b, device("sa-r", "RT1", profile="smoke-json"), device("marker", "MK1"),
             log_level="debug")
    d = start(daemon_factory, gw)

    b.publish("smoke/x/state", '{"id": "RT1", "ts": %d, "alarm": true}' % (NOW - 10),
              retain=True)
    h = wait_hazard(gw, d, device="sa-r", kind="fire_alarm")
    b.publish("smoke/x/state", '{"id": "RT1", "ts": %d, "alarm": false}' % NOW)
    wait_hazard(gw, d, device="sa-r", kind="fire_alarm", active=0)

    mark = d.mark()
    b.stop()
    b.start()  # firegw reconnects, resubscribes, and gets the retained (old) alarm again
    d.wait_log(r"<5>mqtt: connected to", since=mark, timeout=3 * TIMEOUT)
    d.wait_log(r"<7>mqtt device 'sa-r': retained message on smoke/x/state older than the "
               r"last one seen ignored", since=mark)
    code(b, "MK1", 1)  # and anything queued behind it is committed with the marker
    wait_hazard(gw, d, device="marker", kind="fire_alarm")
    assert events(gw, h["id"]) == ["raised", "cleared"]
    assert hazards(gw, device="sa-r")[0]["active"] == 0


# ---- TLS and passwords ----


def test_tls_with_client_certificate(gw, brokers, daemon_factory, tmp_path):
    """TLS to a broker that requires a client certificate, all made by a test CA: firegw
    verifies the broker and shows its own certificate; an alarm arrives."""
    ca = TestCA(tmp_path / "ca")
    b = brokers(tls=ca)
    gw.write(b, device("sa-t", "TL1"),
             mqtt_extra=f'  tls = true\n  ca_file = "{ca.ca_cert}"\n'
                        f'  cert_file = "{ca.client_cert}"\n  key_file = "{ca.client_key}"\n')
    d = start(daemon_factory, gw)
    b.publish("smoke/TL1/event", '{"code": 1}', tls=ca)
    h = wait_hazard(gw, d, device="sa-t", kind="fire_alarm")
    assert h["grade"] == "immediate"


def test_tls_wrong_ca_is_refused_clearly(gw, brokers, daemon_factory, tmp_path):
    """A CA that did not sign the broker's certificate: one clear log line, no connection."""
    ca, other = TestCA(tmp_path / "ca"), TestCA(tmp_path / "other")
    b = brokers(tls=ca)
    gw.write(b, device("sa-t", "TL1"),
             mqtt_extra=f'  tls = true\n  ca_file = "{other.ca_cert}"\n'
                        f'  cert_file = "{ca.client_cert}"\n  key_file = "{ca.client_key}"\n')
    d = daemon_factory(gw.conf).start()
    d.wait_log(r"<4>mqtt: 127\.0\.0\.1:\d+: TLS handshake failed; check that mqtt ca_file")
    assert count(d.log_since(), r"mqtt: connected") == 0


def test_tls_without_ca_file_uses_the_system_cas(gw, brokers, daemon_factory, tmp_path):
    """tls = true with no ca_file: the broker is verified against the system's CAs (as
    docs/configuration.md says). The test CA is not among them: refused, clearly. Named as the
    system store (OpenSSL's SSL_CERT_FILE, as a distribution's store would hold it): connected."""
    ca = TestCA(tmp_path / "ca")
    b = brokers(tls=ca)
    gw.write(b, device("sa-t", "TL2"),
             mqtt_extra=f'  tls = true\n  cert_file = "{ca.client_cert}"\n'
                        f'  key_file = "{ca.client_key}"\n')
    d = daemon_factory(gw.conf, name="firegw-system-cas").start()
    d.wait_log(r"<4>mqtt: 127\.0\.0\.1:\d+: TLS handshake failed; check that mqtt ca_file")
    assert count(d.log_since(), r"mqtt: connected") == 0
    assert count(d.log_since(), r"TLS cannot be set up") == 0
    assert d.stop() == 0

    d = daemon_factory(gw.conf, name="firegw-store-has-ca",
                       env={"SSL_CERT_FILE": str(ca.ca_cert)}).start()
    d.wait_log(r"<5>mqtt: connected to", timeout=3 * TIMEOUT)
    b.publish("smoke/TL2/event", '{"code": 1}', tls=ca)
    wait_hazard(gw, d, device="sa-t", kind="fire_alarm")


def test_wrong_password_clear_log_and_backoff(gw, brokers, daemon_factory, tmp_path):
    """A wrong password: one log line that says what to check, then retries with backoff
    (a handful of attempts in several seconds, not a busy loop); with the right password
    (fixed and reloaded) it connects."""
    b = brokers(passwords={"gw": "right-one"})
    pw = tmp_path / "mqtt-password"
    pw.write_text("wrong-one\n", encoding="utf-8")
    pw.chmod(0o600)
    gw.write(b, device("sa-p", "PW1"),
             mqtt_extra=f'  username = "gw"\n  password_file = "{pw}"\n')
    d = daemon_factory(gw.conf).start()
    d.wait_log(r"<4>mqtt: 127\.0\.0\.1:\d+: the broker refused the login \(.*\); check mqtt "
               r"username \(gw\) and the password in " + re.escape(str(pw)))
    t0 = time.monotonic()
    time.sleep(6.0)  # the window the attempts are counted in, not a wait for something
    window = time.monotonic() - t0
    attempts = count(b.log_lines(), r"New connection from 127\.0\.0\.1")
    print(f"{attempts} connection attempts in {window:.1f} s")
    assert 2 <= attempts <= 15, f"{attempts} attempts in {window:.1f} s\n{b.describe()}"
    assert count(d.log_since(), r"refused the login") == 1
    assert d.alive()

    pw.write_text("right-one\n", encoding="utf-8")
    mark = d.reload()
    d.wait_log(r"<5>mqtt: connected to", since=mark, timeout=3 * TIMEOUT)
    b.publish("smoke/PW1/event", '{"code": 1}', user="gw", password="right-one")
    wait_hazard(gw, d, device="sa-p", kind="fire_alarm")


def test_password_file_readable_by_others_refuses_start(gw, brokers, daemon_factory, tmp_path):
    """A broker password in a file others can read is refused like the platform token: a
    config error at its line that says how to fix it, so firegw does not start (and
    `firegw check` says the same); at 0600 it starts and logs in."""
    b = brokers(passwords={"gw": "right-one"})
    pw = tmp_path / "mqtt-password"
    pw.write_text("right-one\n", encoding="utf-8")
    pw.chmod(0o644)
    gw.write(b, device("sa-q", "PW2"),
             mqtt_extra=f'  username = "gw"\n  password_file = "{pw}"\n')
    want = (r"mqtt: password_file " + re.escape(str(pw)) + r" is readable by others "
            r"\(mode 0644\); a password must stay secret: chmod 600 " + re.escape(str(pw)))
    r = run_firegw("check", "-c", gw.conf)
    assert r.returncode == 1 and re.search(want, r.stderr), r.stderr
    d = daemon_factory(gw.conf)
    d.start(wait_ready=False)
    assert d.wait_exit(timeout=TIMEOUT) != 0
    assert re.search(want, d.log_text()), d.log_text()
    # The fixture's own readiness probe connects too, without a client id: count logins.
    assert count(b.log_lines(), r"as firegw-") == 0, b.describe()

    pw.chmod(0o600)
    d = daemon_factory(gw.conf).start()
    d.wait_log(r"<5>mqtt: connected to", timeout=3 * TIMEOUT)
    assert count(b.log_lines(), r"as firegw-") >= 1, b.describe()  # the pattern holds


# ---- bad input ----


MALFORMED = [
    ("not-json", b"garbage", "not JSON"),
    ("truncated", b'{"code": 1', "not JSON"),
    ("bare-value", b"1", "not a JSON object"),
    ("code-wrong-type", b'{"code": [1]}', "wrong type"),
    ("battery-wrong-type", b'{"code": 1, "battery": "full"}', "wrong type"),
    ("bad-timestamp", b'{"code": 1, "ts": "yesterday"}', "wrong type"),
    ("huge", b'{"code": 1, "pad": "' + b"x" * 20000 + b'"}', "payload too big"),
    ("invalid-utf8", b'{"code": 1, "note": "\xff\xfe"}', "invalid UTF-8"),
    ("unknown-code", b'{"code": 99}', "unknown event code"),
    ("empty", b"", "not JSON"),
]


def test_malformed_payloads_counted_never_a_hazard(gw, brokers, daemon_factory):
    """Each malformed payload (not JSON, wrong types, too big, invalid UTF-8, an unknown
    code), sent twice to its own alarm, is logged once for that device with its reason and
    raises nothing, although most of them carry an alarm code; the daemon lives on and the
    next good alarm from the same device is taken. A message from an unknown device is
    logged once per key and raises nothing."""
    b = brokers()
    gw.write(b, *(device(f"bad-{name}", f"K-{name}") for name, _, _ in MALFORMED))
    d = start(daemon_factory, gw)

    for name, payload, _ in MALFORMED:
        for _ in range(2):
            b.publish(f"smoke/K-{name}/event", payload)
    for _ in range(3):
        b.publish("smoke/NOBODY/event", b'{"code": 1}')
    for name, _, reason in MALFORMED:
        d.wait_log(rf"<4>mqtt device 'bad-{re.escape(name)}' \(key K-{re.escape(name)}\): "
                   rf"message ignored: {re.escape(reason)}: ")
    d.wait_log(r"<4>mqtt: message from unknown device key 'NOBODY'")

    # Then one good alarm per device: each arrives, so everything before it was read.
    for name, _, _ in MALFORMED:
        b.publish(f"smoke/K-{name}/event", b'{"code": 1}')
    wait_until("a good alarm from every device",
               lambda: len(hazards(gw, kind="fire_alarm")) == len(MALFORMED), d)
    assert d.alive()
    for name, _, _ in MALFORMED:
        (h,) = hazards(gw, device=f"bad-{name}")
        assert events(gw, h["id"]) == ["raised"], (name, events(gw, h["id"]))
        # logged once (the second copy is only counted), recovery said once
        assert count(d.log_since(), rf"mqtt device 'bad-{re.escape(name)}' .*ignored") == 1
    assert count(d.log_since(), r"unknown device key 'NOBODY'") == 1
    assert [h for h in hazards(gw) if h["device"] == "NOBODY"] == []


# ---- a flood ----


def test_flood_nothing_dropped(gw, brokers, daemon_factory):
    """3,000 QoS 1 messages in one burst (alarm, normal, alarm, ...) on one alarm, through a
    broker set up as docs/profiles.md asks (max_queued_messages raised): every one is read and
    judged, so the ledger holds exactly one event per message (raised, then cleared and
    recurred in turn), and the broker dropped none."""
    b = brokers()
    gw.write(b, device("sa-f", "FL1"))
    d = start(daemon_factory, gw)
    n = 3000
    lines = [json.dumps({"code": 1 if i % 2 == 0 else 7}) for i in range(n)]
    t0 = time.monotonic()
    b.publish_lines("smoke/FL1/event", lines)
    h = wait_hazard(gw, d, device="sa-f", kind="fire_alarm")
    wait_until(f"{n} events", lambda: len(events(gw, h["id"])) >= n, d, timeout=6 * TIMEOUT)
    took = time.monotonic() - t0
    evs = events(gw, h["id"])
    print(f"{n} messages published and committed as events in {took:.2f} s")
    assert len(evs) == n
    assert evs[:3] == ["raised", "cleared", "recurred"]
    assert evs.count("cleared") == n // 2
    assert count(b.log_lines(), r"[Oo]utgoing messages are being dropped") == 0


# ---- why no data, per device, for a payload whose key could not be read (issue 17) ----


@pytest.fixture
def ctl_dir():
    """A short directory for a control socket (AF_UNIX paths hold 107 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="fgw-mq-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_bad_payload_before_its_key_counted_on_its_device(gw, brokers, daemon_factory, ctl_dir):
    """A smoke-json payload (its key inside it) that fails the UTF-8 or JSON check before the
    key could be read is counted by reason on the device its topic names, and always by reason
    gateway-wide; `firegwctl devices` shows the last bad payload's reason."""
    b = brokers()
    sock = ctl_dir / "ctl"
    gw.write(b, device("sj-1", "SJ1", profile="smoke-json"))
    gw.conf.write_text(gw.conf.read_text(encoding="utf-8") +
                       f'gateway {{\n  control_socket = "{sock}"\n}}\n', encoding="utf-8")
    d = start(daemon_factory, gw)
    b.publish("smoke/SJ1/state", b"not json {")
    b.publish("smoke/SJ1/state", b'{"id": "SJ1", "x": "\xff\xfe"}')
    b.publish("smoke/NOBODY/state", b"not json either")

    def ctl(*args):
        r = run_tool(BUILD_ROOT / "firegwctl", ["-s", sock, *args], timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def status():
        st = json.loads(ctl("--json", "status"))
        return st if st.get("mqtt", {}).get("no_key") == 3 else None

    st = wait_until("three messages without a key counted", status, d)
    assert st["mqtt"]["no_key_by_reason"] == {"not JSON": 2, "invalid UTF-8": 1}, st["mqtt"]
    dev = next(x for x in st["devices"] if x["id"] == "sj-1")
    assert dev["counters"]["bad_by_reason"] == {"not JSON": 1, "invalid UTF-8": 1}, dev
    assert dev["counters"]["messages"] == 2
    assert dev["why"] == "silent; last payload bad (invalid UTF-8)", dev
    line = next(l for l in ctl("devices").splitlines() if l.startswith("sj-1"))
    assert "silent; last payload bad (invalid UTF-8)" in line, line
    zh = _run_to_end("firegwctl", [str(BUILD_ROOT / "firegwctl")], None,
                     ["-s", sock, "devices"], TIMEOUT, env=person_env("zh_CN.UTF-8"))
    line = next(l for l in zh.stdout.splitlines() if l.startswith("sj-1"))
    assert "无上报; 最近报文错误 (不是有效的 UTF-8)" in line, line
    d.wait_log(r"<4>mqtt device 'sj-1' \(key SJ1\): message ignored: not JSON")
    assert hazards(gw) == []


# ---- the ledger failing ----


@pytest.fixture
def small_data(gw):
    """gw.data on a tmpfs of 8 MiB (conftest.small_tmpfs)."""
    yield from small_tmpfs(gw.data)


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_ledger_failing_keeps_the_broker_connection(gw, brokers, daemon_factory, small_data,
                                                    tmp_path, tls):
    """The disk fills while a smoke alarm is silenced: firegw took the QoS 1 message and cannot
    commit it, so it does not acknowledge it (PUBACK held), but it keeps the connection alive
    (PINGREQ still goes) through three keepalive periods: the broker never drops it and never
    sends the message again, and once the disk has room the silence is recorded once. Over
    plain TCP and over TLS."""
    from test_reliability import fill
    ca = TestCA(tmp_path / "ca") if tls else None
    b = brokers(tls=ca)
    gw.write(b, device("sa-1", "K1"), keepalive="5s",
             mqtt_extra=f'  tls = true\n  ca_file = "{ca.ca_cert}"\n'
                        f'  cert_file = "{ca.client_cert}"\n  key_file = "{ca.client_key}"\n'
             if tls else "")
    d = start(daemon_factory, gw)

    def code(broker, key, c):
        broker.publish(f"smoke/{key}/event", json.dumps({"code": c, "ts": NOW}), tls=ca)

    code(b, "K1", 1)
    h = wait_hazard(gw, d, device="sa-1", kind="fire_alarm")
    mark = d.mark()
    filler = small_data / "filler"
    fill(filler)
    code(b, "K1", 2)
    d.wait_log(r"disk full|database or disk is full", since=mark)
    time.sleep(3 * 5 + 3)  # a broker drops a client silent for 1.5 keepalives
    assert events(gw, h["id"]) == ["raised"]
    log = d.log_since(mark)
    assert count(log, r"mqtt: connection lost|mqtt: connected") == 0, "\n".join(log)
    assert count(b.log_lines(), r"firegw-MQ-0001 has exceeded timeout") == 0, b.describe()
    assert count(b.log_lines(), r"New client connected .* as firegw-MQ-0001") == 1, \
        b.describe()
    filler.unlink()
    d.wait_log(r"ledger commit: recovered", since=mark, timeout=3 * TIMEOUT)
    wait_until("the silence recorded", lambda: "silenced" in events(gw, h["id"]), d)
    time.sleep(2)  # a copy sent again would be recorded by now
    assert events(gw, h["id"]) == ["raised", "silenced"]
    assert d.stop() == 0
