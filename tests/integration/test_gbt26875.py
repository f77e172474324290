# SPDX-License-Identifier: MIT
"""A fire monitoring centre over GB/T 26875.3 as a destination (docs/gbt26875.md): firegw's
transport against the centre simulator written from the standard (tests/centre/centre.py),
beside a county platform over HTTPS (tests/platform/receiver.py), with real detectors (the
Modbus smoke module on the detector simulator, a JSON smoke alarm over mosquitto).

What a centre's engineer and a site's installer would check: a fire alarm arrives as a type-2
fire status with the site's codes and its location in GB 18030; one destination down never
holds back the other; a lost confirm is resent with the same serial, at most `tries` times;
a kill -9 loses nothing at either destination; the filter; three destinations; the centre's
clock sync, roll call and reads answered, and shown in `firegwctl status`.
"""

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

import conftest
from conftest import run_tool
from test_uplink import (GATEWAY, LONG, TOKEN, _clean_exit, gw, pki, platform,  # noqa: F401
                         start_gw, wait_until)

sys.path.insert(0, str(conftest.SOURCE_ROOT / "tests" / "centre"))
from centre import Centre  # noqa: E402

SOURCE_ADDRESS = 0x379      # the gateway, as the centre registered it
ARRIVAL = 10.0              # GB 26875.1-2011 4.1.2: a fire alarm reaches the centre in 10 s


@pytest.fixture
def centre():
    """centre(**kw) -> a started Centre on a free loopback port; all stopped in teardown."""
    made = []

    def make(**kw):
        c = Centre(**kw).start()
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


def add_centre(gw, c, name="centre", extra="", answer_timeout="3s", port=None):
    text = gw.conf.read_text(encoding="utf-8")
    text += (f'platform "{name}" {{\n  transport = "gbt26875"\n'
             f'  url = "gbt26875://127.0.0.1:{port or c.port}"\n'
             f'  source_address = "{SOURCE_ADDRESS:#x}"\n  centre_address = "{c.address}"\n'
             f'  answer_timeout = "{answer_timeout}"\n  heartbeat = "2s"\n'
             f'  backoff_max = "1s"\n  connect_timeout = "2s"\n{extra}}}\n')
    gw.conf.write_text(text, encoding="utf-8")


def add_control_socket(gw):
    sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n')
    return sock


def status(sock):
    return json.loads(run_tool(conftest.BUILD_ROOT / "firegwctl",
                               ["-s", str(sock), "--json", "status"], timeout=LONG).stdout)


def fire_objects(c):
    return [o for o in c.objects(2) if "fire" in o["flags"]]


def county_kinds(rx):
    return [(e["body"]["hazard"]["kind"], e["type"]) for e in rx.events(arrival=True)]


def test_modbus_fire_alarm_reaches_centre_as_fire_status(gw, platform, sims, centre,
                                                         daemon_factory, pki):
    """The smoke module's fire alarm reaches the centre as one type-2 object: fire bit, the
    smoke detector's codes (system 1, component 40), the configured location in GB 18030, the
    event's time; the UITD status went first on connect; the clear follows as b0 normal. The
    county platform gets the same alarm."""
    county, c = platform(), centre()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port)
    add_centre(gw, c)
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    assert c.objects(21)[0]["flags"] == ["normal"]

    t0 = time.monotonic()
    sim.set(20, "input", 0, 0b1)
    fires = c.wait_for(lambda: fire_objects(c), timeout=LONG)
    took = time.monotonic() - t0
    assert took < ARRIVAL, f"the fire alarm took {took:.1f} s to reach the centre"
    o = fires[0]
    assert (o["system_type"], o["system_address"], o["component_type"]) == (1, 1, 40)
    assert o["description"] == "3F 走廊"
    assert o["flags"] == ["fire"]
    assert o["component_address"] & 0xFFFF == 1  # loop: the first device of the config
    ev = [e for e in c.events() if e["objects"][0] is o or o in e["objects"]][0]
    assert ev["src"] == SOURCE_ADDRESS
    assert not c.problems()

    sim.set(20, "input", 0, 0)
    c.wait_for(lambda: [x for x in c.objects(2) if x["flags"] == ["normal"]], timeout=LONG)
    wait_until("the county has the fire alarm",
               lambda: ("fire_alarm", "raised") in county_kinds(county), daemon=d)
    wait_until("the centre's outbox empty", lambda: not gw.q(
        "SELECT count(*) FROM outbox WHERE dest = 'centre'")[0][0], daemon=d)
