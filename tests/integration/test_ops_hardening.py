# SPDX-License-Identifier: MIT
"""Issue 13, the operator's side: what firegwctl prints, the control socket under idle
connections, the files firegw creates outside systemd, and firegw scan's options.

- Text from outside (a device location here; hazard titles, platform notes and reasons take
  the same path) reaches firegwctl's tables with ESC and newlines as visible \\xNN escapes,
  and its --json output exactly as the daemon holds it.
- 32 connections that never send a request do not lock firegwctl out: each is closed after
  CONTROL_IDLE_MS (10 s), and the turned-away connections are logged once a minute at most.
- Started with umask 000, firegw still creates its ledger 0640 or stricter.
- firegw scan refuses a negative --timeout and a --baud that is not a number, saying what
  it must be.
"""

import json
import os
import re
import socket
import stat
import time

import conftest
from conftest import run_firegw
from test_control import ctl, ctl_bin, ctl_json, sockdir, write  # noqa: F401 (fixtures)
from test_uplink import (LONG, gw, start_gw, wait_until,  # noqa: F401 (fixtures)
                         _clean_exit)

# daemon/control.c: CONTROL_MAX_CLIENTS and CONTROL_IDLE_MS.
MAX_CLIENTS = 32
IDLE_S = 10.0

ESC_LOCATION = "3F 走廊\x1b[2J\nFORGED line"
ESC_SHOWN = "3F 走廊\\x1b[2J\\x0aFORGED line"


def _conf_with_location(gw, sockdir, location_conf):
    """The site with one dead converter whose device has that location (config syntax)."""
    sock = write(gw, sockdir, dead=1)
    text = gw.conf.read_text(encoding="utf-8")
    assert 'location = "dead box 1"' in text
    gw.conf.write_text(text.replace('location = "dead box 1"', f'location = "{location_conf}"'),
                       encoding="utf-8")
    return sock


def test_firegwctl_escapes_control_characters(gw, sockdir, daemon_factory, ctl_bin):
    """ESC [2J and a newline in a location: escaped in devices and hazard (its location
    and its title, which names the location), exact in --json; the Chinese text around
    them passes unchanged."""
    # The config's own escapes put a real ESC and newline into the location.
    sock = _conf_with_location(gw, sockdir, "3F 走廊\\x1b[2J\\nFORGED line")
    d = start_gw(daemon_factory, gw)
    devs = {x["id"]: x for x in ctl_json(sock, "devices")["devices"]}
    assert devs["dead-1"]["location"] == ESC_LOCATION

    r = ctl(sock, "devices", check=0)
    assert "\x1b" not in r.stdout and "\r" not in r.stdout
    assert ESC_SHOWN in r.stdout, r.stdout
    assert not any(line.startswith("FORGED") for line in r.stdout.splitlines()), r.stdout

    hid = wait_until("the device_offline item of dead-1", lambda: next(
        (h["id"] for h in ctl_json(sock, "hazards")["hazards"] if h["device_id"] == "dead-1"),
        None), daemon=d)
    one = ctl_json(sock, "hazard", hid)
    assert one["hazard"]["location"] == ESC_LOCATION
    # --json: the daemon's text, exactly (JSON escapes it: no raw ESC on the terminal).
    r = ctl(sock, "--json", "hazard", hid, check=0)
    assert "\x1b" not in r.stdout
    assert json.loads(r.stdout)["hazard"]["location"] == ESC_LOCATION
    r = ctl(sock, "hazard", hid, check=0)
    assert "\x1b" not in r.stdout
    assert re.search(r"^location +" + re.escape(ESC_SHOWN) + "$", r.stdout, re.M), r.stdout
    assert re.search(r"^title +.*" + re.escape(ESC_SHOWN), r.stdout, re.M), r.stdout
    assert not any(line.startswith("FORGED") for line in r.stdout.splitlines()), r.stdout


def _connect(sock):
    """A connection to the socket; waits (bounded) while firegw's listen backlog is full."""
    deadline = time.monotonic() + LONG
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(LONG)
        try:
            s.connect(str(sock))
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _closed_without_reply(s):
    """True if firegw closed the connection and sent nothing on it."""
    s.settimeout(LONG)
    return s.recv(4096) == b""


def _request(f, cmd="status"):
    f.write(json.dumps({"cmd": cmd}).encode() + b"\n")
    f.flush()
    return json.loads(f.readline())


def test_idle_connections_do_not_lock_out_firegwctl(gw, sockdir, daemon_factory, ctl_bin):
    """All MAX_CLIENTS places held (one connection sending half a line, one asking for the
    status every half second, the rest silent) and 8 more: those and firegwctl are turned
    away at once, with a reply that says why, and make one warning, not one each. After the
    idle timeout firegw has closed the silent and the half-line ones, not the busy one, and
    firegwctl is served."""
    sock = write(gw, sockdir, dead=0)
    d = start_gw(daemon_factory, gw)
    m = d.mark()
    t0 = time.monotonic()
    held = [_connect(sock) for _ in range(MAX_CLIENTS)]
    busy = held.pop()
    held[0].sendall(b'{"cmd": "sta')
    extra = [_connect(sock) for _ in range(8)]
    f = busy.makefile("rwb")
    try:
        assert _request(f)["ok"] is True
        for s in extra:
            reply = json.loads(s.recv(4096).split(b"\n")[0])
            assert reply["ok"] is False and "too many control connections" in reply["error"]
        r = ctl(sock, "status", check=1)
        assert "too many control connections" in r.stderr, r.stderr
        d.wait_log(r"<4>control socket .*: turned away a connection from uid \d+ \(pid \d+\): "
                   rf"all {MAX_CLIENTS} places are taken \(idle ones close after 10 s\); "
                   r"0 more turned away since the last warning", since=m)
        # firegwctl is served again once firegw has closed the idle ones, not before; the
        # busy connection is served all along.
        deadline = t0 + (IDLE_S + 10) * conftest.SLOW
        while ctl(sock, "status").returncode != 0:
            assert time.monotonic() < deadline, f"firegwctl not served\n{d.log_text()}"
            assert _request(f)["ok"] is True
            time.sleep(0.5)
        waited = time.monotonic() - t0
        assert waited >= IDLE_S - 1, f"served after {waited:.1f} s, before the idle timeout"
        for s in held:
            assert _closed_without_reply(s)
        assert _request(f)["ok"] is True
        assert "gateway" in ctl(sock, "status", check=0).stdout
        # 8 raw and at least 1 firegwctl connection turned away within the minute: 1 line.
        turned = [x for x in d.log_since(m) if "turned away a connection" in x]
        assert len(turned) == 1, turned
    finally:
        f.close()
        for s in held + extra + [busy]:
            s.close()


def test_ledger_not_readable_by_others_without_systemd(gw, sockdir, daemon_factory, ctl_bin):
    """Started from a shell whose umask is 000 (no systemd UMask=), firegw still creates
    its ledger 0640 or stricter, and runs with a umask of at least 027."""
    write(gw, sockdir, dead=0)
    old = os.umask(0)
    try:
        d = start_gw(daemon_factory, gw)
    finally:
        os.umask(old)
    status = open(f"/proc/{d.pid}/status", encoding="utf-8").read()
    um = int(re.search(r"^Umask:\s+([0-7]+)", status, re.M).group(1), 8)
    assert um & 0o027 == 0o027, f"firegw runs with umask {um:04o}"
    wait_until("the ledger file", lambda: gw.ledger.exists(), daemon=d)
    for p in [gw.ledger, *gw.ledger.parent.glob(gw.ledger.name + "-*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode & 0o027 == 0, f"{p} is {mode:04o}: readable by others or group-writable"


def test_scan_refuses_bad_numbers():
    """firegw scan: a negative --timeout and a --baud that is no number exit non-zero and
    say what the option must be; nothing is opened."""
    r = run_firegw("scan", "--port", "/dev/null", "--timeout", "-5")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "firegw scan: --timeout must be 1..60000 ms, not '-5'" in r.stderr, r.stderr
    r = run_firegw("scan", "--port", "/dev/null", "--baud", "abc")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "firegw scan: --baud must be a standard rate" in r.stderr
    assert "not 'abc'" in r.stderr, r.stderr
    r = run_firegw("scan", "--tcp", "127.0.0.1:99999")
    assert r.returncode == 2 and "the port must be 1..65535, not '99999'" in r.stderr, r.stderr
    r = run_firegw("scan", "--port", "/dev/null", "--timeout", "100x")
    assert r.returncode == 2 and "not '100x'" in r.stderr, r.stderr
