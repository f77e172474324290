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


def add_mqtt(gw, broker, *devices):
    text = gw.conf.read_text(encoding="utf-8")
    text += f'mqtt {{\n  host = "127.0.0.1"\n  port = {broker.port}\n  keepalive = "10s"\n}}\n'
    for dev_id, key, profile, location, extra in devices:
        text += (f'device "{dev_id}" {{\n  key = "{key}"\n  profile = "{profile}"\n'
                 f'  location = "{location}"\n  heartbeat_timeout = "30m"\n{extra}}}\n')
    gw.conf.write_text(text, encoding="utf-8")


def test_mqtt_smoke_alarm_and_residual_current(gw, platform, broker, centre, daemon_factory,
                                               pki):
    """An MQTT smoke alarm's fire alarm arrives as a type-2 fire status; an electrical fire
    detector's residual current alarm as a supervisory status (GB 50116: not a fire alarm)
    with its reading as an analog value of the user-defined type 128 in mA; a location longer
    than 31 bytes is cut on a character boundary; a per-device block changes the codes."""
    county, c = platform(), centre()
    gw.write(county.url, pki.ca())
    long_place = "二层配电间东侧剩余电流式电气火灾监控探测器旁"  # 22 characters, 44 bytes
    add_mqtt(gw, broker, ("sa-1", "A-100", "smoke-json", "3F 走廊", ""),
             ("efd-1", "E1", "efd-json", long_place,
              '  setpoint "leak" { hold = "0s" clear_hold = "0s" }\n'))
    add_centre(gw, c, extra='  device "sa-1" {\n    component_type = 42\n    loop = 7\n  }\n')
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    conftest.wait_subscribed(broker, d)

    t0 = time.monotonic()
    broker.publish("smoke/x/state", '{"id": "A-100", "alarm": true, "battery": 90}')
    fire = c.wait_for(lambda: fire_objects(c), timeout=LONG)[0]
    assert time.monotonic() - t0 < ARRIVAL
    assert (fire["system_type"], fire["component_type"]) == (1, 42)
    assert fire["component_address"] & 0xFFFF == 7
    assert fire["description"] == "3F 走廊"

    data = '{"data": [{"ch": "leak", "value": 350}, {"value": 31.5}, {"value": 40}, ' \
           '{"value": 30}, {"value": 30}], "fault": false}'
    broker.publish("efd/E1/data", data)
    sup = c.wait_for(lambda: [o for o in c.objects(2) if "supervisory" in o["flags"]],
                     timeout=LONG)[0]
    assert sup["system_type"] == 0          # no code for 电气火灾监控系统: general
    assert sup["component_type"] == 16      # residual current and temperature: the unit
    assert sup["component_address"] & 0xFFFF == 2
    raw = sup["description_raw"]
    assert raw.rstrip(b"\x00") == long_place.encode("gb18030")[:30]  # 15 characters
    an = c.wait_for(lambda: c.objects(3), timeout=LONG)[0]
    assert (an["analog_type"], an["value"]) == (128, 350)
    assert an["component_address"] == sup["component_address"]
    assert not c.problems()


def test_county_down_centre_keeps_receiving(gw, platform, sims, centre, daemon_factory, pki):
    """The county platform answers 503 for as long as the test runs: the centre still gets
    each fire alarm within the bound, and the county gets every event once it is back."""
    county, c = platform(), centre()
    sim = sims("20")
    county.set_fail("503", retry_after="1", path="events")
    gw.write(county.url, pki.ca(), smoke_port=sim.port, dead=1)
    add_centre(gw, c)
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    d.wait_log(r"HTTP 503", timeout=LONG)
    for n in range(1, 3):
        t0 = time.monotonic()
        sim.set(20, "input", 0, 0b1)
        c.wait_for(lambda: len(fire_objects(c)) >= n, timeout=LONG)
        assert time.monotonic() - t0 < ARRIVAL
        sim.set(20, "input", 0, 0)
        c.wait_for(lambda: len([o for o in c.objects(2) if o["flags"] == ["normal"]]) >= n,
                   timeout=LONG)
    assert not county.events()
    county.set_fail("none")
    wait_until("the county has everything", lambda: not gw.q(
        "SELECT count(*) FROM outbox WHERE lane = 0")[0][0], daemon=d)
    kinds = county_kinds(county)
    assert kinds.count(("fire_alarm", "raised")) + kinds.count(("fire_alarm", "recurred")) == 2
    assert ("device_offline", "raised") in kinds
    # The centre got the device_offline fault too.
    assert [o for o in c.objects(2) if "fault" in o["flags"]]


def test_centre_down_county_keeps_receiving(gw, platform, sims, centre, daemon_factory, pki):
    """The centre is down: the county gets the fire alarm at once; when the centre comes back
    it gets the alarm too (nothing lost), and status showed the link closed meanwhile."""
    county, c = platform(), centre()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port)
    add_centre(gw, c)
    sock = add_control_socket(gw)
    c.stop()
    d = start_gw(daemon_factory, gw)
    sim.set(20, "input", 0, 0b1)
    wait_until("the county has the fire alarm",
               lambda: ("fire_alarm", "raised") in county_kinds(county), daemon=d)
    dest = [x for x in status(sock)["destinations"] if x["name"] == "centre"][0]
    assert dest["gbt26875"]["connected"] is False and dest["outbox"] >= 1
    c.start()
    c.wait_for(lambda: fire_objects(c), timeout=LONG)
    wait_until("the centre's outbox empty", lambda: not gw.q(
        "SELECT count(*) FROM outbox WHERE dest = 'centre'")[0][0], daemon=d)
    dest = [x for x in status(sock)["destinations"] if x["name"] == "centre"][0]
    assert dest["gbt26875"]["connected"] is True and dest["gbt26875"]["last_confirm"]


def test_lost_confirms_resent_same_serial_at_most_three_tries(gw, platform, sims, centre,
                                                              daemon_factory, pki):
    """Two confirms lost: the same frame (same serial, same bytes) three times, stored once by
    the centre. Three lost: three tries, then a new connection and a new exchange; never a
    fourth copy of a frame."""
    county, c = platform(), centre()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port)
    add_centre(gw, c, answer_timeout="1s")
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    c.set_mode("drop", count=2)
    sim.set(20, "input", 0, 0b1)
    ev = c.wait_for(lambda: [e for e in c.events() if e["type"] == 2 and e["deliveries"] >= 3],
                    timeout=LONG)[0]
    copies = [f for f in c.frames() if f.get("cmd") == 2 and f["serial"] == ev["serial"]]
    assert len(copies) == 3 and len({f["raw"] for f in copies}) == 1
    assert len(fire_objects(c)) == 1

    conns = c.state()["connections"]
    c.set_mode("drop", count=3)
    sim.set(20, "input", 0, 0)
    c.wait_for(lambda: [e for e in c.events() if e["type"] == 2 and e["deliveries"] == 1 and
                        e["objects"][0]["flags"] == ["normal"] and
                        c.state()["connections"] > conns], timeout=LONG)
    by_raw = {}
    for f in c.frames():
        if f.get("cmd") == 2 and f["length"]:
            by_raw[f["raw"]] = by_raw.get(f["raw"], 0) + 1
    assert max(by_raw.values()) <= 3
    d.wait_log(r"no answer from the centre to 3 tries of 1\.0 s", timeout=LONG)


def test_kill_9_during_an_exchange_loses_nothing(gw, platform, sims, centre, daemon_factory,
                                                 pki):
    """firegw is killed while the centre holds back its confirm: after a restart the centre
    gets the fire alarm confirmed and the county has it; both outboxes empty."""
    county, c = platform(), centre()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port)
    add_centre(gw, c, answer_timeout="5s")
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    c.set_mode("drop")
    sim.set(20, "input", 0, 0b1)
    c.wait_for(lambda: fire_objects(c), timeout=LONG)
    d.send(signal.SIGKILL)
    d.wait_exit()
    c.set_mode("none")
    confirmed = c.state()["confirmed"]
    d2 = start_gw(daemon_factory, gw, name="firegw-2")
    c.wait_for(lambda: c.state()["confirmed"] > confirmed and not gw.q(
        "SELECT count(*) FROM outbox WHERE dest = 'centre'")[0][0], timeout=LONG)
    wait_until("the county has the fire alarm",
               lambda: ("fire_alarm", "raised") in county_kinds(county), daemon=d2)
    wait_until("both outboxes empty", lambda: not gw.q(
        "SELECT count(*) FROM outbox WHERE lane = 0")[0][0], daemon=d2)
    assert fire_objects(c)


def test_filter_and_three_destinations(gw, platform, sims, centre, daemon_factory, pki):
    """Three destinations: the county (everything), the centre (fire alarms and faults,
    raised and cleared) and an insurer over HTTPS (immediate grade only). The county's
    verification of the fire alarm (an incident: 核警) reaches the county only; the centre never had a workflow
    event queued (none went without a frame); each destination's outbox empties."""
    county, insurer, c = platform(), platform(), centre()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port, dead=1, heartbeat="1s")
    add_centre(gw, c, extra='  events = {"raised", "cleared"}\n'
                            '  kinds = {"fire_alarm", "device_offline", "device_fault"}\n')
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'platform "insurer" {{\n  url = "{insurer.url}"\n  token_file = "{gw.token}"\n'
                f'  ca_file = "{pki.ca()}"\n  heartbeat = "1s"\n  backoff_max = "1s"\n'
                '  grades = {"immediate"}\n}\n')
    sock = add_control_socket(gw)
    d = start_gw(daemon_factory, gw)
    sim.set(20, "input", 0, 0b1)
    fire = d.wait_log(r"hazard (\S+) raised: fire_alarm", timeout=LONG).group(1)
    c.wait_for(lambda: fire_objects(c), timeout=LONG)
    county.queue_command({"id": "a1", "type": "incident.verify", "hazard_id": fire,
                          "outcome": "false_alarm", "actor": "值班员 张三"})
    wait_until("the county has the verification",
               lambda: ("fire_alarm", "verified") in county_kinds(county), daemon=d)
    wait_until("every outbox empty", lambda: not gw.q(
        "SELECT count(*) FROM outbox WHERE lane = 0")[0][0], daemon=d)
    assert [o for o in c.objects(2) if "fault" in o["flags"]]  # the device_offline
    st = status(sock)
    assert [x["name"] for x in st["destinations"]] == ["platform", "centre", "insurer"]
    g = st["destinations"][1]["gbt26875"]
    assert g["events_without_frame"] == 0 and g["connected"]
    assert {e["body"]["hazard"]["kind"] for e in insurer.events()} == {"fire_alarm"}
    assert not c.problems()


def test_control_frames_answered(gw, platform, centre, daemon_factory, pki):
    """The centre's clock sync and roll call are confirmed and shown in status; its reads of
    the UITD status, operation records, version, configuration and time are answered with
    types 21, 24, 25, 26 and 28; initialise and a read firegw does not answer are denied and
    counted. With apply_clock_sync the frames' times follow the centre's clock."""
    county, c = platform(), centre()
    gw.write(county.url, pki.ca())
    add_centre(gw, c, extra="  apply_clock_sync = true\n")
    sock = add_control_socket(gw)
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)

    def answer(serial):
        return c.wait_for(lambda: c.reply(serial), timeout=LONG)[0]

    assert answer(c.roll_call(minutes=5))["cmd"] == 3
    # Bytes before a frame, a frame split over two writes, two frames in one write: each
    # frame found and answered, the noise skipped and counted.
    from centre import build_frame
    frames = [build_frame(serial, c.address, SOURCE_ADDRESS, 4, bytes((typ, 1, 0)), c.clock())
              for serial, typ in ((901, 81), (902, 85), (903, 88))]
    c.send_raw(b"\x00\x01noise" + frames[0][:10])
    time.sleep(0.3)
    c.send_raw(frames[0][10:] + frames[1] + frames[2])
    for serial, typ in ((901, 21), (902, 25), (903, 28)):
        assert answer(serial)["type"] == typ
    a = answer(c.read(81))
    assert (a["cmd"], a["type"], a["objects"][0]["flags"]) == (5, 21, ["normal"])
    a = answer(c.read(84, records=5))
    assert (a["cmd"], a["type"], a["objects"]) == (5, 24, [])
    a = answer(c.read(85))
    assert (a["cmd"], a["type"]) == (5, 25)
    ver = conftest.project_version().split(".")
    assert (a["objects"][0]["major"], a["objects"][0]["minor"]) == (int(ver[0]), int(ver[1]))
    a = answer(c.read(86))
    assert a["type"] == 26 and a["objects"][0]["config"].startswith(f"firegw {'.'.join(ver)}")
    assert f"gateway={GATEWAY}" in a["objects"][0]["config"]
    a = answer(c.read(88))
    assert a["type"] == 28
    assert answer(c.initialise())["cmd"] == 6
    assert answer(c.send_frame(4, bytes((61, 1, 0))))["cmd"] == 6

    from datetime import datetime, timedelta
    ahead = datetime.now().replace(microsecond=0) + timedelta(hours=1)
    assert answer(c.clock_sync(ahead, reserved=True))["cmd"] == 3
    hb = c.state()["heartbeats"]
    c.wait_for(lambda: c.state()["heartbeats"] > hb, timeout=LONG)
    last = [f for f in c.frames() if f.get("cmd") == 2][-1]
    assert abs((last["time"] - ahead).total_seconds()) < 600, last["time"]

    st = [x for x in status(sock)["destinations"] if x["name"] == "centre"][0]["gbt26875"]
    assert st["roll_calls"] == 1 and st["last_roll_call"] and st["roll_call_minutes"] == 5
    assert st["clock_syncs"] == 1 and st["clock_applied"] is True
    assert 3000 * 1000 < st["clock_offset_ms"] < 4200 * 1000
    assert st["controls_denied"] == 2
    assert st["input_skipped"], st  # the noise before the first frame
    text = run_tool(conftest.BUILD_ROOT / "firegwctl", ["-s", str(sock), "status"],
                    timeout=LONG).stdout
    assert "centre link idle" in text or "centre link waiting" in text, text
    assert "roll calls 1 (last 20" in text and "controls denied 2" in text, text
    d.wait_log(r"roll call .* answered", timeout=LONG)


def test_reload_and_stop_mid_exchange(gw, platform, sims, centre, daemon_factory, pki):
    """A reload while the centre holds back its confirm: the new transport connects again and
    sends the alarm in a new exchange, which the centre confirms; a stop while a frame waits
    for its answer exits cleanly (the fixture checks the exit code)."""
    county, c = platform(), centre()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port)
    add_centre(gw, c, answer_timeout="5s")
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    c.set_mode("drop")
    sim.set(20, "input", 0, 0b1)
    c.wait_for(lambda: fire_objects(c), timeout=LONG)
    conns = c.state()["connections"]
    c.set_mode("none")
    d.reload()
    c.wait_for(lambda: c.state()["connections"] > conns and not gw.q(
        "SELECT count(*) FROM outbox WHERE dest = 'centre'")[0][0], timeout=LONG)
    seen = len(c.frames())
    c.set_mode("drop")
    sim.set(20, "input", 0, 0)
    c.wait_for(lambda: [f for f in c.frames()[seen:] if f["cmd"] == 2 and f["length"]],
               timeout=LONG)
    d.stop()
    assert d.returncode == 0


def test_denied_frames_resent_same_serial(gw, platform, sims, centre, daemon_factory, pki):
    """Two denies: the same frame (same serial, same bytes) a second and a third time, the
    third confirmed and stored once. Three denies: the exchange has failed; firegw reconnects
    after its backoff and the event arrives in a new exchange."""
    county, c = platform(), centre()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port)
    add_centre(gw, c)
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    seen = len(c.frames())
    c.set_mode("deny", count=2)
    sim.set(20, "input", 0, 0b1)
    fire = c.wait_for(lambda: fire_objects(c), timeout=LONG)
    sent = [f for f in c.frames()[seen:] if f["cmd"] == 2 and f["length"]]
    assert len(sent) >= 3 and len({f["raw"] for f in sent[:3]}) == 1, sent
    assert len(fire) == 1 and c.state()["denied"] == 2

    conns = c.state()["connections"]
    c.set_mode("deny", count=3)
    sim.set(20, "input", 0, 0)
    d.wait_log(r"the centre denied frame serial \d+ 3 times", timeout=LONG)
    c.wait_for(lambda: c.state()["connections"] > conns and
               [o for o in c.objects(2) if o["flags"] == ["normal"]], timeout=LONG)
    wait_until("the centre's outbox empty", lambda: not gw.q(
        "SELECT count(*) FROM outbox WHERE dest = 'centre'")[0][0], daemon=d)


def test_frame_denied_deny_limit_times_goes_to_dead_letters(gw, platform, sims, centre,
                                                            daemon_factory, pki):
    """A centre that denies a fire alarm's frame at every try, in two exchanges (deny_limit =
    2): the alarm goes to the centre's dead letters with the reason, counted in status, and
    what follows (the clear) reaches the centre; the county has both all along."""
    county, c = platform(), centre()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port)
    add_centre(gw, c, answer_timeout="1s", extra="  deny_limit = 2\n")
    sock = add_control_socket(gw)
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    c.set_mode("deny", count=6)  # 3 tries in each of 2 exchanges
    sim.set(20, "input", 0, 0b1)
    d.wait_log(r"the centre denied the same frame at every try in 2 exchanges", timeout=LONG)
    wait_until("the fire alarm in the centre's dead letters", lambda: gw.q(
        "SELECT reason FROM deadletter WHERE dest = 'centre'"), daemon=d)
    reason = gw.q("SELECT reason FROM deadletter WHERE dest = 'centre'")[0][0]
    assert "denied its frame at every try" in reason
    assert not fire_objects(c) and c.state()["denied"] == 6
    sim.set(20, "input", 0, 0)
    c.wait_for(lambda: [o for o in c.objects(2) if o["flags"] == ["normal"]], timeout=LONG)
    wait_until("the centre's outbox empty", lambda: not gw.q(
        "SELECT count(*) FROM outbox WHERE dest = 'centre'")[0][0], daemon=d)
    wait_until("the county has the fire alarm and its clear",
               lambda: {("fire_alarm", "raised"), ("fire_alarm", "cleared")}
               <= set(county_kinds(county)), daemon=d)
    dest = [x for x in status(sock)["destinations"] if x["name"] == "centre"][0]
    assert dest["gbt26875"]["refused_events"] == 1 and dest["rejected"] == 1


def test_centre_that_closes_at_once_is_a_failure_until_it_answers(gw, platform, centre,
                                                                  daemon_factory, pki):
    """A centre that takes the connection and closes it at the first frame: each time is a
    failure in a row (the backoff grows), not a success because the TCP connect went through;
    once it confirms, the count is 0 again."""
    county, c = platform(), centre()
    gw.write(county.url, pki.ca())
    add_centre(gw, c)
    sock = add_control_socket(gw)
    c.set_mode("close")
    d = start_gw(daemon_factory, gw)

    def centre_status():
        return [x for x in status(sock)["destinations"] if x["name"] == "centre"][0]
    wait_until("three failures in a row",
               lambda: centre_status()["failures_in_a_row"] >= 3, daemon=d)
    assert c.state()["connections"] >= 3
    c.set_mode("none")
    wait_until("the centre answers again", lambda: centre_status()["failures_in_a_row"] == 0
               and centre_status()["gbt26875"]["last_confirm"], timeout=LONG, daemon=d)


def test_fire_alarm_during_the_uitd_status_frame_goes_next(gw, platform, broker, centre,
                                                          daemon_factory, pki):
    """The first fire alarm makes two frames (its fire status, then the UITD status it
    changed). A second fire alarm committed while the UITD frame waits for its confirm goes
    right after it, without waiting for another event to wake the destination."""
    county, c = platform(), centre()
    gw.write(county.url, pki.ca())
    add_mqtt(gw, broker, ("sa-1", "A-100", "smoke-json", "3F 走廊", ""),
             ("sa-2", "A-200", "smoke-json", "4F 走廊", ""))
    add_centre(gw, c, answer_timeout="10s")
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    conftest.wait_subscribed(broker, d)
    seen = len(c.frames())
    c.set_mode("delay", count=2, delay=1.5)
    broker.publish("smoke/x/state", '{"id": "A-100", "alarm": true, "battery": 90}')
    c.wait_for(lambda: [f for f in c.frames()[seen:] if f.get("type") == 21], timeout=LONG)
    broker.publish("smoke/x/state", '{"id": "A-200", "alarm": true, "battery": 90}')
    c.wait_for(lambda: len(fire_objects(c)) == 2, timeout=10)
    assert not c.problems()


def test_fire_alarm_overtakes_the_rest_of_a_batch(gw, platform, broker, centre,
                                                  daemon_factory, pki):
    """A residual current alarm makes two frames (its supervisory status, then its reading).
    The centre holds the first frame's confirm while a smoke alarm fires: the fire alarm's
    frame goes next, before the reading, and nothing is lost."""
    county, c = platform(), centre()
    gw.write(county.url, pki.ca())
    add_mqtt(gw, broker, ("sa-1", "A-100", "smoke-json", "3F 走廊", ""),
             ("efd-1", "E1", "efd-json", "配电间",
              '  setpoint "leak" { hold = "0s" clear_hold = "0s" }\n'))
    add_centre(gw, c, answer_timeout="10s")
    d = start_gw(daemon_factory, gw)
    c.wait_for(lambda: c.objects(21), timeout=LONG)
    conftest.wait_subscribed(broker, d)
    seen = len(c.frames())
    c.set_mode("delay", count=1, delay=5.0)
    data = '{"data": [{"ch": "leak", "value": 350}, {"value": 31.5}, {"value": 40}, ' \
           '{"value": 30}, {"value": 30}], "fault": false}'
    broker.publish("efd/E1/data", data)
    c.wait_for(lambda: [o for o in c.objects(2) if "supervisory" in o["flags"]], timeout=LONG)
    broker.publish("smoke/x/state", '{"id": "A-100", "alarm": true, "battery": 90}')
    c.wait_for(lambda: fire_objects(c) and c.objects(3), timeout=LONG)
    kinds = []
    for f in c.frames()[seen:]:
        if f["cmd"] == 2 and f["length"]:
            flags = f["objects"][0].get("flags", [])
            kinds.append("fire" if f["type"] == 2 and "fire" in flags else f["type"])
    assert kinds.index("fire") < kinds.index(3), kinds
    assert kinds.count(3) == 1 and kinds.count("fire") == 1, kinds
    # The supervisory status the centre confirmed before the fire alarm went is not sent
    # again with the reading that was still to go.
    supervisory = [f for f in c.frames()[seen:] if f["cmd"] == 2 and f["length"] and
                   f["type"] == 2 and "supervisory" in f["objects"][0].get("flags", [])]
    assert len({f["raw"] for f in supervisory}) == 1, supervisory
    assert not c.problems()
