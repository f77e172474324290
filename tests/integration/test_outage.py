# SPDX-License-Identifier: MIT
"""After the cut (issue 19, item 3): the gateway's own outages. firegw keeps a heartbeat on
disk (<data_dir>/alive: the last moment it knew it was alive, and whether it stopped cleanly);
on a start after an unclean stop (a power cut, a crash, a kill -9) it records a closed
`gateway_outage` item with one `gateway_restarted` event for every destination, whatever each
filters, and `firegwctl status` (its table, its JSON and the platform heartbeat) shows the last
unclean stop and how long the gateway was down. A clean stop or a first start records nothing.

Real peers: two platform receivers over HTTPS (tests/platform/receiver.py), as in
test_destinations.py, whose helpers these tests borrow.
"""

import json
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

import conftest
from conftest import run_tool
from test_destinations import add_destination
from test_uplink import (LONG, _clean_exit, gw, pki, platform,  # noqa: F401
                         start_gw, wait_until)


def iso_s(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def ctl(sock, *args):
    return run_tool(conftest.BUILD_ROOT / "firegwctl", ["-s", str(sock), *args],
                    timeout=LONG).stdout


def restarts(rx):
    return [e for e in rx.events() if e["type"] == "gateway_restarted"]


def two_destinations(gw, platform, pki):
    """A county platform (everything) and a centre that wants raised fire alarms only; a
    control socket of the site's own. Returns (county, centre, socket)."""
    county, centre = platform(), platform()
    gw.write(county.url, pki.ca(), heartbeat="1s")
    add_destination(gw, "centre", centre, pki.ca(),
                    '  events = {"raised"}\n  kinds = {"fire_alarm"}\n')
    sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n')
    return county, centre, sock


def test_restart_after_kill_is_recorded_and_sent_everywhere(gw, platform, daemon_factory, pki):
    county, centre, sock = two_destinations(gw, platform, pki)

    # A first start and a clean stop record nothing.
    d = start_gw(daemon_factory, gw)
    assert json.loads(ctl(sock, "--json", "status"))["last_unclean_stop"] is None
    assert "unclean stop" not in ctl(sock, "status")
    assert d.stop() == 0
    started = time.time()
    d = start_gw(daemon_factory, gw)
    wait_until("a heartbeat at the county", lambda: county.heartbeats(), daemon=d)
    assert restarts(county) == [] and restarts(centre) == []
    assert gw.q("SELECT count(*) FROM hazards WHERE kind = 'gateway_outage'") == [(0,)]

    # A kill -9 (as a power cut or a crash leaves it), then 3 s down.
    d.proc.kill()
    d.wait_exit(timeout=LONG)
    d.close()
    killed = time.time()
    time.sleep(3)
    d = start_gw(daemon_factory, gw)
    back = time.time()
    d.wait_log(r"restarted after an unclean stop", timeout=LONG)
    for rx in (county, centre):
        rx.wait_for(lambda r: restarts(r), timeout=LONG)
    ev = restarts(county)
    assert len(ev) == 1 and len(restarts(centre)) == 1
    assert ev[0]["event_id"] == restarts(centre)[0]["event_id"]
    h = ev[0]["body"]["hazard"]
    assert (h["kind"], h["status"], h["device_id"], h["active"]) == (
        "gateway_outage", "closed", "gateway", False)
    assert h["clean_stop"] is False
    # The last moment known alive is this run's start (the file is rewritten once a
    # minute), before the kill; the outage is at least the 3 s it was down.
    assert started - 1 <= iso_s(h["last_alive"]) <= killed + 1
    assert 3 <= h["outage_s"] <= back - started + 2
    assert iso_s(h["first_seen"]) == iso_s(h["last_alive"])
    assert killed <= iso_s(h["closed_at"]) <= back + 1

    # What an operator and the platform see.
    st = json.loads(ctl(sock, "--json", "status"))
    u = st["last_unclean_stop"]
    assert u["hazard_id"] == h["id"] and u["outage_s"] == h["outage_s"]
    assert u["last_alive"] == h["last_alive"] and u["restarted_at"] == h["closed_at"]
    table = ctl(sock, "status")
    assert "unclean stop" in table and h["id"] in table
    since = time.time()
    wait_until("a heartbeat with the unclean stop", lambda: any(
        iso_s(x["received_at"]) >= since and
        (x["body"].get("last_unclean_stop") or {}).get("hazard_id") == h["id"]
        for x in county.heartbeats()), daemon=d)

    # A clean stop and start after it: nothing new, and the last unclean stop is still shown.
    assert d.stop() == 0
    d = start_gw(daemon_factory, gw)
    assert json.loads(ctl(sock, "--json", "status"))["last_unclean_stop"]["hazard_id"] == h["id"]
    time.sleep(1.5)
    assert len(restarts(county)) == 1
    assert gw.q("SELECT count(*) FROM hazards WHERE kind = 'gateway_outage'") == [(1,)]
    assert d.stop() == 0


def test_torn_heartbeat_file_counts_as_unclean(gw, platform, daemon_factory, pki):
    """A power cut that tore the heartbeat file: the stop was not clean, and the file's
    modification time is the last moment known alive."""
    county, _, sock = two_destinations(gw, platform, pki)
    d = start_gw(daemon_factory, gw)
    assert d.stop() == 0
    alive = gw.data / "alive"
    assert alive.read_text().startswith("firegw-alive 1 stopped ")
    alive.write_bytes(b"firegw-al\0\0")
    t = time.time() - 120
    os.utime(alive, (t, t))
    d = start_gw(daemon_factory, gw)
    county.wait_for(lambda r: restarts(r), timeout=LONG)
    h = restarts(county)[0]["body"]["hazard"]
    assert abs(iso_s(h["last_alive"]) - t) < 2 and h["outage_s"] >= 119
    assert alive.read_text().startswith("firegw-alive 1 running ")
    assert d.stop() == 0
    assert alive.read_text().startswith("firegw-alive 1 stopped ")
