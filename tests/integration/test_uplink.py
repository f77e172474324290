# SPDX-License-Identifier: MIT
"""The HTTPS uplink against the platform receiver (tests/platform/receiver.py), for real.

Every test runs the receiver over HTTPS with a certificate for 127.0.0.1 made by a test CA (the
openssl CLI, once per session), and firegw with `ca_file` pointing at that CA and a bearer
token. Hazards come from real acquisition: a Modbus smoke module (the detector simulator)
raising fire alarms, and detectors on a converter that does not answer (a closed TCP port),
which go device_offline within a poll. The receiver stores what it accepts in SQLite,
deduplicated by event_id, and can be told to fail; the tests compare what it stored with the
ledger, where a user (or the platform) would look. Waits are bounded and generous; no test
asserts a tight timing (the one lower bound, Retry-After, has a 0.1 s margin).
"""

import base64
import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime

import pytest

import conftest
from conftest import (BUILD_ROOT, PROFILES, SOURCE_ROOT, ledger_query, project_version,
                      run_firegw)

sys.path.insert(0, str(SOURCE_ROOT / "tests" / "platform"))
from receiver import ISO_MS, Receiver, heartbeat_problems, hazard_problems  # noqa: E402

GATEWAY = "UP-0001"
TOKEN = "test-token"
# Long enough for a sanitized build on a busy machine; every wait ends as soon as it can.
LONG = 30.0


# ---- a test PKI, made with the openssl CLI ----


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, f"openssl {' '.join(args)}:\n{r.stderr}"


def _make_ca(d, name, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={cn}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _make_cert(d, name, ca, san, eku="serverAuth"):
    (d / f"{name}.ext").write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                                   "keyUsage=critical,digitalSignature\n"
                                   f"extendedKeyUsage={eku}\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
             cwd=d)


class Pki:
    def __init__(self, d):
        self.dir = d

    def ca(self, name="ca"):
        return self.dir / f"{name}.pem"

    def cert(self, name):
        return self.dir / f"{name}.pem", self.dir / f"{name}.key"

    def pin(self, name):
        """curl's public-key pin of a certificate: sha256// and the base64 of the SHA-256 of
        its DER public key."""
        pem = subprocess.run(["openssl", "x509", "-in", self.dir / f"{name}.pem", "-pubkey",
                              "-noout"], capture_output=True, check=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pem,
                             capture_output=True, check=True).stdout
        return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """ca: the test CA; server: 127.0.0.1 (IP SAN) signed by it; other-ca and other-server:
    the same name under a CA firegw does not trust; wrong-host: signed by the test CA for a
    name that is not 127.0.0.1; client: a client certificate for the gateway."""
    d = tmp_path_factory.mktemp("pki")
    _make_ca(d, "ca", "firegw test CA")
    _make_ca(d, "other-ca", "some other CA")
    _make_cert(d, "server", "ca", "IP:127.0.0.1")
    _make_cert(d, "other-server", "other-ca", "IP:127.0.0.1")
    _make_cert(d, "wrong-host", "ca", "DNS:platform.example.invalid")
    _make_cert(d, "client", "ca", f"DNS:{GATEWAY}", eku="clientAuth")
    return Pki(d)


# ---- the platform ----


@pytest.fixture
def platform(pki, tmp_path):
    """platform(cert="server", token=TOKEN, port=0, strict=True, db=...) -> a started
    Receiver over HTTPS under /api; every one is stopped in teardown."""
    made = []

    def make(cert="server", token=TOKEN, port=0, strict=True, db=None, client_ca=None):
        c, k = pki.cert(cert)
        rx = Receiver(db=db or tmp_path / f"platform-{len(made)}.db", port=port, token=token,
                      base="/api", tls_cert=c, tls_key=k, strict=strict, client_ca=client_ca)
        made.append(rx)
        return rx.start()

    yield make
    for rx in made:
        rx.stop()


# ---- the gateway ----


class Gw:
    """A site: its config (written by write()), ledger and token file."""

    def __init__(self, root):
        self.root = root
        self.data = root / "data"
        self.conf = root / "firegw.conf"
        self.ledger = self.data / "ledger.db"
        self.token = root / "platform-token"

    def write(self, url, ca, smoke_port=None, dead=0, batch=100, heartbeat="60s",
              timeout="5s", token=TOKEN, token_mode=0o600, extra_platform=""):
        """dead: that many detectors on a converter that does not answer (each raises a
        device_offline item at its first poll). smoke_port: a Modbus smoke module, unit 20,
        on the simulator at that port."""
        self.token.write_text(token + "\n", encoding="utf-8")
        self.token.chmod(token_mode)
        text = (f'gateway {{\n  id = "{GATEWAY}"\n  data_dir = "{self.data}"\n'
                f'  profile_dir = "{PROFILES}"\n  log_level = "debug"\n}}\n'
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
        text += (f'platform {{\n  url = "{url}"\n  token_file = "{self.token}"\n'
                 f'  ca_file = "{ca}"\n  batch = {batch}\n  heartbeat = "{heartbeat}"\n'
                 f'  timeout = "{timeout}"\n  connect_timeout = "2s"\n'
                 f'  backoff_max = "1s"\n{extra_platform}}}\n')
        self.conf.write_text(text, encoding="utf-8")
        return self.conf

    # ---- looking at the ledger ----

    def q(self, sql, params=()):
        return ledger_query(self.ledger, sql, params)

    def outbox(self):
        return self.q("SELECT count(*) FROM outbox WHERE lane = 0")[0][0]

    def events(self):
        """{event_id: (seq, hazard_id, type)} of every event in the ledger."""
        return {e: (s, h, t) for s, e, h, t in
                self.q("SELECT seq, event_id, hazard_id, type FROM events ORDER BY seq")}

    def hazard(self, hid):
        rows = self.q("SELECT status, info FROM hazards WHERE id = ?", (hid,))
        assert rows, f"no hazard {hid} in the ledger"
        return {"status": rows[0][0], "info": json.loads(rows[0][1])}

    def types(self, hid):
        return [t for t, in self.q("SELECT type FROM events WHERE hazard_id = ? ORDER BY seq",
                                   (hid,))]

    def hazard_ids(self, kind=None):
        sql, p = "SELECT id FROM hazards", ()
        if kind:
            sql, p = sql + " WHERE kind = ?", (kind,)
        return [h for h, in self.q(sql + " ORDER BY num", p)]


@pytest.fixture
def gw(tmp_path):
    return Gw(tmp_path)


def wait_until(what, fn, timeout=LONG, daemon=None, interval=0.1):
    return conftest.wait_until(what, fn, timeout=timeout, daemon=daemon, interval=interval)


def wait_event(gw, hid, typ, d):
    """Waits until the ledger has committed an event of that type for the hazard (the log line
    comes before the commit)."""
    wait_until(f"a committed {typ} event of {hid}", lambda: typ in gw.types(hid), daemon=d)


def wait_delivered(gw, rx, d, timeout=LONG):
    """Waits until the outbox is empty and the receiver holds every event of the ledger."""
    def done():
        if gw.outbox() != 0:
            return False
        stored = {e["event_id"] for e in rx.events()}
        return set(gw.events()) <= stored
    wait_until("every ledger event stored by the platform and an empty outbox", done,
               timeout=timeout, daemon=d)


def wait_resync_delivered(gw, rx, d):
    """The first success after failures queues a resync of the open items: wait until it is
    recorded and delivered too, so that the ledger stands still when compared with the
    platform (else it may be recorded just after the comparison)."""
    wait_until("the resync recorded", lambda: "resync" in {t for _, _, t in gw.events().values()},
               daemon=d)
    wait_delivered(gw, rx, d)


def assert_exactly_once(gw, rx):
    """Every event of the ledger is stored by the platform, none other, each once, with the
    same body every delivery, in seq order per hazard."""
    ledger = gw.events()
    stored = rx.events()
    ids = [e["event_id"] for e in stored]
    assert len(ids) == len(set(ids))
    missing = set(ledger) - set(ids)
    extra = set(ids) - set(ledger)
    assert not missing, f"events never stored by the platform: {[ledger[m] for m in missing]}"
    assert not extra, f"the platform stored events the ledger does not have: {extra}"
    for e in stored:
        seq, hid, typ = ledger[e["event_id"]]
        assert (e["seq"], e["hazard_id"], e["type"]) == (seq, hid, typ)
    st = rx.state()
    assert st["conflicts"] == 0, f"an event_id came back with a different body: {st}"
    assert st["out_of_order"] == 0, f"seq went backwards: {st['out_of_order_details']}"
    return stored


def requests(rx, path="/v1/events"):
    return [r for r in rx.state()["request_log"] if r["path"] == path]


def iso_ms(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000


_STARTED = []


def start_gw(daemon_factory, gw, name=None):
    d = daemon_factory(gw.conf, name=name).start(timeout=LONG)
    _STARTED.append(d)
    return d


@pytest.fixture(autouse=True)
def _clean_exit():
    """Every firegw a test started (and did not kill) exits 0 when stopped: a sanitizer report
    or a crash at shutdown fails the test."""
    _STARTED.clear()
    yield
    for d in _STARTED:
        if d.returncode is None:
            d.close()
        if d.returncode != -signal.SIGKILL:
            assert d.returncode == 0, f"{d.name} exited with {d.returncode}\n{d.log_text()}"
    _STARTED.clear()


# ---- the tests ----


def test_alarm_reaches_platform_with_every_field(gw, platform, sims, daemon_factory, pki):
    """A fire alarm from a Modbus smoke module reaches the platform within seconds, with every
    field of the contract (the receiver runs strict: a missing field would be rejected), its
    events in seq order; the outbox empties."""
    rx = platform()
    sim = sims("20")
    gw.write(rx.url, pki.ca(), smoke_port=sim.port)
    d = start_gw(daemon_factory, gw)
    d.wait_log(r"platform uplink: https://127\.0\.0\.1:\d+/api/v1/events, batches of 100")

    sim.set(20, "input", 0, 0b1)
    m = d.wait_log(r"hazard (\S+) raised: fire_alarm open grade=immediate at smoke-1/smoke",
                   timeout=LONG)
    hid = m.group(1)
    rx.wait_for(lambda r: any(e["hazard_id"] == hid for e in r.events()), timeout=LONG)
    sim.set(20, "input", 0, 0)
    d.wait_log(rf"hazard {hid} cleared", timeout=LONG)
    wait_event(gw, hid, "cleared", d)
    wait_delivered(gw, rx, d)

    stored = assert_exactly_once(gw, rx)
    mine = [e for e in stored if e["hazard_id"] == hid]
    assert [e["type"] for e in mine if e["type"] != "resync"] == ["raised", "cleared"]
    assert [e["seq"] for e in mine] == sorted(e["seq"] for e in mine)
    st = rx.state()
    assert st["rejected"] == 0 and gw.q("SELECT count(*) FROM deadletter")[0][0] == 0

    raised = mine[0]["body"]
    assert raised["event_id"] == mine[0]["event_id"] and raised["type"] == "raised"
    assert ISO_MS.match(raised["at"])
    h = raised["hazard"]
    assert hazard_problems(h) == []
    assert (h["id"], h["kind"], h["grade"], h["status"]) == (hid, "fire_alarm", "immediate",
                                                             "open")
    assert h["id"].startswith(GATEWAY + "-")
    assert (h["device_id"], h["point"], h["active"], h["test"]) == ("smoke-1", "smoke", True,
                                                                    False)
    assert h["site"] == {"county": "示例县", "town": "城关镇", "village": "东门社区",
                         "unit": "东门路 18 号出租屋", "address": "东门路 18 号"}
    assert h["location"] == "3F 走廊"
    assert h["responsible"] == {"name": "王房东", "phone": "13800000001"}
    assert h["acceptor"] == {"name": "城关镇安监办", "phone": "0000-1234567"}
    assert (h["device"]["id"], h["device"]["bus"], h["device"]["address"],
            h["device"]["profile"]) == ("smoke-1", "sim", 20, "smoke-modbus")
    assert h["occurrences"] == 1 and h["first_seen"]
    # A fire alarm is an incident (警情) to verify and close: no rectification deadline.
    assert h["class"] == "incident" and h["deadline"] is None
    cleared = next(e for e in mine if e["type"] == "cleared")["body"]["hazard"]
    assert (cleared["status"], cleared["active"]) == ("open", False) and cleared["cleared_at"]

    # The request itself: gateway and sent_at, bearer token (the receiver checked it).
    assert st["requests"]["/v1/events"].get("401") is None
    latency = mine[0]["received_ms"] - iso_ms(raised["at"])
    print(f"alarm raised -> stored by the platform: {latency:.0f} ms")
    assert gw.outbox() == 0


@pytest.mark.parametrize("bad", ["other-ca", "wrong-host"])
def test_tls_verification_is_on(gw, platform, daemon_factory, pki, bad):
    """A platform whose certificate comes from a CA firegw was not told to trust, or names
    another host, gets nothing: a clear log line, the events stay in the outbox, nothing in
    plaintext. Fixed (the right CA by a reload; the right certificate on the platform), the
    events arrive."""
    rx = platform(cert="other-server" if bad == "other-ca" else "wrong-host")
    gw.write(rx.url, pki.ca(), dead=3)
    d = start_gw(daemon_factory, gw)
    why = (r"SSL certificate problem: (unable to get local issuer certificate|"
           r"self-signed certificate in certificate chain)" if bad == "other-ca" else
           r"no alternative certificate subject name matches target host name '127\.0\.0\.1'")
    d.wait_log(rf"<4>platform uplink: https://127\.0\.0\.1:{rx.port}/api/v1/events: .*{why}"
               r".*event\(s\) stay in the outbox", timeout=LONG)
    wait_until("three device_offline items", lambda: len(gw.hazard_ids()) == 3, daemon=d)
    d.wait_log(r"<7>platform uplink: failure 3 in a row", timeout=LONG)
    if bad == "other-ca":
        assert rx.state()["tls_errors"] >= 3  # the platform saw the handshakes fail
    st = rx.state()
    assert st["events"] == 0 and st["requests_total"] == 0, st
    assert gw.outbox() >= 3

    if bad == "other-ca":
        gw.write(rx.url, pki.ca("other-ca"), dead=3)
        d.reload(timeout=LONG)
    else:
        port = rx.port
        rx.stop()
        rx = platform(cert="server", port=port)
    wait_delivered(gw, rx, d)
    assert_exactly_once(gw, rx)
    if bad != "other-ca":  # a reload starts the uplink afresh
        d.wait_log(r"<5>platform uplink: recovered after \d+ repeated failure", timeout=LONG)


@pytest.mark.parametrize("pin", ["right", "wrong"])
def test_public_key_pin(gw, platform, daemon_factory, pki, pin):
    """pin = the platform's public key: delivered. A pin of another key: nothing is sent,
    although the certificate itself verifies, and the log says why."""
    rx = platform()
    key = pki.pin("server" if pin == "right" else "other-server")
    gw.write(rx.url, pki.ca(), dead=2, extra_platform=f'  pin = "{key}"\n')
    d = start_gw(daemon_factory, gw)
    wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
    if pin == "right":
        wait_delivered(gw, rx, d)
        assert_exactly_once(gw, rx)
        return
    d.wait_log(r"<4>platform uplink: https://\S+/v1/events: SSL: public key does not match "
               r"pinned public key", timeout=LONG)
    d.wait_log(r"<7>platform uplink: failure 3 in a row", timeout=LONG)
    assert rx.state()["events"] == 0 and gw.outbox() >= 2


@pytest.mark.parametrize("with_cert", [True, False], ids=["client-cert", "no-client-cert"])
def test_client_certificate(gw, platform, daemon_factory, pki, with_cert):
    """A platform that requires a client certificate: firegw's cert_file and key_file get the
    events through; without them nothing is accepted and the failure is logged."""
    rx = platform(client_ca=pki.ca())
    c, k = pki.cert("client")
    extra = f'  cert_file = "{c}"\n  key_file = "{k}"\n' if with_cert else ""
    gw.write(rx.url, pki.ca(), dead=2, extra_platform=extra)
    d = start_gw(daemon_factory, gw)
    wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
    if with_cert:
        wait_delivered(gw, rx, d)
        assert_exactly_once(gw, rx)
        return
    d.wait_log(r"<4>platform uplink: https://\S+/v1/events: ", timeout=LONG)
    d.wait_log(r"<7>platform uplink: failure 3 in a row", timeout=LONG)
    assert rx.state()["events"] == 0 and gw.outbox() >= 2


def test_plaintext_is_never_used(gw, tmp_path, daemon_factory, pki):
    """An http:// platform url is refused by `firegw check` with a message that says why; a
    platform that answers in plaintext on the https port gets a TLS hello, never an event."""
    gw.write("http://127.0.0.1:8080/api", pki.ca())
    r = run_firegw("check", "-c", gw.conf)
    assert r.returncode == 1
    assert re.search(r"firegw\.conf:\d+: platform: url 'http://127\.0\.0\.1:8080/api' must "
                     r"start with https://", r.stdout + r.stderr), r.stdout + r.stderr

    rx = Receiver(db=tmp_path / "plain.db", token=TOKEN, base="/api").start()  # no TLS
    try:
        gw.write(f"https://127.0.0.1:{rx.port}/api", pki.ca(), dead=2)
        d = start_gw(daemon_factory, gw)
        d.wait_log(r"<4>platform uplink: https://127\.0\.0\.1:\d+/api/v1/events: .*"
                   r"(SSL|TLS|ssl|tls)", timeout=LONG)
        wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
        # A retry, refused over TLS too (firegw logs each failure and its next attempt): a
        # wrong plaintext request would have come by now.
        d.wait_log(r"<7>platform uplink: failure 2 in a row", timeout=LONG)
        assert rx.state()["events"] == 0 and rx.events() == []
        assert gw.outbox() >= 2
    finally:
        rx.stop()


def test_wrong_token_is_a_failure_then_fixed(gw, platform, daemon_factory, pki):
    """A token the platform does not know: 401, logged with a hint, retried, nothing lost; the
    right token written and reloaded, everything arrives."""
    rx = platform(token="the-token-the-county-issued")
    gw.write(rx.url, pki.ca(), dead=2)
    d = start_gw(daemon_factory, gw)
    d.wait_log(r"<4>platform uplink: HTTP 401 from https://\S+/api/v1/events \(is the token "
               r"in token_file the one the platform issued\?\)", timeout=LONG)
    wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
    wait_until("the 401 retried",
               lambda: rx.state()["requests"].get("/v1/events", {}).get("401", 0) >= 3,
               daemon=d)
    assert rx.state()["events"] == 0 and gw.outbox() >= 2

    gw.write(rx.url, pki.ca(), dead=2, token="the-token-the-county-issued")
    d.reload(timeout=LONG)
    wait_delivered(gw, rx, d)
    assert_exactly_once(gw, rx)


def test_token_file_readable_by_others_refuses_to_start(gw, daemon_factory, pki):
    gw.write("https://127.0.0.1:1/api", pki.ca(), token_mode=0o644)
    d = daemon_factory(gw.conf)
    d.start(wait_ready=False)
    assert d.wait_exit(timeout=LONG) != 0
    text = "\n".join(d.lines)
    assert re.search(rf"{re.escape(str(gw.token))} is readable by others \(mode 0644\); a "
                     rf"token must stay secret: chmod 600 {re.escape(str(gw.token))}", text), \
        d.log_text()
    assert not any("READY=1" in n for n in d.notes)


def test_token_file_missing_keeps_uplink_off(gw, daemon_factory, pki):
    """No token file: the daemon runs and records, the uplink is off and says so."""
    gw.write("https://127.0.0.1:1/api", pki.ca(), dead=1)
    gw.token.unlink()
    d = start_gw(daemon_factory, gw)
    d.wait_log(r"<3>platform token_file .*No such file or directory; the uplink is off until "
               r"it exists \(then reload\)")
    wait_until("a device_offline item", lambda: gw.hazard_ids(), daemon=d)
    assert gw.outbox() >= 1


FAILURES = {
    # mode: (receiver settings, platform options, what the log says)
    "500": ({}, "", r"HTTP 500 from https://\S+/v1/events"),
    "503": ({"retry_after": "1"}, "", r"HTTP 503 from https://\S+/v1/events"),
    "429": ({}, "", r"HTTP 429 from https://\S+/v1/events"),
    "slow": ({"delay": 3.0}, "", r"/v1/events: Operation timed out after \d+ milliseconds"),
    "reset": ({}, "", r"/v1/events: (Recv|Send) failure: Connection reset by peer"),
    "garbage": ({}, "", r"/v1/events: reply is not valid JSON; treated as a failure"),
    "phantom": ({}, "", r"/v1/events: reply accepts an event_id that was not sent; treated as "
                        r"a failure"),
}


@pytest.mark.parametrize("mode", list(FAILURES))
def test_platform_failure_is_retried_same_ids_stored_once(gw, platform, daemon_factory, pki,
                                                           mode):
    """The platform fails twice (mode); firegw logs it, retries with the same event_ids, and
    in the end every event is stored exactly once; nothing is lost or dead-lettered."""
    settings, extra, says = FAILURES[mode]
    rx = platform()
    rx.set_fail(mode, count=2, path="events", **settings)
    gw.write(rx.url, pki.ca(), dead=4, batch=100, timeout="1s" if mode == "slow" else "5s",
             extra_platform=extra)
    d = start_gw(daemon_factory, gw)
    d.wait_log(rf"<4>platform uplink: .*{says}", timeout=LONG)
    wait_until("four device_offline items", lambda: len(gw.hazard_ids()) == 4, daemon=d)
    d.wait_log(r"<5>platform uplink: recovered after \d+ repeated failure", timeout=LONG)
    wait_resync_delivered(gw, rx, d)
    # A slow reply is logged when the platform is done with it, after firegw gave up on it.
    failed = wait_until("both failures in the platform's request log",
                        lambda: [r for r in requests(rx) if r["fail"] == mode][:2]
                        if len([r for r in requests(rx) if r["fail"] == mode]) >= 2 else None,
                        daemon=d)
    assert len([r for r in requests(rx) if r["fail"] == mode]) == 2
    stored = assert_exactly_once(gw, rx)
    stored_ids = {e["event_id"] for e in stored}
    for r in failed:
        assert r["event_ids"], r
        assert set(r["event_ids"]) <= stored_ids, "a retry dropped or changed an event_id"
    if mode in ("slow", "phantom"):
        # The platform had stored them when the reply was lost or wrong: delivered again,
        # stored once.
        again = {e["event_id"] for e in stored if e["deliveries"] >= 2}
        assert again >= set(failed[0]["event_ids"]), stored
    assert gw.q("SELECT count(*) FROM deadletter")[0][0] == 0


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_honoured(gw, platform, daemon_factory, pki, form):
    """A 503 with Retry-After: 3 (or an HTTP date a few seconds ahead): the next attempt comes
    no earlier, although the backoff alone (capped at 1 s here) would have come back sooner."""
    rx = platform()
    ra = "3" if form == "seconds" else formatdate(time.time() + 6, usegmt=True)
    rx.set_fail("503", count=1, retry_after=ra, path="events")
    gw.write(rx.url, pki.ca(), dead=2)
    d = start_gw(daemon_factory, gw)
    wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
    wait_resync_delivered(gw, rx, d)
    assert_exactly_once(gw, rx)
    log = requests(rx)
    i = next(i for i, r in enumerate(log) if r["status"] == "503")
    gap = log[i + 1]["arrived_mono"] - log[i]["arrived_mono"]
    if form == "seconds":
        floor = 3.0
    else:  # what was left of the date when the 503 went out (the daemon took a while to start)
        floor = parsedate_to_datetime(ra).timestamp() - log[i]["arrived_ts"]
        assert floor > 1.0, f"the test's date was too close: {floor:.2f} s"
    print(f"Retry-After {ra!r}: next attempt after {gap:.2f} s (at least {floor:.2f} s)")
    assert gap >= floor - 0.1, f"retried after {gap:.2f} s despite Retry-After {ra!r}: {log}"


def test_rejected_events_go_to_dead_letter_not_retried(gw, platform, daemon_factory, pki):
    """The platform rejects every `raised` event: each moves to the dead-letter table with the
    platform's reason, is sent once and never again, and the outbox empties."""
    rx = platform()
    rx.set_fail("reject", reject_types=["raised"], path="events")
    gw.write(rx.url, pki.ca(), dead=3)
    d = start_gw(daemon_factory, gw)
    wait_until("three device_offline items", lambda: len(gw.hazard_ids()) == 3, daemon=d)
    wait_until("an empty outbox", lambda: gw.outbox() == 0, daemon=d)
    raised = {e: v for e, v in gw.events().items() if v[2] == "raised"}
    assert len(raised) == 3
    dead = {e: (seq, hid, reason) for seq, e, hid, reason in
            gw.q("SELECT seq, event_id, hazard_id, reason FROM deadletter")}
    assert set(dead) == set(raised)
    for e, (seq, hid, reason) in dead.items():
        assert (seq, hid) == raised[e][:2]
        assert reason == "rejected by the test platform (raised)"
        d.wait_log(rf"<3>platform rejected event {e} of {hid}: rejected by the test platform "
                   r"\(raised\); kept in the dead-letter table")
    time.sleep(2.5)  # more than the backoff cap: a retry would have come by now
    sent = [i for r in requests(rx) for i in r.get("event_ids", [])]
    for e in raised:
        assert sent.count(e) == 1, f"rejected event {e} sent {sent.count(e)} times"
    assert not ({ev["event_id"] for ev in rx.events()} & set(raised))
    assert rx.state()["rejected"] == 3
    assert d.alive()


def test_new_alarm_overtakes_backlog(gw, platform, sims, daemon_factory, pki):
    """While the platform is failing, device_offline items pile up in the outbox; a fire alarm
    raised then is the first event the platform gets when it is back (batches of one here),
    ahead of the older ones; every hazard's events stay in seq order."""
    rx = platform()
    rx.set_fail("503", path="events")  # until told otherwise
    sim = sims("20")
    gw.write(rx.url, pki.ca(), dead=6, smoke_port=sim.port, batch=1)
    d = start_gw(daemon_factory, gw)
    wait_until("six device_offline items",
               lambda: len(gw.hazard_ids("device_offline")) == 6, daemon=d)
    d.wait_log(r"<4>platform uplink: HTTP 503", timeout=LONG)
    sim.set(20, "input", 0, 0b1)
    (hid,) = wait_until("a fire_alarm item", lambda: gw.hazard_ids("fire_alarm"), daemon=d)
    wait_event(gw, hid, "raised", d)
    assert gw.outbox() >= 7
    rx.set_fail("none")
    wait_delivered(gw, rx, d)
    assert_exactly_once(gw, rx)
    first = rx.events(arrival=True)[0]
    assert (first["hazard_id"], first["type"]) == (hid, "raised"), rx.events(arrival=True)
    assert first["seq"] > min(e["seq"] for e in rx.events())


def test_kill_9_mid_upload_then_restart_exactly_once(gw, platform, daemon_factory, pki):
    """firegw is killed (SIGKILL) while its first batch is in flight and the platform is
    slowly storing it; after a restart every committed event is stored by the platform
    exactly once, none missing."""
    rx = platform()
    rx.set_fail("slow", count=1, delay=3.0, path="events")
    gw.write(rx.url, pki.ca(), dead=12, batch=5, timeout="10s")
    d = start_gw(daemon_factory, gw, name="firegw#1")
    # The slow request has taken its failure: it is in flight now.
    wait_until("a batch in flight", lambda: rx.state()["fail"]["mode"] == "none", daemon=d)
    d.send(signal.SIGKILL)
    d.wait_exit()
    assert d.returncode == -signal.SIGKILL
    # The platform finishes storing what it was given (its reply goes nowhere).
    rx.wait_for(lambda r: [x for x in requests(r) if x["fail"] == "slow"], timeout=LONG)
    in_flight = [r for r in requests(rx) if r["fail"] == "slow"][0]["event_ids"]
    assert in_flight and rx.state()["events"] >= len(in_flight)
    before = gw.events()
    assert set(in_flight) <= set(before)

    d2 = start_gw(daemon_factory, gw, name="firegw#2")
    wait_until("twelve device_offline items",
               lambda: len(gw.hazard_ids("device_offline")) == 12, daemon=d2)
    wait_delivered(gw, rx, d2)
    d2.stop()
    stored = assert_exactly_once(gw, rx)
    by_id = {e["event_id"]: e for e in stored}
    assert set(before) <= set(by_id)
    # The batch that was in flight went again after the restart: delivered twice, stored once.
    assert all(by_id[e]["deliveries"] >= 2 for e in in_flight)


def test_accepted_batch_leaves_the_outbox_while_the_next_is_at_the_platform(gw, platform,
                                                                              daemon_factory,
                                                                              pki):
    """A backlog drains one batch at a time, the next one sent as soon as the last one's answer
    is in: the last one's acceptance is recorded while the next is still at the platform (not
    only when its answer comes), so the outbox shrinks batch by batch, and in the end every
    event is stored once."""
    rx = platform()
    rx.set_fail("503", path="events")
    gw.write(rx.url, pki.ca(), dead=12, batch=3, timeout="30s")
    d = start_gw(daemon_factory, gw)
    wait_until("twelve device_offline items", lambda: len(gw.hazard_ids()) == 12, daemon=d)
    d.wait_log(r"<4>platform uplink: HTTP 503", timeout=LONG)
    # Each request held 2 s (10 s under valgrind), then stored.
    rx.set_fail("slow", delay=2.0 * conftest.SLOW, path="events")

    def slow():
        return [r for r in requests(rx) if r["fail"] == "slow"]

    def waiting(ids):
        marks = ",".join("?" * len(ids))
        return gw.q(f"SELECT count(*) FROM outbox o JOIN events e ON e.seq = o.seq "
                    f"WHERE o.lane = 0 AND e.event_id IN ({marks})", ids)[0][0]

    for k in (2, 3, 4):
        answered = wait_until(f"{k} batches stored", lambda: slow()[k - 1:k], daemon=d)[0]
        ids = answered["event_ids"]
        assert len(ids) == 3, answered
        wait_until(f"batch {k} out of the outbox", lambda: waiting(ids) == 0, timeout=1.5,
                   daemon=d)
        assert len(slow()) == k, "the next batch was answered before the last one was recorded"
    rx.set_fail("none")
    wait_delivered(gw, rx, d)
    assert_exactly_once(gw, rx)


def test_commands_applied_once_with_results(gw, platform, daemon_factory, pki):
    """Platform commands in replies: acknowledge, assign, accept, close, reopen are applied
    once each (status and an event in the ledger, the event forwarded), invalid ones (unknown
    hazard, closing a closed item, a type nobody knows) change nothing and are answered
    ok=false with the reason; a command id sent again is not applied again, its result is
    reported again."""
    rx = platform()
    # Commands ride on replies: the heartbeat asks for them when there is nothing to send.
    gw.write(rx.url, pki.ca(), dead=2, heartbeat="1s")
    d = start_gw(daemon_factory, gw)
    wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
    wait_delivered(gw, rx, d)
    h1, h2 = gw.hazard_ids()

    cmds = [
        {"id": "c1", "type": "hazard.acknowledge", "hazard_id": h1},
        {"id": "c2", "type": "hazard.assign", "hazard_id": h1, "assignee": "李工",
         "measures": "更换配电箱", "funds": "500", "plan": "三日内",
         "deadline": "2027-01-31T00:00:00.000Z"},
        {"id": "c3", "type": "hazard.accept", "hazard_id": h1},
        {"id": "c4", "type": "hazard.close", "hazard_id": h2},
        {"id": "c5", "type": "hazard.close", "hazard_id": h2},
        {"id": "c6", "type": "hazard.reopen", "hazard_id": h2},
        {"id": "c7", "type": "hazard.acknowledge", "hazard_id": f"{GATEWAY}-999999"},
        {"id": "c8", "type": "hazard.demolish", "hazard_id": h1},
        {"id": "c9", "type": "hazard.regrade", "hazard_id": h2, "grade": "significant",
         "actor": "城关镇安监办 李科员", "role": "town_office", "reason": "无人值守超过三天"},
        {"id": "c10", "type": "incident.verify", "hazard_id": h1, "outcome": "false_alarm"},
    ]
    for c in cmds:
        rx.queue_command(c)
    expect = {"c1": (True, None), "c2": (True, None), "c3": (True, None), "c4": (True, None),
              "c5": (False, "hazard is already closed"), "c6": (True, None),
              "c7": (False, "unknown hazard"), "c8": (False, "unknown command type"),
              "c9": (True, None),
              "c10": (False, "only an incident is verified; this item is a hazard")}

    def results():
        got = {r["id"]: r for r in rx.command_results()}
        return got if set(got) >= set(expect) else None

    got = wait_until("results of all ten commands", results, daemon=d)
    for cid, (ok, reason) in expect.items():
        assert (got[cid]["ok"], got[cid]["reason"]) == (ok, reason), got[cid]

    assert gw.hazard(h1)["status"] == "pending_acceptance"
    pf = gw.hazard(h1)["info"]["platform"]
    assert (pf["assignee"], pf["measures"], pf["funds"], pf["plan"]) == (
        "李工", "更换配电箱", "500", "三日内")
    assert gw.hazard(h2)["status"] == "open"
    assert [t for t in gw.types(h1) if t != "resync"] == ["raised", "acknowledged", "assigned",
                                                          "accepted"]
    assert [t for t in gw.types(h2) if t != "resync"] == ["raised", "closed", "reopened",
                                                          "regraded"]
    ok_rows = dict(gw.q("SELECT id, ok FROM commands"))
    assert ok_rows == {c: int(ok) for c, (ok, _) in expect.items()}

    wait_delivered(gw, rx, d)
    stored = assert_exactly_once(gw, rx)
    by_type = {(e["hazard_id"], e["type"]): e for e in stored}
    assert by_type[(h1, "assigned")]["body"]["hazard"]["status"] == "rectifying"
    assert by_type[(h1, "assigned")]["body"]["hazard"]["platform"]["assignee"] == "李工"
    assert by_type[(h1, "accepted")]["body"]["hazard"]["status"] == "pending_acceptance"
    assert by_type[(h2, "closed")]["body"]["hazard"]["status"] == "closed"
    assert by_type[(h2, "closed")]["body"]["hazard"]["closed_at"]
    assert by_type[(h2, "reopened")]["body"]["hazard"]["status"] == "open"
    regraded = by_type[(h2, "regraded")]["body"]["hazard"]
    assert regraded["grade"] == "significant" and regraded["status"] == "open"
    assert (regraded["regraded"]["from"], regraded["regraded"]["actor"]) == (
        "general", "城关镇安监办 李科员")

    # The same command id again (a reply delivered twice): not applied again, reported again.
    n_events = len(gw.events())
    reports = {r["id"]: r["reports"] for r in rx.command_results()}
    rx.queue_command({"id": "c1", "type": "hazard.acknowledge", "hazard_id": h1})
    rx.queue_command({"id": "c4", "type": "hazard.close", "hazard_id": h2})
    wait_until("c1 and c4 reported again", lambda: all(
        r["reports"] > reports[r["id"]] for r in rx.command_results() if r["id"] in ("c1", "c4")),
        daemon=d)
    assert len(gw.events()) == n_events
    assert [t for t in gw.types(h1) if t != "resync"].count("acknowledged") == 1
    assert gw.hazard(h2)["status"] == "open"
    # The first refusal of a reply is logged in full, the others of that reply counted.
    d.wait_log(r"<4>platform command (c5 \(hazard\.close UP-0001-\d+\) refused: hazard is "
               r"already closed|c7 \(hazard\.acknowledge UP-0001-999999\) refused: unknown "
               r"hazard)")


def test_heartbeat_has_the_contract_fields(gw, platform, daemon_factory, pki):
    """Heartbeats every second (configured) with the fields of DESIGN.md section 5; the strict
    receiver would have refused one that misses any."""
    rx = platform()
    gw.write(rx.url, pki.ca(), dead=2, heartbeat="1s")
    d = start_gw(daemon_factory, gw)
    wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
    wait_delivered(gw, rx, d)
    n = len(rx.heartbeats())
    wait_until("three more heartbeats", lambda: len(rx.heartbeats()) >= n + 3, daemon=d)
    assert rx.state()["requests"]["/v1/heartbeat"].get("400") is None
    hb = [h["body"] for h in rx.heartbeats()]
    last = hb[-1]
    assert heartbeat_problems(last) == []
    assert last["gateway"] == GATEWAY and last["version"] == project_version()
    assert ISO_MS.match(last["sent_at"])
    assert last["devices_offline"] == 2 and last["devices_online"] == 0
    assert last["open_hazards"] == {"immediate": 0, "major": 0, "significant": 0,
                                    "general": 2}
    assert last["open_incidents"] == {"open": 0, "unverified": 0}
    assert last["outbox"] == {"alarm": 0, "telemetry": 0}
    assert last["oldest_unsent_age_s"] == 0
    assert last["disk_free_bytes"] > 0
    assert ISO_MS.match(last["last_upload"])
    assert hb[-1]["uptime_s"] >= hb[0]["uptime_s"]
    assert all(h["gateway"] == GATEWAY for h in rx.heartbeats())


def test_platform_down_then_back_everything_arrives_and_resync(gw, platform, sims,
                                                               daemon_factory, pki):
    """The platform goes away; a fire alarm comes and goes meanwhile. When the platform is
    back, everything arrives in order per hazard, none stored twice, and a resync batch
    carries the current state of every open item."""
    rx = platform()
    sim = sims("20")
    gw.write(rx.url, pki.ca(), dead=2, smoke_port=sim.port)
    d = start_gw(daemon_factory, gw)
    wait_until("two device_offline items",
               lambda: len(gw.hazard_ids("device_offline")) == 2, daemon=d)
    wait_delivered(gw, rx, d)

    port = rx.port
    m = d.mark()
    rx.stop()
    sim.set(20, "input", 0, 0b1)
    hid = d.wait_log(r"hazard (\S+) raised: fire_alarm", since=m, timeout=LONG).group(1)
    sim.set(20, "input", 0, 0)
    d.wait_log(rf"hazard {hid} cleared", since=m, timeout=LONG)
    wait_event(gw, hid, "cleared", d)
    # The first refusal is logged once, for whichever request met it first: the events or,
    # when one falls due meanwhile (a slow firegw under valgrind), the heartbeat.
    d.wait_log(r"<4>platform (uplink|heartbeat): https://127\.0\.0\.1:\d+/api/v1/"
               r"(events|heartbeat): "
               r"Failed to connect "
               r"to 127\.0\.0\.1 port \d+ after \d+ ms: (Couldn't connect to server|"
               r"Connection refused)", since=m, timeout=LONG)
    assert gw.outbox() >= 2
    # A few refused retries (firegw logs each failure and its next attempt).
    d.wait_log(r"<7>platform uplink: failure 3 in a row", since=m, timeout=LONG)

    rx = platform(port=port, db=rx.db_path)
    d.wait_log(r"platform uplink: resync of 3 open item\(s\) queued", since=m, timeout=LONG)
    wait_delivered(gw, rx, d)
    stored = assert_exactly_once(gw, rx)
    mine = [e["type"] for e in stored if e["hazard_id"] == hid and e["type"] != "resync"]
    assert mine == ["raised", "cleared"]
    after = [e for e in stored if e["type"] == "resync" and e["seq"] > gw.events()[
        next(e for e, v in gw.events().items() if v[1] == hid and v[2] == "cleared")][0]]
    assert sorted(e["hazard_id"] for e in after) == sorted(gw.hazard_ids())
    for e in after:
        assert e["body"]["hazard"]["status"] == gw.hazard(e["hazard_id"])["status"]
    d.wait_log(r"<5>platform uplink: recovered after \d+ repeated failure", since=m)


def test_reload_and_stop_mid_upload(gw, platform, daemon_factory, pki):
    """A reload while a batch is in flight drops that request (its reply goes nowhere) and
    the new uplink sends the batch again; SIGTERM while another is in flight exits cleanly.
    Every event ends stored once."""
    rx = platform()
    rx.set_fail("slow", count=1, delay=2.0, path="events")
    gw.write(rx.url, pki.ca(), dead=4, timeout="10s")
    d = start_gw(daemon_factory, gw)
    wait_until("a batch in flight", lambda: rx.state()["fail"]["mode"] == "none", daemon=d)
    d.reload(timeout=LONG)
    wait_until("four device_offline items", lambda: len(gw.hazard_ids()) == 4, daemon=d)
    wait_delivered(gw, rx, d)

    rx.set_fail("slow", count=1, delay=2.0, path="events")
    d.reload(timeout=LONG)  # the new uplink's first contact queues a resync: a batch to send
    wait_until("another batch in flight", lambda: rx.state()["fail"]["mode"] == "none",
               daemon=d)
    assert d.stop(timeout=LONG) == 0
    rx.wait_for(lambda r: [x for x in requests(r) if x["fail"] == "slow"][1:], timeout=LONG)
    assert_exactly_once_or_waiting(gw, rx)


def assert_exactly_once_or_waiting(gw, rx):
    """After a stop: what the platform stored is in the ledger, once each; what it did not
    store still waits in the outbox."""
    ledger = gw.events()
    stored = {e["event_id"] for e in rx.events()}
    assert stored <= set(ledger)
    waiting = {e for e, in gw.q("SELECT e.event_id FROM outbox o JOIN events e ON e.seq = o.seq"
                                " WHERE o.lane = 0")}
    assert set(ledger) - stored <= waiting, "an event neither stored nor waiting"
    assert rx.state()["conflicts"] == 0 and rx.state()["out_of_order"] == 0


def test_county_closed_loop_through_the_platform(gw, platform, sims, daemon_factory, pki):
    """The county's closed loop end to end: a fire alarm is an incident (class, no deadline)
    the platform verifies (核警) and closes; two false alarms of the detector make it a
    repeated_false_alarm hazard; a hazard is supervised (挂牌督办), deferred with a reason,
    submitted, accepted by the acceptor's role only and closed by the owner's role only. Every
    command's event reaches the platform with who acted."""
    rx = platform()
    sim = sims("20")
    gw.write(rx.url, pki.ca(), smoke_port=sim.port, dead=1, heartbeat="1s")
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write('policy {\n  close_requires_acceptance = true\n'
                '  roles {\n    acceptance = {"acceptor"}\n    close = {"owner"}\n  }\n'
                '  false_alarms {\n    count = 2\n  }\n}\n')
    d = start_gw(daemon_factory, gw)
    (off,) = wait_until("the device_offline hazard", lambda: gw.hazard_ids("device_offline"),
                        daemon=d)

    def results(*ids):
        got = {r["id"]: r for r in rx.command_results()}
        return got if set(got) >= set(ids) else None

    incidents = []
    for n in range(2):
        sim.set(20, "input", 0, 0b1)
        inc = wait_until("a new fire-alarm incident", lambda: (
            [h for h in gw.hazard_ids("fire_alarm") if h not in incidents] or None),
            daemon=d)[0]
        incidents.append(inc)
        sim.set(20, "input", 0, 0)
        wait_event(gw, inc, "cleared", d)
        rx.queue_command({"id": f"v{n}", "type": "incident.verify", "hazard_id": inc,
                          "outcome": "false_alarm", "actor": "值班员 张三",
                          "role": "duty_officer"})
        rx.queue_command({"id": f"x{n}", "type": "hazard.close", "hazard_id": inc,
                          "role": "duty_officer"})
        got = wait_until("the incident verified and closed", lambda: results(f"v{n}", f"x{n}"),
                         daemon=d)
        assert got[f"v{n}"]["ok"] and got[f"x{n}"]["ok"], got
    (rfa,) = wait_until("a repeated_false_alarm hazard",
                        lambda: gw.hazard_ids("repeated_false_alarm"), daemon=d)

    cmds = [
        {"id": "s1", "type": "hazard.supervise", "hazard_id": off, "office": "示例县消防救援大队",
         "order_number": "示消督〔2026〕12号", "actor": "李科长", "role": "county_office"},
        {"id": "d1", "type": "hazard.defer", "hazard_id": off, "reason": "等待供电局线路改造",
         "deadline": "2030-01-01T00:00:00.000Z", "actor": "王房东", "role": "owner"},
        {"id": "a1", "type": "hazard.submit", "hazard_id": off, "actor": "李电工"},
        {"id": "a2", "type": "hazard.acceptance", "hazard_id": off, "result": "passed",
         "role": "owner"},
        {"id": "a3", "type": "hazard.acceptance", "hazard_id": off, "result": "passed",
         "role": "acceptor", "actor": "城关镇安监办 赵验收"},
        {"id": "c1", "type": "hazard.close", "hazard_id": off, "role": "acceptor"},
        {"id": "c2", "type": "hazard.close", "hazard_id": off, "role": "owner",
         "actor": "王房东"},
    ]
    for c in cmds:
        rx.queue_command(c)
    got = wait_until("results of the closed loop", lambda: results(*(c["id"] for c in cmds)),
                     daemon=d)
    assert {c: (got[c]["ok"], got[c]["reason"]) for c in got if c in
            {"s1", "d1", "a1", "a2", "a3", "c1", "c2"}} == {
        "s1": (True, None), "d1": (True, None), "a1": (True, None),
        "a2": (False, "role 'owner' may not acceptance (policy.roles.acceptance)"),
        "a3": (True, None),
        "c1": (False, "role 'acceptor' may not close (policy.roles.close)"),
        "c2": (True, None)}

    wait_delivered(gw, rx, d)
    stored = assert_exactly_once(gw, rx)
    by = {}
    for e in stored:
        by.setdefault(e["hazard_id"], []).append(e)
    first = by[incidents[0]]
    raised = first[0]["body"]["hazard"]
    assert (raised["class"], raised["kind"], raised["deadline"]) == ("incident", "fire_alarm",
                                                                      None)
    verified = next(e for e in first if e["type"] == "verified")["body"]["hazard"]
    assert verified["verification"]["outcome"] == "false_alarm"
    assert verified["verification"]["actor"] == "值班员 张三"
    rf = by[rfa][0]["body"]["hazard"]
    assert (rf["class"], rf["kind"], rf["value"]) == ("hazard", "repeated_false_alarm", 2)
    assert rf["false_alarms"]["last_incident"] == incidents[1]
    types = [e["type"] for e in by[off] if e["type"] != "resync"]
    assert types == ["raised", "supervised", "deferred", "accepted", "acceptance_passed",
                     "closed"]
    last = by[off][-1]["body"]["hazard"]
    assert last["supervision"]["order_number"] == "示消督〔2026〕12号"
    assert last["deferrals"][0]["reason"] == "等待供电局线路改造"
    assert last["acceptance"]["actor"] == "城关镇安监办 赵验收"
    assert last["platform"]["actor"] == "王房东" and last["status"] == "closed"
    st = rx.state()
    assert st["rejected"] == 0
