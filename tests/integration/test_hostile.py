# SPDX-License-Identifier: MIT
"""A hostile platform (issue 13): what one who controls the platform can send must not stop
alarm forwarding, fill the disk or the memory, or write lines of its own into firegw's log.

The platform is the receiver of tests/platform/receiver.py over HTTPS, as in test_uplink.py,
with commands queued that no honest platform sends: a 512 KB note, hundreds of assigns that
each make an event, thousands of commands in every reply, and newlines, syslog priorities
and terminal escapes in every string firegw logs. For each, the test checks what a user
would: the ledger grows by a bounded amount, firegw's memory stays bounded, every log line is
one firegw wrote, and a fire alarm raised right after still reaches the platform at once.
The MQTT transport's side is in test_uplink_mqtt.py (test_hostile_command_messages_*).

Bounds asserted here (docs/security.md, "Limits"): each platform field at most 2048 bytes
(the command is refused otherwise), a reply at most 1 MiB, at most 100 commands applied per reply, one log line for
the first refusal of a reply and one for the count of the rest, an event's JSON at most
64 KiB, a request at most 1 MiB.
"""

import re
import sqlite3
import time

import pytest

import conftest
from conftest import ledger_query, peak_rss_kb
from test_uplink import (GATEWAY, LONG, _clean_exit, gw, pki, platform,  # noqa: F401
                         start_gw, wait_delivered, wait_until)

FORGED = "\n<0>FORGED emergency \x1b[2J\x1b]0;owned\x07\r"


def instrumented():
    """An ASan or valgrind build: memory and latency figures mean nothing there."""
    return conftest.VALGRIND or conftest.sanitized_build()


def ledger_bytes(gw):
    return sum(p.stat().st_size for p in gw.data.glob("ledger.db*"))


def assert_log_is_firegws(d):
    """Every line starts with firegw's own <N> priority, no line is the forged one, and no
    control character (an ESC that would drive a terminal) is left in any line."""
    for line in d.lines:
        assert re.match(r"^<[3-7]>", line), f"a log line firegw did not write: {line!r}"
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line), f"raw control char: {line!r}"
    assert not any(line.startswith("<0>") for line in d.lines)


def start_site(gw, platform, sims, daemon_factory, pki):
    """An honest platform, a smoke module and a dead detector; firegw started and its
    device_offline item delivered. Returns (rx, sim, d)."""
    rx = platform()
    sim = sims("20")
    gw.write(rx.url, pki.ca(), smoke_port=sim.port, dead=1, heartbeat="1s")
    d = start_gw(daemon_factory, gw)
    wait_until("a device_offline item", lambda: len(gw.hazard_ids("device_offline")) == 1,
               daemon=d)
    wait_delivered(gw, rx, d)
    return rx, sim, d


def fire_alarm_latency(gw, rx, sim, d):
    """Raises a fire alarm on the smoke module; returns seconds from firegw's 'raised' line to
    the platform storing the event."""
    mark = d.mark()
    sim.set(20, "input", 0, 0b1)
    m = d.wait_log(r"hazard (\S+) raised: fire_alarm", since=mark, timeout=LONG)
    t0 = time.time()
    hid = m.group(1)
    rx.wait_for(lambda r: any(e["hazard_id"] == hid and e["type"] == "raised"
                              for e in r.events()), timeout=LONG)
    return time.time() - t0


def test_hostile_platform_fields_commands_and_strings_are_bounded(gw, platform, sims,
                                                                   daemon_factory, pki):
    rx, sim, d = start_site(gw, platform, sims, daemon_factory, pki)
    hid = gw.hazard_ids("device_offline")[0]
    size0 = ledger_bytes(gw)
    events0 = len(gw.events())

    # Each step's commands go in every reply until their results come back: a step at a time,
    # so that no reply is over the 1 MiB a reply may have (that one would be a failure).
    def step(cmds):
        for c in cmds:
            rx.queue_command(c)
        want = {c["id"] for c in cmds}
        wait_until(f"a result for each of {len(cmds)} command(s)",
                   lambda: want <= {r["id"] for r in rx.command_results()},
                   timeout=LONG * 4, daemon=d, interval=0.5)

    # 1. A 512 KB note: refused, nothing of it stored.
    step([{"id": "big", "type": "hazard.assign", "hazard_id": hid,
           "note": "x" * (512 * 1024)}])
    # 2. 200 assigns, each applied and each an event carrying 1000-byte fields.
    step([{"id": f"a{i}", "type": "hazard.assign", "hazard_id": hid,
           "measures": "m" * 1000, "note": "n" * 1000} for i in range(200)])
    # 3. 2,000 refused commands with forged lines and escapes in every string.
    step([{"id": f"f{i}{FORGED}", "type": f"hazard.close{FORGED}",
           "hazard_id": f"{GATEWAY}-{FORGED}"} for i in range(2000)])

    results = {r["id"]: r for r in rx.command_results()}
    assert results["big"]["ok"] is False
    assert results["big"]["reason"].startswith("note is longer than 2048 bytes")
    assert all(results[f"a{i}"]["ok"] for i in range(200))
    assert not any(r["ok"] for k, r in results.items() if k.startswith("f"))
    note = gw.hazard(hid)["info"]["platform"]["note"]
    assert note == "n" * 1000

    # The ledger: 200 events of a bounded size, the commands remembered; no 512 KB anywhere.
    wait_delivered(gw, rx, d, timeout=LONG * 2)
    events = gw.events()
    assert len(events) - events0 <= 200 + 10  # the assigns, and a resync or two
    longest = ledger_query(gw.ledger, "SELECT max(length(body)) FROM events")[0][0]
    assert longest <= 64 * 1024
    grown = ledger_bytes(gw) - size0
    assert grown < 8 * 1024 * 1024, f"the ledger grew by {grown} bytes"

    # The log: every line firegw's own; refusals summed up per reply, not one line each.
    assert_log_is_firegws(d)
    refusal_lines = [ln for ln in d.lines if "refused" in ln and "platform" in ln]
    replies = len(rx.state()["request_log"])
    assert len(refusal_lines) <= 2 * replies + 2, (len(refusal_lines), replies)
    assert len(refusal_lines) < 2000 // 10

    # Memory, and the next fire alarm, unhindered.
    latency = fire_alarm_latency(gw, rx, sim, d)
    print(f"hostile platform: {replies} requests, ledger +{grown} bytes, "
          f"{len(events) - events0} events, longest {longest} bytes, "
          f"{len(refusal_lines)} refusal lines, peak RSS {peak_rss_kb(d)} kB, "
          f"fire alarm to platform {latency:.3f} s")
    if not instrumented():
        assert peak_rss_kb(d) < 64 * 1024, f"peak RSS {peak_rss_kb(d)} kB"
        assert latency <= 1.0, f"the fire alarm took {latency:.2f} s to reach the platform"
    else:
        assert latency <= 5.0 * conftest.SLOW


def test_hostile_oversized_event_in_ledger_is_dead_lettered(gw, platform, sims, daemon_factory,
                                                            pki):
    """An event already in a ledger larger than a request may carry (written by an older
    firegw from a 512 KB note): it goes to the dead-letter table with the reason and a log
    line; the outbox moves on, and a new fire alarm goes out at once."""
    rx, sim, d = start_site(gw, platform, sims, daemon_factory, pki)
    d.stop()

    # What an older firegw stored: one event of 1.5 MB waiting in the outbox.
    con = sqlite3.connect(gw.ledger)  # firegw is stopped: the test plays the older firegw
    with con:
        seq, body = con.execute("SELECT seq, body FROM events ORDER BY seq DESC LIMIT 1"
                                ).fetchone()
        big = body[:-1] + ', "pad": "' + "p" * (1536 * 1024) + '"}'
        con.execute("INSERT INTO events (seq, event_id, hazard_id, type, at, body) SELECT "
                    "?, 'ffffffff-0000-4000-8000-000000000001', hazard_id, 'assigned', at, ? "
                    "FROM events WHERE seq = ?", (seq + 1, big, seq))
        con.execute("INSERT INTO outbox (lane, seq, hazard_id, created) SELECT 0, seq, "
                    "hazard_id, at FROM events WHERE seq = ?", (seq + 1,))
    con.close()

    d = start_gw(daemon_factory, gw, name="firegw-2")
    d.wait_log(r"<3>ledger event seq \d+ is larger than the request limit \(1048576 bytes\)",
               timeout=LONG)
    wait_until("an empty outbox", lambda: gw.outbox() == 0, daemon=d)
    reason = ledger_query(gw.ledger, "SELECT reason FROM deadletter")
    assert reason == [("event larger than the request limit of 1048576 bytes",)]
    latency = fire_alarm_latency(gw, rx, sim, d)
    assert latency <= (1.0 if not instrumented() else 5.0 * conftest.SLOW)
