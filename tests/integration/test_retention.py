# SPDX-License-Identifier: MIT
"""Retention (issue 19, item 6): a ledger filled through the rules (bench/ledger-fill -x:
raised, cleared and closed by a platform command, over and over, then delivered) past its
size cap. firegw prunes the oldest delivered history of closed items, in small transactions,
until the pages in use are under 90% of the cap; it never prunes an unsent event (a test
alarm's, closed, waiting for a platform that is down), an open item or its history.
`firegwctl status` shows the size, the cap, the oldest item kept and what the next prune
removes; the monthly report says a month whose history was pruned is incomplete.
"""

import json
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BUILD_ROOT, run_tool
from test_uplink import (LONG, _clean_exit, gw, pki, platform,  # noqa: F401
                         start_gw, wait_until)

FILL = BUILD_ROOT / "bench" / "ledger-fill"
MIB = 1 << 20


def ctl(sock, *args):
    r = subprocess.run([str(BUILD_ROOT / "firegwctl"), "-s", str(sock), *args],
                       capture_output=True, text=True, timeout=LONG)
    return r


def used_bytes(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (pc,), = con.execute("PRAGMA page_count")
    (fl,), = con.execute("PRAGMA freelist_count")
    (ps,), = con.execute("PRAGMA page_size")
    con.close()
    return (pc - fl) * ps


@pytest.mark.skipif(not FILL.exists(), reason="bench/ledger-fill is not built")
def test_size_cap_prunes_the_oldest_delivered_history(gw, platform, daemon_factory, pki):
    rx = platform()
    sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
    gw.write(rx.url, pki.ca(), smoke_port=1, heartbeat="1s")
    gw.data.mkdir(parents=True)
    r = run_tool(FILL, ["-x", str(gw.conf), "15000", "100"], timeout=10 * LONG)
    assert "events 15000" in r.stdout and "drained 15000" in r.stdout, r.stdout
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n'
                'retention {\n  max_size_mb = 16\n}\n')
    before = used_bytes(gw.ledger)
    assert before > 16 * MIB
    first_num = gw.q("SELECT min(num) FROM hazards")[0][0]
    # An item left open with its history (an alarm not cleared), and a closed test item
    # whose events wait for the platform: neither may go.
    rx.set_fail("503")
    d = start_gw(daemon_factory, gw)
    t0 = time.monotonic()
    ctl(sock, "test", "smoke-1", "--wait", "1")
    wait_until("the test alarm's events waiting", lambda: gw.outbox() >= 3, daemon=d)
    test_id = gw.q("SELECT id FROM hazards WHERE test = 1")[0][0]
    test_events = gw.q("SELECT count(*) FROM events WHERE hazard_id = ?", (test_id,))[0][0]
    open_items = gw.q("SELECT id, (SELECT count(*) FROM events e WHERE e.hazard_id = h.id) "
                      "FROM hazards h WHERE status != 'closed'")

    st = json.loads(ctl(sock, "--json", "status").stdout)["ledger"]["retention"]
    assert st["max_bytes"] == 16 * MIB and st["used_bytes"] > 16 * MIB, st
    assert st["keep_months"] == 24 and st["next_prune"]["reason"] == "size", st
    assert st["oldest_item"]["id"].endswith(f"{first_num:06d}"), st

    d.wait_log(r"over the cap of 16 MiB: the oldest delivered history of closed items is "
               r"pruned", timeout=2 * LONG)
    d.wait_log(r"under the cap again", timeout=4 * LONG)
    took = time.monotonic() - t0
    after = used_bytes(gw.ledger)
    assert after <= 16 * MIB * 9 // 10
    # What stayed: the unsent test events, every open item with all of its history.
    assert gw.q("SELECT count(*) FROM events WHERE hazard_id = ?", (test_id,))[0][0] == \
        test_events
    for hid, n in open_items:
        assert gw.q("SELECT count(*) FROM events WHERE hazard_id = ?", (hid,))[0][0] == n
    # The oldest went first: what is left of the closed history is the newest.
    left = gw.q("SELECT min(num) FROM hazards WHERE status = 'closed' AND test = 0")[0][0]
    assert left > first_num + 1000
    assert gw.q("SELECT count(*) FROM hazards WHERE status = 'closed' AND test = 0 AND num > ?",
                (left,))[0][0] > 1000

    st = json.loads(ctl(sock, "--json", "status").stdout)["ledger"]["retention"]
    assert st["pruned_events"] > 5000 and st["next_prune"]["reason"] == "age", st
    print(f"size cap: {before / MIB:.1f} MiB in use -> {after / MIB:.1f} MiB, "
          f"{st['pruned_items']} items and {st['pruned_events']} events pruned, "
          f"{took:.1f} s from the start (first look at 10 s)")
    assert st["pruned_until"] is not None
    table = ctl(sock, "status").stdout
    assert "retention" in table and "cap 16.0 MiB" in table, table
    month = time.strftime("%Y-%m", time.gmtime())
    rep = json.loads(ctl(sock, "--json", "report", "--month", month).stdout)["report"]
    assert rep["complete"] is False
    assert "incomplete" in ctl(sock, "report", "--month", month).stdout

    # The platform back: the test alarm's events arrive, once each.
    rx.set_fail("none")
    wait_until("the outbox delivered", lambda: gw.outbox() == 0, daemon=d, timeout=2 * LONG)
    got = [e["event_id"] for e in rx.events() if e["hazard_id"] == test_id]
    assert len(got) == test_events == len(set(got))
    assert d.stop() == 0
