# SPDX-License-Identifier: MIT
"""A ledger that fails while running (issue 19, item 4): SQLite finds the file damaged under a
running firegw. firegw stops with exit code 1 (for systemd to start it again) instead of
staying NOT RECORDING until someone restarts it; its start-up check then moves the damaged
file aside and carries every event it still had to send (same seq, same event_id) and every
item not closed into a new ledger, raises ledger_corrupt, and goes on: the platform gets each
unsent event once, and new alarms are recorded.

The ledger is made big with bench/ledger-fill (through firegw's own rules and ledger), so that
the damaged pages (old, delivered events) are not in firegw's page cache; a `firegwctl hazard`
of an old item makes it read them.
"""

import json
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

import conftest
from conftest import BUILD_ROOT, run_tool
from test_uplink import (LONG, _clean_exit, gw, pki, platform,  # noqa: F401
                         start_gw, wait_until)

FILL = BUILD_ROOT / "bench" / "ledger-fill"


def ctl(sock, *args, check=True):
    r = subprocess.run([str(BUILD_ROOT / "firegwctl"), "-s", str(sock), *args],
                       capture_output=True, text=True, timeout=LONG)
    assert not check or r.returncode == 0, r.stderr
    return r


def ruin_old_event_pages(path, first, count):
    """Overwrites `count` leaf pages of the events table, from the `first`th (the oldest
    events), in the database file; returns the seq range they held."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    pages = [p for p, in con.execute("SELECT pageno FROM dbstat WHERE name = 'events' AND "
                                     "pagetype = 'leaf' ORDER BY path")][first:first + count]
    (size,), = con.execute("PRAGMA page_size")  # 1 KiB in a new ledger, 4 KiB in an older one
    con.close()
    with open(path, "r+b") as f:
        for p in pages:
            f.seek((p - 1) * size)
            f.write(b"\xa5" * size)
    return pages


@pytest.mark.skipif(not FILL.exists(), reason="bench/ledger-fill is not built")
def test_corrupt_ledger_under_a_running_firegw(gw, platform, daemon_factory, pki):
    rx = platform()
    sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
    gw.write(rx.url, pki.ca(), smoke_port=1, heartbeat="1s")
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n')
    gw.data.mkdir(parents=True)
    r = run_tool(FILL, [str(gw.conf), "4000"], timeout=10 * LONG)
    assert "events 4000" in r.stdout, r.stdout
    old_hazard = gw.q("SELECT hazard_id FROM events WHERE seq = 1")[0][0]

    # Everything delivered; then the platform goes down and a test alarm's events wait.
    # (Not start_gw: this one is to exit 1.)
    d = daemon_factory(gw.conf).start(timeout=LONG)
    wait_until("the filled ledger delivered", lambda: gw.outbox() == 0, daemon=d,
               timeout=4 * LONG)
    rx.set_fail("503")
    ctl(sock, "test", "smoke-1", "--wait", "1", check=False)
    wait_until("the test alarm's events waiting", lambda: gw.outbox() >= 3, daemon=d)
    unsent = {e for e, in gw.q("SELECT e.event_id FROM outbox o JOIN events e "
                                "ON e.seq = o.seq WHERE o.lane = 0")}
    last_seq = gw.q("SELECT max(seq) FROM events")[0][0]

    # Old, delivered events damaged on disk while firegw runs; an operator looks at one.
    ruin_old_event_pages(gw.ledger, 5, 4)
    mark = d.mark()
    ctl(sock, "hazard", old_hazard, check=False)
    d.wait_log(r"ledger .* is damaged .*: firegw stops so that its start-up check", since=mark,
               timeout=LONG)
    assert d.wait_exit(timeout=LONG) == 1, d.log_text()

    # What systemd does: start it again.
    d = start_gw(daemon_factory, gw, name="firegw-after")
    d.wait_log(r"failed PRAGMA quick_check .*; moved to .*, starting a new ledger")
    m = d.wait_log(r"salvaged from .*: (\d+) unsent event\(s\)")
    assert int(m.group(1)) == len(unsent)
    assert list(gw.data.glob("ledger.db.corrupt-*")), "the damaged file is kept"
    assert {e for e, in gw.q("SELECT e.event_id FROM outbox o JOIN events e "
                              "ON e.seq = o.seq WHERE o.lane = 0")} >= unsent
    st = json.loads(ctl(sock, "--json", "status").stdout)
    assert st["ledger"]["ok"] is True

    # The platform back: each unsent event once, with the ledger_corrupt item; new ones too.
    rx.set_fail("none")
    wait_until("the outbox delivered", lambda: gw.outbox() == 0, daemon=d, timeout=2 * LONG)
    stored = [e["event_id"] for e in rx.events()]
    assert unsent <= set(stored)
    assert len(stored) == len(set(stored))
    kinds = {e["body"]["hazard"]["kind"] for e in rx.events() if e["seq"] > last_seq}
    assert "ledger_corrupt" in kinds
    corrupt = [e["body"]["hazard"] for e in rx.events()
               if e["body"]["hazard"]["kind"] == "ledger_corrupt"][0]
    assert corrupt["salvaged"] == {"unsent_events": len(unsent), "open_items": 2,
                                   "unreadable_events": 0}, corrupt
    assert all(e["seq"] > last_seq for e in rx.events() if e["event_id"] not in unsent
               and e["event_id"] in {x for x, in gw.q("SELECT event_id FROM events")})
    ctl(sock, "test", "smoke-1", "--wait", str(int(LONG)))
    assert d.stop() == 0


STRACE = shutil.which("strace")


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (scripts/install-deps)")
@pytest.mark.alone
def test_persistent_io_errors_stop_firegw(gw, platform, daemon_factory, pki, monkeypatch,
                                          tmp_path):
    """Every write to the ledger's WAL fails with EIO from the 3rd on (strace): the commits
    fail, firegw says NOT RECORDING, and after 30 s of it stops with exit code 1 for systemd
    to start it again, rather than staying so until someone comes. That start, on a disk that
    works again, finds the ledger sound and keeps all it had committed."""
    rx = platform()
    sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
    gw.write(rx.url, pki.ca(), smoke_port=1, heartbeat="1s")
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n')
    d = start_gw(daemon_factory, gw, name="firegw-setup")
    ctl(sock, "test", "smoke-1", "--wait", str(int(LONG)))
    assert d.stop() == 0
    committed = {e for e, in gw.q("SELECT event_id FROM events")}
    assert committed

    w = tmp_path / "firegw-strace"
    w.write_text("#!/bin/sh\n"
                 'export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"\n'
                 f'exec {STRACE} -f -qq -o "{tmp_path}/strace.out" -P "{gw.ledger}-wal" '
                 f'-e trace=pwrite64 -e inject=pwrite64:error=EIO:when=3+ '
                 f'"{conftest.FIREGW}" "$@"\n', encoding="utf-8")
    w.chmod(0o755)
    monkeypatch.setattr(conftest, "FIREGW", w)
    d = daemon_factory(gw.conf, name="firegw-eio").start(timeout=LONG)
    monkeypatch.undo()
    mark = d.mark()
    ctl(sock, "test", "smoke-1", "--wait", "1", check=False)
    d.wait_log(r"disk I/O error", since=mark, timeout=LONG)
    st = json.loads(ctl(sock, "--json", "status").stdout)
    assert st["ledger"]["ok"] is False, st["ledger"]
    d.wait_log(r"has failed with I/O errors for 30 s: firegw stops", since=mark,
               timeout=30 + 2 * LONG)
    assert d.wait_exit(timeout=LONG) == 1, d.log_text()

    d = start_gw(daemon_factory, gw, name="firegw-after")
    assert committed <= {e for e, in gw.q("SELECT event_id FROM events")}
    assert not list(gw.data.glob("ledger.db.corrupt-*"))
    ctl(sock, "test", "smoke-1", "--wait", str(int(LONG)))
    assert d.stop() == 0
