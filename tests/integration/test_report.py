# SPDX-License-Identifier: MIT
"""The monthly bulletin (月通报) and weekly statistics as an office gets them from a running
gateway: `firegwctl report --month` as a table and a paragraph, --json, --csv (UTF-8 with a BOM,
or GB 18030) opened with Python's csv module, --list with the hazard list, --week.

The site: two detectors on a converter that does not answer (each raises a device_offline item
at its first poll), a Modbus smoke module that raises a fire alarm, and a test alarm. By hand:
2 new hazards (general), none closed, 2 open at the end, none overdue, no deadline in the
month yet; 1 fire alarm apart; 1 test apart; 3 devices, two of them offline since the start.
The counting itself, over a scripted month with every case, is tests/unit/test_report.c.
"""

import csv
import io
import json
import subprocess
import time

from test_control import (ctl, ctl_bin, ctl_json, sockdir, write,  # noqa: F401 (fixtures)
                          FIREGWCTL)
from test_uplink import (GATEWAY, LONG, gw, pki, platform, start_gw,  # noqa: F401 (fixtures)
                         wait_until)


def _site(gw, sockdir, sims, daemon_factory, location1="dead box 1"):
    sim = sims("20")
    sock = write(gw, sockdir, smoke_port=sim.port, dead=2)
    text = gw.conf.read_text(encoding="utf-8")
    gw.conf.write_text(text.replace('"dead box 1"', json.dumps(location1)), encoding="utf-8")
    d = start_gw(daemon_factory, gw)
    sim.set(20, "input", 0, 0b1)
    m = d.wait_log(r"hazard (\S+) raised: fire_alarm", timeout=LONG)
    sim.set(20, "input", 0, 0)
    d.wait_log(rf"hazard {m.group(1)} cleared", timeout=LONG)
    ctl(sock, "test", "smoke-1", check=1)  # no platform: recorded, not delivered
    month = time.strftime("%Y-%m")

    def counted():
        r = ctl_json(sock, "report", "--month", month)["report"]
        done = (r["hazards"]["new"] == 2 and r["fire_alarms"]["count"] == 1
                and r["tests"]["items"] == 1)
        return r if done else None
    return sock, month, wait_until("the items committed", counted, daemon=d)


def test_month_json_and_text(gw, sockdir, sims, daemon_factory, ctl_bin):
    sock, month, r = _site(gw, sockdir, sims, daemon_factory)
    h = r["hazards"]
    assert r["period"]["type"] == "month" and r["period"]["label"] == month
    assert r["period"]["first_day"] == month + "-01"
    assert (h["opening"], h["new"], h["closed"], h["rectified"], h["acceptance_passed"],
            h["closing"], h["overdue"]) == (0, 2, 0, 0, 0, 2, 0)
    # Counted by item: the grade rows and the kind rows each add up to the new items.
    assert sum(h["new_by_grade"].values()) == 2 == h["new_by_kind"]["device_offline"]
    assert h["rectification_rate"] is None and h["review_rate"] is None
    assert h["stages_overdue"] == {"order": 0, "acceptance": 0}
    assert h["oldest_open"]["kind"] == "device_offline"
    assert r["fire_alarms"]["count"] == 1 and r["tests"]["items"] == 1
    # An incident, not a hazard; nobody has verified it (no platform here).
    assert r["fire_alarms"]["verification"] == {"unverified": 1, "real_fire": 0,
                                                "false_alarm": 0, "test": 0, "unknown": 0}
    assert r["devices"]["count"] == 3
    # Offline for a second or two of the month so far: the rate is there, the hours tiny (the
    # figures themselves: tests/unit/test_report.c).
    assert 0.99 <= r["devices"]["online_rate"] <= 1 and r["devices"]["offline_hours"] < 1
    assert {d["device"] for d in r["devices"]["most_faults"]} == {"dead-1", "dead-2"}
    assert r["site"]["town"] == "城关镇" and r["site"]["gateway"] == GATEWAY
    assert "list" not in r

    text = ctl(sock, "report", "--month", month, check=0).stdout
    assert f"Monthly fire safety bulletin, {month}" in text
    assert "00:00 to " in text and " 24:00" in text
    assert "示例县" in text and "王房东" in text and "城关镇安监办" in text
    assert ("This month: 2 new hazards (0 major, 0 significant, 2 general), 0 rectified and "
            "closed out, rectification rate none due; at the end of the month: 2 not "
            "rectified, 0 of them overdue; fire alarms: 1 (verified: 0 real, 0 false, 0 "
            "test; 1 not verified); device online rate ") in text
    assert "no reviews reported by the platform" in text
    assert "  not verified" in text

    # The hazard list: both offline detectors, where they are, open, not overdue.
    r = ctl_json(sock, "report", "--month", month, "--list")["report"]
    assert sorted((e["device"], e["location"], e["status"], e["overdue"]) for e in r["list"]) == [
        ("dead-1", "dead box 1", "open", False), ("dead-2", "dead box 2", "open", False)]
    text = ctl(sock, "report", "--month", month, "--list", check=0).stdout
    assert "Hazard list" in text and "dead box 2" in text

    # A month before the gateway existed counts nothing.
    old = ctl_json(sock, "report", "--month", "1999-01")["report"]["hazards"]
    assert old["new"] == 0 and old["closing"] == 0
    r = ctl(sock, "report", "--month", "2026-13", check=1)
    assert "YYYY-MM" in r.stderr
    ctl(sock, "report", check=2)
    ctl(sock, "report", "--month", month, "--week", "2026-11-16", check=2)
    ctl(sock, "report", "--month", month, "--csv", "--csv-encoding", "latin1", check=2)


def test_csv_and_week(gw, sockdir, sims, daemon_factory, ctl_bin):
    # A location a spreadsheet would run as a formula stays text in the CSV.
    sock, month, _ = _site(gw, sockdir, sims, daemon_factory, location1="=1+1 box")
    out = ctl(sock, "report", "--month", month, "--list", "--csv", check=0).stdout
    assert out.startswith("\ufeff")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(out[1:])))
    figures = {r[0]: r[1] for r in rows if len(r) == 2}
    assert figures["New"] == "2" and figures["Open at the end (closing stock)"] == "2"
    assert figures["Closed out"] == "0" and figures["Fire alarms"] == "1"
    assert figures["Town"] == "城关镇" and figures["Gateway"] == GATEWAY
    assert figures["Summary"].startswith("This month: 2 new hazards")
    header = rows.index(["ID", "Location", "Kind", "Grade", "Found", "Deadline",
                         "Responsible", "Status", "Overdue"])
    listed = rows[header + 1:]
    assert sorted(r[1] for r in listed) == ["'=1+1 box", "dead box 2"]
    assert all(r[6] == "王房东" and r[8] == "no" for r in listed)

    # GB 18030 on request: the same rows, no BOM.
    p = subprocess.run([str(FIREGWCTL), "-s", str(sock), "report", "--month", month, "--csv",
                        "--csv-encoding", "gb18030"], capture_output=True, timeout=LONG)
    assert p.returncode == 0, p.stderr
    assert not p.stdout.startswith(b"\xef\xbb\xbf")
    gb = list(csv.reader(io.StringIO(p.stdout.decode("gb18030"))))
    assert ["Town", "城关镇"] in gb and ["New", "2"] in gb

    # This week holds everything that happened today.
    w = ctl_json(sock, "report", "--week", time.strftime("%Y-%m-%d"))["report"]
    assert w["period"]["type"] == "week" and w["hazards"]["new"] == 2
    assert "Weekly fire safety statistics" in ctl(
        sock, "report", "--week", time.strftime("%Y-%m-%d"), check=0).stdout
    assert json.loads(ctl(sock, "--json", "report", "--week", "2026-11-16",
                          check=0).stdout)["report"]["period"]["label"] == "2026-11-16"


def test_heartbeat_carries_last_month(gw, platform, daemon_factory, pki):
    """The platform gets the last full month's bulletin on the first heartbeat after start
    (then on those of the first interval of each hour), not on every heartbeat."""
    rx = platform()
    gw.write(rx.url, pki.ca(), dead=1, heartbeat="1s")
    d = start_gw(daemon_factory, gw)
    wait_until("five heartbeats", lambda: len(rx.heartbeats()) >= 5, daemon=d)
    hb = [h["body"] for h in rx.heartbeats()]
    first = hb[0]["bulletin"]
    t = time.localtime()
    last = f"{t.tm_year - (t.tm_mon == 1)}-{12 if t.tm_mon == 1 else t.tm_mon - 1:02d}"
    assert first["period"]["type"] == "month" and first["period"]["label"] == last
    assert set(first) == {"period", "hazards", "fire_alarms", "devices", "tests", "complete"}
    assert first["complete"] is True  # nothing pruned by retention
    assert first["devices"]["count"] == 1 and "list" not in first
    assert first["hazards"]["new_by_kind"] == {}  # nothing happened last month
    assert any("bulletin" not in b for b in hb[2:])

