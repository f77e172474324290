# SPDX-License-Identifier: MIT
"""The control socket and firegwctl, the way an installer and an operator use them.

A gateway with a Modbus smoke module on the detector simulator, a converter that does not
answer, and (for the end-to-end test alarm) the platform receiver over HTTPS. Every check runs
the real `firegwctl` binary against the running daemon and reads its table or its --json
reply; malformed requests go straight to the socket, as a broken client would send them.
"""

import json
import os
import socket
import tempfile
import time
from pathlib import Path

import pytest

import conftest
from conftest import BUILD_ROOT, project_version
from test_uplink import (GATEWAY, LONG, Gw, gw, pki, platform,  # noqa: F401 (fixtures)
                         start_gw, wait_delivered, wait_until, _clean_exit)

FIREGWCTL = BUILD_ROOT / "firegwctl"


@pytest.fixture
def sockdir():
    """A short directory for the control socket (AF_UNIX paths hold 107 bytes)."""
    d = tempfile.mkdtemp(prefix="fgw-ctl-")
    yield Path(d)
    for p in Path(d).iterdir():
        p.unlink()
    os.rmdir(d)


def write(gw, sockdir, rx=None, pki=None, smoke_port=None, dead=1, extra=""):
    url = rx.url if rx else "https://127.0.0.1:1/api"
    ca = pki.ca() if pki else "/nonexistent-ca.pem"
    conf = gw.write(url, ca, smoke_port=smoke_port, dead=dead)
    text = conf.read_text(encoding="utf-8")
    if not rx:
        # No platform: the section goes, the uplink stays off.
        text = text[:text.index("platform {")]
    text += f'gateway {{\n  control_socket = "{sockdir / "ctl"}"\n}}\n' + extra
    conf.write_text(text, encoding="utf-8")
    return sockdir / "ctl"


def ctl(sock, *args, check=None):
    """Runs firegwctl; returns CompletedProcess (text). check: the exit code expected."""
    r = conftest.run_tool(FIREGWCTL, ["-s", sock, *args], timeout=LONG)
    if check is not None:
        assert r.returncode == check, (f"firegwctl {' '.join(map(str, args))}: exit "
                                       f"{r.returncode}, expected {check}\n{r.stdout}{r.stderr}")
    return r


def ctl_json(sock, *args, check=0):
    r = ctl(sock, "--json", *args, check=check)
    return json.loads(r.stdout)


def raw(sock, data, read=True):
    """Sends bytes on the socket as they are; returns the reply lines."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(LONG)
    s.connect(str(sock))
    try:
        s.sendall(data)
        if not read:
            return []
        buf = b""
        want = data.count(b"\n") or 1
        while buf.count(b"\n") < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return [json.loads(line) for line in buf.splitlines()]
    finally:
        s.close()


@pytest.fixture
def ctl_bin():
    if not FIREGWCTL.is_file():
        pytest.fail(f"firegwctl not found at {FIREGWCTL}: build it first", pytrace=False)
    return FIREGWCTL


def test_status_and_devices(gw, sockdir, sims, daemon_factory, ctl_bin):
    """status shows the gateway, devices online and offline with their values and why no
    data, hazards by grade, the outbox; devices lists each device; both in --json too."""
    sim = sims("20")
    sock = write(gw, sockdir, smoke_port=sim.port, dead=1)
    d = start_gw(daemon_factory, gw)
    wait_until("smoke-1 online and dead-1 offline",
               lambda: (lambda s: s["devices_online"] == 1 and s["devices_offline"] == 1)(
                   ctl_json(sock, "status")), daemon=d)
    st = ctl_json(sock, "status")
    assert st["ok"] is True and st["gateway"] == GATEWAY
    assert st["version"] == project_version()
    assert st["devices_total"] == 2
    assert set(st["open_hazards"]) == {"immediate", "major", "significant", "general"}
    assert st["platform"]["enabled"] is False
    assert st["disk_free_bytes"] > 0
    devs = {x["id"]: x for x in st["devices"]}
    assert devs["smoke-1"]["why"] == "ok" and devs["smoke-1"]["online"] is True
    assert devs["smoke-1"]["last_ok"]
    assert devs["smoke-1"]["values"]["status"]["value"] == 0
    assert devs["dead-1"]["online"] is False
    assert devs["dead-1"]["why"].startswith("link down (Connection refused")
    # The offline converter made a device_offline item: it counts in its grade.
    wait_until("device_offline counted", lambda: sum(
        ctl_json(sock, "status")["open_hazards"].values()) >= 1, daemon=d)

    out = ctl(sock, "status", check=0).stdout
    assert f"gateway       {GATEWAY}" in out
    assert "1 online, 1 offline" in out
    assert "platform      off" in out
    assert "smoke-1" in out and "dead-1" in out and "link down" in out

    out = ctl(sock, "devices", check=0).stdout.splitlines()
    assert out[0].split()[:4] == ["DEVICE", "TYPE", "WHERE", "STATE"]
    smoke = next(line for line in out if line.startswith("smoke-1"))
    assert "sim/20" in smoke and " ok " in smoke
    assert ctl_json(sock, "devices")["devices"][0]["id"] in ("smoke-1", "dead-1")


def test_hazards_filters_and_one_hazard(gw, sockdir, sims, daemon_factory, ctl_bin):
    """A fire alarm shows in `hazards --open`, by grade, and `hazard ID` gives the item and
    its events; filters and unknown ids answer clearly."""
    sim = sims("20")
    sock = write(gw, sockdir, smoke_port=sim.port, dead=0)
    d = start_gw(daemon_factory, gw)
    sim.set(20, "input", 0, 0b1)
    m = d.wait_log(r"hazard (\S+) raised: fire_alarm", timeout=LONG)
    hid = m.group(1)
    wait_until("the alarm committed",
               lambda: any(h["id"] == hid for h in
                           ctl_json(sock, "hazards", "--open")["hazards"]), daemon=d)

    hs = ctl_json(sock, "hazards", "--open", "--grade", "immediate")["hazards"]
    assert [h["id"] for h in hs] == [hid]
    assert hs[0]["kind"] == "fire_alarm" and hs[0]["status"] == "open"
    assert ctl_json(sock, "hazards", "--grade", "general")["hazards"] == []
    assert [h["id"] for h in ctl_json(sock, "hazards", "--since", "1h")["hazards"]] == [hid]
    assert ctl_json(sock, "hazards", "--since", "2999-01-01")["hazards"] == []
    assert [h["id"] for h in ctl_json(sock, "hazards", "--since", "1h", "--until",
                                      "2999-01-01")["hazards"]] == [hid]
    assert ctl_json(sock, "hazards", "--until", "1h")["hazards"] == []  # raised just now
    assert ctl_json(sock, "hazards", "--device", "nope")["hazards"] == []

    table = ctl(sock, "hazards", check=0).stdout
    assert hid in table and "immediate" in table and "smoke-1/smoke" in table

    one = ctl_json(sock, "hazard", hid)
    assert one["hazard"]["id"] == hid and one["hazard"]["grade"] == "immediate"
    assert one["events"][0]["type"] == "raised"
    # No platform: the event waits in the outbox, and says so.
    assert one["events"][0]["delivery"] == "queued"
    text = ctl(sock, "hazard", hid, check=0).stdout
    assert "grade                  immediate" in text and "raised" in text

    r = ctl(sock, "hazard", f"{GATEWAY}-999999", check=1)
    assert "no such hazard" in r.stderr
    r = ctl(sock, "hazards", "--grade", "urgent", check=1)
    assert "unknown grade 'urgent'" in r.stderr
    r = ctl(sock, "hazards", "--since", "yesterday", check=1)
    assert "is not a date" in r.stderr
    r = ctl(sock, "hazards", "--since", "2026-11-02", "--until", "2026-11-01", check=1)
    assert "is not after since" in r.stderr

    ob = ctl_json(sock, "outbox")
    assert ob["lanes"]["alarm"]["depth"] >= 1
    assert any(e["hazard_id"] == hid and e["type"] == "raised" for e in ob["events"])
    assert "alarm" in ctl(sock, "outbox", check=0).stdout
    assert ctl_json(sock, "deadletter")["deadletter"] == []
    assert "no dead letters" in ctl(sock, "deadletter", check=0).stdout


def test_test_alarm_end_to_end(gw, sockdir, platform, sims, daemon_factory, pki, ctl_bin):
    """`firegwctl test DEVICE` raises a test fire alarm that the platform accepts; it is
    flagged test and closes itself, and an unknown device is a clear error."""
    rx = platform()
    sim = sims("20")
    sock = write(gw, sockdir, rx=rx, pki=pki, smoke_port=sim.port, dead=0)
    d = start_gw(daemon_factory, gw)
    r = ctl(sock, "test", "smoke-1", "--wait", LONG, check=0)
    assert "accepted by the platform after" in r.stdout
    d.wait_log(rf"<5>control: uid {os.getuid()} \(pid \d+\) asks for a test alarm on "
               r"smoke-1$")
    hid = r.stdout.split()[2]
    stored = [e for e in rx.events() if e["hazard_id"] == hid]
    assert [e["type"] for e in stored if e["type"] != "resync"] == ["raised", "cleared",
                                                                     "closed"]
    assert all(e["body"]["hazard"]["test"] is True for e in stored)
    assert stored[0]["body"]["hazard"]["kind"] == "fire_alarm"
    one = ctl_json(sock, "hazard", hid)
    assert {e["delivery"] for e in one["events"]} == {"delivered"}
    assert one["hazard"]["status"] == "closed"
    # A test never counts as an open hazard.
    assert sum(ctl_json(sock, "status")["open_hazards"].values()) == 0
    r = ctl(sock, "test", "box-99", check=1)
    assert "no device 'box-99'" in r.stderr
    wait_delivered(gw, rx, d)


def test_reload_through_the_socket(gw, sockdir, daemon_factory, ctl_bin):
    """reload applies a good config and refuses a bad one with its file:line errors, the
    running config staying."""
    sock = write(gw, sockdir, dead=1)
    d = start_gw(daemon_factory, gw)
    m = d.mark()
    r = ctl(sock, "reload", check=0)
    assert "configuration reloaded" in r.stdout and "1 devices" in r.stdout
    # Who asked is in the log (the kernel's word: SO_PEERCRED).
    d.wait_log(rf"<5>control: uid {os.getuid()} \(pid \d+\) asks for a reload$", since=m)
    good = gw.conf.read_text(encoding="utf-8")
    gw.conf.write_text(good + 'device "x" {\n  bus = "nowhere"\n  unit = 3\n'
                       '  profile = "rcd-4t"\n}\n', encoding="utf-8")
    # check: the same verdict, nothing applied.
    r = ctl(sock, "check", check=1)
    assert f"{gw.conf}:" in r.stdout and "nowhere" in r.stdout and "1 error(s)" in r.stdout
    chk = ctl_json(sock, "check")
    assert chk["valid"] is False and any("nowhere" in e for e in chk["errors"])
    r = ctl(sock, "reload", check=1)
    assert "reload refused" in r.stderr
    assert f"{gw.conf}:" in r.stderr and "nowhere" in r.stderr
    assert d.alive()
    assert ctl_json(sock, "status")["devices_total"] == 1
    gw.conf.write_text(good, encoding="utf-8")
    r = ctl(sock, "check", check=0)
    assert "no errors (1 buses, 1 devices)" in r.stdout, r.stdout


def test_bad_requests_get_errors_and_harm_nothing(gw, sockdir, daemon_factory, ctl_bin):
    """Not JSON, not an object, no cmd, an unknown cmd, wrong types, an overlong line, a
    client that hangs up mid-line: each gets an error reply (or is dropped), the daemon
    answers the next client and nothing recorded is touched."""
    sock = write(gw, sockdir, dead=1)
    d = start_gw(daemon_factory, gw)
    cases = [b"hello\n", b"[1,2]\n", b'{"x":1}\n', b'{"cmd":"fly"}\n', b'{"cmd":7}\n',
             b'{"cmd":"hazards","grade":5}\n', b'{"cmd":"hazards","limit":"ten"}\n',
             b'{"cmd":"hazard"}\n', b'{"cmd":"test"}\n', b'{"cmd":"report","month":"x"}\n',
             b'{"cmd":"status","cmd":"status"}\n', b"\xff\xfe\n"]
    for c in cases:
        (reply,) = raw(sock, c)
        assert reply["ok"] is False and reply["error"], c
    # Several requests in one write: one reply each, in order.
    replies = raw(sock, b'{"cmd":"status"}\n{"cmd":"nope"}\n{"cmd":"devices"}\n')
    assert [r["ok"] for r in replies] == [True, False, True]
    # Too long: an error, then the connection is closed.
    (reply,) = raw(sock, b'{"cmd":"status","pad":"' + b"a" * (70 * 1024) + b'"}\n')
    assert reply["ok"] is False and "longer than" in reply["error"]
    # Half a line, then gone.
    raw(sock, b'{"cmd":"sta', read=False)
    # Many idle connections do not lock the operator out once they go.
    idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(40)]
    for s in idle:
        s.connect(str(sock))
    for s in idle:
        s.close()
    wait_until("status answered again", lambda: ctl(sock, "status").returncode == 0, daemon=d)
    assert d.alive()


def test_firegwctl_usage_and_daemon_not_running(tmp_path, ctl_bin):
    """Usage errors exit 2, an absent daemon exits 3 with a message that says so."""
    r = ctl(tmp_path / "absent", "status", check=3)
    assert "firegw is not running" in r.stderr
    ctl(tmp_path / "absent", "frobnicate", check=2)
    ctl(tmp_path / "absent", "hazard", check=2)
    ctl(tmp_path / "absent", "status", "--grade", "major", check=2)
    r = conftest.run_tool(FIREGWCTL, ["--version"], timeout=LONG)
    assert r.returncode == 0 and project_version() in r.stdout
    r = conftest.run_tool(FIREGWCTL, ["--help"], timeout=LONG)
    assert r.returncode == 0 and "report --month" in r.stdout


def test_socket_permissions_and_second_daemon(gw, sockdir, daemon_factory, ctl_bin):
    """The socket is 0660; a second firegw on the same socket does not steal it."""
    sock = write(gw, sockdir, dead=0)
    start_gw(daemon_factory, gw)
    assert (sock.stat().st_mode & 0o777) == 0o660
    # The second one's ledger goes elsewhere; its socket is the same.
    other = Gw(gw.root / "second")
    other.root.mkdir()
    write(other, sockdir, dead=0)
    d2 = daemon_factory(other.conf, name="second").start(timeout=LONG)
    d2.wait_log(r"another process answers on it", timeout=LONG)
    assert ctl_json(sock, "status")["ok"] is True
    d2.stop()
