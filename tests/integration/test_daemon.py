# SPDX-License-Identifier: MIT
"""firegw as a process: command line, config check, start, reload, stop, ledger recovery."""

import datetime
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from conftest import (EXAMPLES, PROFILES, TIMEOUT, ledger_query, ledger_sequences, line_of,
                      project_version, run_firegw)

CORRUPT_RX = re.compile(r"^ledger\.db\.corrupt-(\d{8}T\d{6}Z)(?:\.\d+)?$")
NOWHERE = 'bus = "nowhere"'
NOPE = 'bus = "nope"'
BAD_DEVICE = ('device "bad-1" {\n'
              '  bus = "nowhere"\n'
              '  unit = 5\n'
              '  profile = "rcd-4t"\n'
              '}\n')


def err_lines(lines):
    """The error-level (<3>) lines of a log, prefix removed."""
    return [l[3:] for l in lines if l.startswith("<3>")]


def corrupt_files(data_dir):
    return sorted(p for p in Path(data_dir).iterdir() if CORRUPT_RX.match(p.name))


def check_ledger_sane(path):
    assert ledger_query(path, "PRAGMA integrity_check") == [("ok",)]
    assert ledger_query(path, "PRAGMA user_version") == [(7,)]  # LEDGER_SCHEMA_VERSION
    assert ledger_query(path, "PRAGMA journal_mode") == [("wal",)]


# ---- command line ----


def test_version(firegw_bin):
    r = run_firegw("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"firegw {project_version()}"
    r = run_firegw("-V")
    assert r.returncode == 0 and r.stdout.strip() == f"firegw {project_version()}"


def test_help(firegw_bin):
    r = run_firegw("--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: firegw")
    for opt in ("--config", "--foreground", "--help", "--version", "firegw check"):
        assert opt in r.stdout


@pytest.mark.parametrize("args", [["--no-such-option"], ["-Z"], ["no-such-command"],
                                  ["-f", "stray-argument"]])
def test_bad_usage_exits_2(firegw_bin, args):
    r = run_firegw(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Usage: firegw" in r.stderr
    assert r.stdout == ""


# ---- firegw check ----


@pytest.mark.parametrize("example", ["rental.conf", "school.conf"])
def test_check_examples(firegw_bin, example):
    path = EXAMPLES / example
    r = run_firegw("check", "-c", path)
    assert r.returncode == 0, r.stderr
    # The examples' token file (/etc/firegw/token) is the installer's to write: a warning.
    assert r.stderr.splitlines() == [
        f"{path}:{line_of(path, 'token_file')}: warning: platform: token_file /etc/firegw/token "
        "does not exist yet: what needs the token stays off until it does; create it with: "
        "install -m 600 -o firegw /dev/null /etc/firegw/token, then put the token in it",
        f"{path}: 1 warning(s)"] or Path("/etc/firegw/token").exists(), r.stderr
    assert re.fullmatch(rf"{re.escape(str(path))}: ok \(gateway \S+, \d+ buses, \d+ devices, "
                        rf"\d+ profiles\)\n", r.stdout), r.stdout


def test_check_site_config_over_example(firegw_bin, site):
    r = run_firegw("check", "-c", site.conf)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{site.conf}: ok (gateway ZW-0001, 1 buses, 5 devices, 3 profiles)\n"


def test_check_reports_every_error_with_file_line(firegw_bin, tmp_path):
    conf = tmp_path / "broken.conf"
    conf.write_text('gateway {\n'
                    '  id = "T-1"\n'
                    f'  data_dir = "{tmp_path / "data"}"\n'
                    f'  profile_dir = "{PROFILES}"\n'
                    '}\n'
                    'bus "b1" {\n'
                    '  type = "tcp"\n'
                    '  host = "127.0.0.1"\n'
                    '}\n'
                    '# a device on a bus that is not defined, with a reserved unit id\n'
                    'device "d1" {\n'
                    '  bus = "nope"\n'
                    '  unit = 248\n'
                    '  profile = "rcd-4t"\n'
                    '}\n', encoding="utf-8")
    r = run_firegw("check", "-c", conf)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        f"{conf}: warning: no site section: hazards reach the platform without the site's "
        "address, responsible person and acceptor; add site { county = \"...\" address = "
        "\"...\" responsible = \"...\" acceptor = \"...\" }",
        f"{conf}:{line_of(conf, NOPE)}: device 'd1': unknown bus 'nope'",
        f"{conf}:{line_of(conf, 'unit = 248')}: device 'd1': unit id 248 is outside 1-247 "
        "(0 is broadcast, 248-255 are reserved)",
        f"{conf}: 2 error(s), 1 warning(s)",
    ]
    # Nothing is created by a check.
    assert not (tmp_path / "data").exists()


def test_check_error_in_included_file_names_that_file(firegw_bin, site):
    devices = site.root / "devices.conf"
    devices.write_text("# extra devices\n\n" + BAD_DEVICE, encoding="utf-8")
    site.write(extra=f'include("{devices}")')
    r = run_firegw("check", "-c", site.conf)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.splitlines() == [
        f"{devices}:{line_of(devices, NOWHERE)}: device 'bad-1': unknown bus "
        "'nowhere'",
        f"{site.conf}: 1 error(s)",
    ]


def test_check_syntax_error_has_file_line(firegw_bin, tmp_path):
    conf = tmp_path / "syntax.conf"
    conf.write_text('gateway {\n  id = "T-1"\n}\nsite {\n  no_such_key = 1\n}\n',
                    encoding="utf-8")
    r = run_firegw("check", "-c", conf)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = [l for l in r.stderr.splitlines() if ": warning: " not in l]
    assert lines[0].startswith(f"{conf}:{line_of(conf, 'no_such_key')}: "), lines
    assert "no_such_key" in lines[0]
    assert lines[-1] == f"{conf}: 1 error(s), 2 warning(s)"


def test_check_missing_file(firegw_bin, tmp_path):
    conf = tmp_path / "absent.conf"
    r = run_firegw("check", "-c", conf)
    assert r.returncode == 1
    assert r.stderr.splitlines()[0].startswith(f"{conf}: cannot read: ")


# ---- the daemon ----


def test_start_reload_refused_reload_ok_stop(daemon_factory, site):
    """The issue's scenario: a broken config on SIGHUP is refused with file:line errors and
    the daemon keeps running; the fixed file reloads; SIGTERM closes the ledger cleanly."""
    d = daemon_factory(site.conf).start()
    m = d.wait_log(r"^<5>firegw (\S+) ready: gateway ZW-0001, 1 buses, 5 devices, ledger (.*) "
                   r"\((\d+) events\)$")
    assert m.group(1) == project_version()
    assert m.group(2) == str(site.ledger)
    good = site.conf.read_text(encoding="utf-8")

    # A broken config: a device on a bus that does not exist.
    site.conf.write_text(good + BAD_DEVICE, encoding="utf-8")
    bad_line = line_of(site.conf, NOWHERE)
    mark = d.reload()
    d.wait_log(r"^<3>reload refused: ", since=mark)
    assert d.alive(), d.log_text()
    assert err_lines(d.log_since(mark)) == [
        f"{site.conf}:{bad_line}: device 'bad-1': unknown bus 'nowhere'",
        f"reload refused: {site.conf} has 1 error(s); the running configuration stays",
    ], d.log_text()
    assert not any("configuration reloaded" in l for l in d.log_since(mark))

    # Still serving: a second refused reload is handled the same way.
    mark = d.reload()
    d.wait_log(r"^<3>reload refused: ", since=mark)
    assert d.alive(), d.log_text()

    # Restored: it reloads.
    site.conf.write_text(good, encoding="utf-8")
    mark = d.reload()
    d.wait_log(rf"^<5>configuration reloaded from {re.escape(str(site.conf))}: 1 buses, "
               r"5 devices$", since=mark)
    assert err_lines(d.log_since(mark)) == [], d.log_text()
    assert d.alive()

    # SIGTERM: a clean exit and a sound ledger.
    mark = d.mark()
    assert d.stop() == 0, d.log_text()
    after = d.log_since(mark)
    assert "<5>SIGTERM: stopping" in after, d.log_text()
    assert "<5>ledger closed" in after, d.log_text()
    assert after.index("<5>SIGTERM: stopping") < after.index("<5>ledger closed")
    assert not [l for l in err_lines(d.lines) if "close" in l], d.log_text()
    d.wait_notify("STOPPING=1", since=mark)
    check_ledger_sane(site.ledger)


def test_reload_refuses_data_dir_change(daemon_factory, site):
    d = daemon_factory(site.conf).start()
    old = site.conf.read_text(encoding="utf-8")
    site.conf.write_text(old + f'gateway {{\n  data_dir = "{site.root / "elsewhere"}"\n}}\n',
                         encoding="utf-8")
    mark = d.reload()
    d.wait_log(r"^<3>reload refused: gateway id or data_dir changed", since=mark)
    assert d.alive()
    assert not (site.root / "elsewhere").exists()
    assert d.stop() == 0, d.log_text()
    check_ledger_sane(site.ledger)


def test_broken_config_at_start_exits_1(daemon_factory, site):
    site.write(extra=BAD_DEVICE)
    bad_line = line_of(site.conf, NOWHERE)
    d = daemon_factory(site.conf).start(wait_ready=False)
    assert d.wait_exit() == 1, d.log_text()
    assert err_lines(d.lines) == [
        f"{site.conf}:{bad_line}: device 'bad-1': unknown bus 'nowhere'",
        f"{site.conf} has 1 error(s); run 'firegw check -c {site.conf}' after fixing them",
    ], d.log_text()
    assert not any("READY=1" in n.split("\n") for n in d.notes), d.notes
    assert not site.ledger.exists()


def test_missing_config_at_start_exits_1(daemon_factory, tmp_path):
    conf = tmp_path / "absent.conf"
    d = daemon_factory(conf).start(wait_ready=False)
    assert d.wait_exit() == 1, d.log_text()
    assert any(l.startswith(f"<3>{conf}: cannot read: ") for l in d.lines), d.log_text()


def test_sigint_stops_cleanly(daemon_factory, site):
    d = daemon_factory(site.conf).start()
    d.send(signal.SIGINT)
    assert d.wait_exit() == 0, d.log_text()
    assert "<5>SIGINT: stopping" in d.lines
    assert "<5>ledger closed" in d.lines
    check_ledger_sane(site.ledger)


def test_fresh_ledger_schema(daemon_factory, site):
    d = daemon_factory(site.conf).start()
    d.wait_log(r"ready: .*\(0 events\)$")
    assert d.stop() == 0, d.log_text()
    check_ledger_sane(site.ledger)
    tables = {r[0] for r in ledger_query(site.ledger,
                                         "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "hazards", "events", "outbox", "deadletter", "commands"} <= tables
    assert ledger_query(site.ledger, "SELECT count(*) FROM hazards") == [(0,)]
    assert ledger_query(site.ledger, "SELECT count(*) FROM events") == [(0,)]
    assert corrupt_files(site.data) == []


GARBAGE = (b"this is not an SQLite database; a torn write on a worn SD card left it so.\n"
           * 100) + bytes(range(256)) * 8


def _stamp_seconds(stamp):
    t = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp())


def test_corrupt_ledger_moved_aside_and_hazard_raised(daemon_factory, site):
    site.data.mkdir()
    site.ledger.write_bytes(GARBAGE)

    t0ms = int(time.time() * 1000)
    t0 = t0ms // 1000
    d = daemon_factory(site.conf, name="firegw-corrupt").start()
    t1ms = int(time.time() * 1000)
    t1 = t1ms // 1000 + 1
    m = d.wait_log(rf"^<3>ledger {re.escape(str(site.ledger))} failed PRAGMA quick_check "
                   r"\((.*)\); moved to (\S+), starting a new ledger$")
    moved = Path(m.group(2))

    # The damaged file is kept, byte for byte, under a timestamped name.
    found = corrupt_files(site.data)
    assert found == [moved], (found, d.log_text())
    assert moved.read_bytes() == GARBAGE
    stamp = CORRUPT_RX.match(moved.name).group(1)
    assert t0 - 1 <= _stamp_seconds(stamp) <= t1 + 1, stamp

    assert d.stop() == 0, d.log_text()
    assert "<5>ledger closed" in d.lines
    check_ledger_sane(site.ledger)

    hazards = ledger_query(site.ledger, "SELECT num, id, device, kind, status, info FROM hazards")
    assert len(hazards) == 1, hazards
    num, hid, device, kind, status, info = hazards[0]
    assert (device, kind, status) == ("gateway", "ledger_corrupt", "open")
    # The old file shows nothing, so numbers continue above the time in milliseconds.
    assert t0ms + 1 <= num <= t1ms + 1, (num, t0ms, t1ms)
    assert hid == f"ZW-0001-{num:06d}"
    assert json.loads(info).get("moved_to") == str(moved)

    events = ledger_query(site.ledger, "SELECT seq, event_id, hazard_id, type, body FROM events")
    assert len(events) == 1, events
    seq, event_id, ev_hazard, ev_type, body = events[0]
    assert (ev_hazard, ev_type) == (hid, "raised")
    assert seq >= t0ms + 1, seq
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        event_id)
    body = json.loads(body)
    assert (body["event_id"], body["seq"], body["type"]) == (event_id, seq, "raised")

    outbox = ledger_query(site.ledger, "SELECT lane, seq, hazard_id FROM outbox")
    assert outbox == [(0, seq, hid)]

    seqs = ledger_sequences(site.ledger)
    assert seqs.get("hazards") == num and seqs.get("events") == seq, seqs

    # Started again on the new, sound ledger: nothing more is raised or moved.
    d2 = daemon_factory(site.conf, name="firegw-restart").start()
    d2.wait_log(r"ready: .*\(1 events\)$")
    assert not any("quick_check" in l for l in d2.lines), d2.log_text()
    assert d2.stop() == 0, d2.log_text()
    check_ledger_sane(site.ledger)
    assert corrupt_files(site.data) == [moved]
    assert ledger_query(site.ledger,
                        "SELECT count(*) FROM hazards WHERE kind='ledger_corrupt'") == [(1,)]
    assert ledger_query(site.ledger, "SELECT count(*) FROM events") == [(1,)]
    assert ledger_query(site.ledger, "SELECT count(*) FROM outbox") == [(1,)]

    # Restart continuity: the numbers did not go back.
    after = ledger_sequences(site.ledger)
    for table, value in seqs.items():
        assert after.get(table, 0) >= value, (table, seqs, after)


def test_restart_keeps_ledger_and_numbers(daemon_factory, site):
    """Three starts on one data_dir: the same ledger file each time, its numbers kept."""
    site.data.mkdir()
    site.ledger.write_bytes(GARBAGE)  # gives the ledger one hazard, one event, one outbox row
    d = daemon_factory(site.conf, name="firegw-1").start()
    assert d.stop() == 0, d.log_text()
    before = ledger_sequences(site.ledger)
    rows = ledger_query(site.ledger, "SELECT seq, event_id FROM events ORDER BY seq")
    inode = os.stat(site.ledger).st_ino
    assert set(before) >= {"hazards", "events"}, before

    for i in (2, 3):
        d = daemon_factory(site.conf, name=f"firegw-{i}").start()
        d.wait_log(r"ready: .*\(1 events\)$")
        assert d.stop() == 0, d.log_text()
        check_ledger_sane(site.ledger)
        assert os.stat(site.ledger).st_ino == inode, "the ledger was replaced"
        assert ledger_query(site.ledger, "SELECT seq, event_id FROM events ORDER BY seq") == rows
        now = ledger_sequences(site.ledger)
        for table, value in before.items():
            assert now.get(table, 0) >= value, (table, before, now)
        before = now
    assert len(corrupt_files(site.data)) == 1


def test_corrupt_ledger_never_overwrites_an_earlier_one(daemon_factory, site):
    """Moved aside means never deleted: a second damaged ledger within the same second (a
    restart loop on a failing card) must not replace the first one's saved copy."""
    site.data.mkdir()
    # Earlier saved copies under every name the move could pick in the next TIMEOUT seconds.
    now = int(time.time())
    decoys = {}
    for s in range(now - 1, now + int(TIMEOUT) + 3):
        stamp = datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime(
            "%Y%m%dT%H%M%SZ")
        p = site.data / f"ledger.db.corrupt-{stamp}"
        p.write_bytes(f"earlier damaged ledger {stamp}\n".encode())
        decoys[p] = p.read_bytes()
    site.ledger.write_bytes(GARBAGE)

    d = daemon_factory(site.conf).start()
    assert d.stop() == 0, d.log_text()
    for p, content in decoys.items():
        assert p.exists() and p.read_bytes() == content, f"{p.name} was overwritten"
    kept = [p for p in site.data.iterdir() if p.is_file() and p.read_bytes() == GARBAGE]
    assert len(kept) == 1, sorted(x.name for x in site.data.iterdir())
    assert kept[0].name.startswith("ledger.db.corrupt-")
