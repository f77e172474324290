# SPDX-License-Identifier: MIT
"""Several destinations (docs/configuration.md, "platform"): each platform block is a
destination with its own delivery state in the ledger, so each gets each event it wants
exactly once in effect, and one that is down never delays another.

Real peers: two platform receivers over HTTPS (tests/platform/receiver.py) and a Modbus smoke
module on the detector simulator, as in test_uplink.py, whose fixtures these tests borrow.
"""

import json
import sqlite3
import tempfile
import time
from pathlib import Path

import conftest
from conftest import ledger_query, run_tool
from test_uplink import (GATEWAY, LONG, _clean_exit, gw, pki, platform,  # noqa: F401
                         start_gw, wait_until)


def add_destination(gw, name, rx, ca, extra=""):
    """Appends a named platform block (the token file of the first) to the site's config."""
    text = gw.conf.read_text(encoding="utf-8")
    text += (f'platform "{name}" {{\n  url = "{rx.url}"\n  token_file = "{gw.token}"\n'
             f'  ca_file = "{ca}"\n  heartbeat = "1s"\n  backoff_max = "1s"\n'
             f'  connect_timeout = "2s"\n{extra}}}\n')
    gw.conf.write_text(text, encoding="utf-8")


def stored(rx, kind=None):
    """(hazard kind, type) of every event the receiver stored, in arrival order."""
    return [(e["body"]["hazard"]["kind"], e["type"]) for e in rx.events(arrival=True)
            if kind is None or e["body"]["hazard"]["kind"] == kind]


def ledger_rows(gw):
    return {d: n for d, n in ledger_query(
        gw.ledger, "SELECT dest, count(*) FROM outbox WHERE lane = 0 GROUP BY dest")}


def test_each_destination_gets_what_it_wants_once(gw, platform, sims, daemon_factory, pki):
    """A county platform (the unnamed block: everything) and a monitoring centre that wants
    raised fire alarms only: the centre gets the fire alarm and nothing else, the county
    every event, each exactly once; status and firegwctl outbox show each destination."""
    county, centre = platform(), platform()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port, dead=1, heartbeat="1s")
    add_destination(gw, "centre", centre, pki.ca(),
                    '  events = {"raised"}\n  kinds = {"fire_alarm"}\n')
    sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n')
    d = start_gw(daemon_factory, gw)
    wait_until("a device_offline item", lambda: gw.hazard_ids("device_offline"), daemon=d)
    sim.set(20, "input", 0, 0b1)
    m = d.wait_log(r"hazard (\S+) raised: fire_alarm", timeout=LONG)
    fire = m.group(1)
    sim.set(20, "input", 0, 0)
    d.wait_log(rf"hazard {fire} cleared", timeout=LONG)
    wait_until("the county has the clear", lambda: ("fire_alarm", "cleared") in stored(county),
               daemon=d)
    wait_until("both outboxes empty", lambda: not ledger_rows(gw), daemon=d)

    assert stored(centre) == [("fire_alarm", "raised")]
    kinds = stored(county)
    assert ("fire_alarm", "raised") in kinds and ("fire_alarm", "cleared") in kinds
    assert ("device_offline", "raised") in kinds
    for rx in (county, centre):
        ids = [e["event_id"] for e in rx.events()]
        assert len(ids) == len(set(ids))

    # What an operator sees: each destination in status, the outbox per destination.
    st = json.loads(run_tool(conftest.BUILD_ROOT / "firegwctl",
                             ["-s", str(sock), "--json", "status"], timeout=LONG).stdout)
    assert [x["name"] for x in st["destinations"]] == ["platform", "centre"]
    assert all(x["enabled"] and x["outbox"] == 0 and x["last_success"]
               for x in st["destinations"])
    out = run_tool(conftest.BUILD_ROOT / "firegwctl", ["-s", str(sock), "status"],
                   timeout=LONG).stdout
    assert "centre" in out and centre.url in out


def test_one_destination_down_never_delays_another(gw, platform, sims, daemon_factory, pki):
    """The county platform answers 503 for minutes; fire alarms keep reaching the centre at
    once, and the county gets all of them, once each, when it is back."""
    county, centre = platform(), platform()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port, heartbeat="1s")
    add_destination(gw, "centre", centre, pki.ca(), '  kinds = {"fire_alarm"}\n')
    county.set_fail("503")
    d = start_gw(daemon_factory, gw)
    latencies = []
    for i in range(3):
        # The first alarm raises the item, the next ones recur on it (it stays open).
        mark = d.mark()
        sim.set(20, "input", 0, 0b1)
        m = d.wait_log(r"hazard (\S+) (raised|recurred): fire_alarm", since=mark,
                       timeout=LONG)
        t0 = time.time()
        centre.wait_for(lambda r: sum(e["type"] in ("raised", "recurred")
                                      for e in r.events()) == i + 1, timeout=LONG)
        latencies.append(time.time() - t0)
        sim.set(20, "input", 0, 0)
        d.wait_log(rf"hazard {m.group(1)} cleared", since=mark, timeout=LONG)
    print(f"fire alarm to the centre while the county fails: {latencies}")
    if not (conftest.VALGRIND or conftest.sanitized_build()):
        assert max(latencies) <= 1.0
    assert len(stored(county)) == 0
    # raised, 2 recurred and 3 cleared wait for it (the last clear's commit follows its line)
    wait_until("six events waiting for the county",
               lambda: ledger_rows(gw).get("platform", 0) >= 6, daemon=d)

    county.set_fail("none")
    wait_until("the county's backlog delivered", lambda: not ledger_rows(gw), daemon=d,
               timeout=LONG * 2)
    events = county.events()
    assert [e["type"] for e in events if e["type"] != "resync"] == [
        "raised", "cleared", "recurred", "cleared", "recurred", "cleared"]
    assert len({e["event_id"] for e in events}) == len(events)


def test_single_platform_ledger_upgrade_keeps_unsent_events(gw, platform, sims,
                                                           daemon_factory, pki):
    """Events that waited in a one-platform ledger go to the first destination of a config
    that now names several, once; the new destination gets only what comes after."""
    county, centre = platform(), platform()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port, heartbeat="1s")
    county.set_fail("503")
    d = start_gw(daemon_factory, gw)
    sim.set(20, "input", 0, 0b1)
    d.wait_log(r"hazard \S+ raised: fire_alarm", timeout=LONG)
    wait_until("the raised event waits", lambda: ledger_rows(gw).get("platform", 0) >= 1,
               daemon=d)
    d.stop()
    # The ledger of an older firegw: its waiting rows belong to no destination.
    con = sqlite3.connect(gw.ledger)
    with con:
        con.execute("UPDATE outbox SET dest = '' WHERE lane = 0")
    con.close()
    waiting = ledger_rows(gw)[""]

    gw.write(county.url, pki.ca(), smoke_port=sim.port, heartbeat="1s")
    text = gw.conf.read_text(encoding="utf-8").replace("platform {", 'platform "county" {', 1)
    gw.conf.write_text(text, encoding="utf-8")
    add_destination(gw, "centre", centre, pki.ca())
    county.set_fail("none")
    d = start_gw(daemon_factory, gw, name="firegw-2")
    d.wait_log(rf"ledger: {waiting} event\(s\) that waited for the platform now wait for "
               r"destination 'county'", timeout=LONG)
    wait_until("the county has the old events", lambda: not ledger_rows(gw), daemon=d,
               timeout=LONG)
    assert ("fire_alarm", "raised") in stored(county)
    assert ("fire_alarm", "raised") not in stored(centre)


def test_named_destination_backlog_drains_in_order_and_says_its_name(gw, platform, sims,
                                                                     daemon_factory, pki):
    """A centre that answers 503 while the county takes everything: the centre's log lines
    name it (platform 'centre'), the county's delivery goes on, and when the centre is back
    its backlog (many small batches, each sent while the one before is being recorded) arrives
    complete, once each, in order per hazard."""
    county, centre = platform(), platform()
    sim = sims("20")
    gw.write(county.url, pki.ca(), smoke_port=sim.port, dead=3, heartbeat="1s")
    add_destination(gw, "centre", centre, pki.ca(), "  batch = 2\n")
    centre.set_fail("503")
    d = start_gw(daemon_factory, gw)
    d.wait_log(r"<6>platform 'centre': https://127\.0\.0\.1:\d+/api/v1/events, batches of 2",
               timeout=LONG)
    d.wait_log(r"<4>platform 'centre': HTTP 503 from https://\S+/api/v1/events", timeout=LONG)
    for _ in range(3):
        mark = d.mark()
        sim.set(20, "input", 0, 0b1)
        m = d.wait_log(r"hazard (\S+) (raised|recurred): fire_alarm", since=mark, timeout=LONG)
        sim.set(20, "input", 0, 0)
        d.wait_log(rf"hazard {m.group(1)} cleared", since=mark, timeout=LONG)
    wait_until("the county has every fire event",
               lambda: sum(k == "fire_alarm" for k, _ in stored(county)) >= 6, daemon=d)
    # 3 device_offline raised, the fire alarm's 6 events
    wait_until("nine events wait for the centre", lambda: ledger_rows(gw).get("centre", 0) >= 9,
               daemon=d, timeout=LONG)
    wait_until("the county's outbox empty", lambda: "platform" not in ledger_rows(gw), daemon=d)
    assert not [ln for ln in d.lines if "platform uplink" in ln and "503" in ln]

    centre.set_fail("none")
    d.wait_log(r"<5>platform 'centre': recovered after \d+ repeated failure", timeout=LONG)
    wait_until("the centre's backlog delivered", lambda: not ledger_rows(gw), daemon=d,
               timeout=LONG * 2)
    for rx in (county, centre):
        events = rx.events(arrival=True)
        ids = [e["event_id"] for e in events]
        assert len(ids) == len(set(ids)), "an event stored twice"
        fire = [e["type"] for e in events if e["body"]["hazard"]["kind"] == "fire_alarm"
                and e["type"] != "resync"]
        assert fire == ["raised", "cleared", "recurred", "cleared", "recurred", "cleared"]
        per = {}
        for e in events:
            if e["type"] != "resync":
                per.setdefault(e["hazard_id"], []).append(e["seq"])
        assert all(s == sorted(s) for s in per.values()), per
