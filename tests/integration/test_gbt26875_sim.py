# SPDX-License-Identifier: MIT
"""The monitoring-centre simulator (tests/centre/centre.py) checked against the golden frames of
GB/T 26875.3, so that the tests of firegw's transport rest on a centre that is itself tested.

Each test starts a Centre on 127.0.0.1 and talks to it as a device would, over a real socket:
the golden fire alarm is confirmed with the golden confirm, byte for byte; a bad checksum is
denied with the golden deny; frames split, batched or behind garbage are all found; a
retransmission is stored once; drop, deny, delay and close do what they say; the centre's
clock sync, roll call and reads are well-formed and the device's answers are recorded.
"""

import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

SOURCE_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE_ROOT / "tests" / "centre"))
from centre import (Centre, FrameError, Reassembler, build_frame,  # noqa: E402
                    decode_objects)

SPACES30 = "20 " * 30
GOLDEN_FIRE = bytes.fromhex(
    "40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 30 00 02 "
    "02 01 01 01 28 0A 00 02 00 02 00 " + SPACES30 + "00 02 3A 09 1A 09 0C 46 23 23")
GOLDEN_CONFIRM = bytes.fromhex(
    "40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 00 00 03 AB 23 23")
GOLDEN_DENY = bytes.fromhex(
    "40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 00 00 06 AE 23 23")
GOLDEN_UITD = bytes.fromhex(
    "40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 09 00 02 "
    "15 01 08 02 3A 09 1A 09 0C 42 23 23")
GOLDEN_ANALOG_ADU = bytes.fromhex("03 01 01 02 28 01 02 03 04 03 20 03 04 00 09 02 07 15")
DEVICE, CENTRE = 0x379, 0x15B38
SENT = datetime(2012, 9, 26, 9, 58, 32)
ANSWERED = datetime(2012, 9, 26, 9, 58, 35)


@pytest.fixture
def centre():
    with Centre(clock=lambda: ANSWERED) as c:
        yield c


class Device:
    """A bare device: a socket and a reassembler, to talk to the centre frame by frame."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.r = Reassembler()

    def send(self, data):
        self.sock.sendall(data)

    def frame(self, timeout=5.0):
        """The next frame from the centre: (header, adu), or None when none comes in time."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.r.next()
            if item is not None:
                assert item[0] == "frame", item
                return item[1], item[2]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return None
            if not data:
                raise ConnectionError("centre closed the connection")
            self.r.feed(data)

    def close(self):
        self.sock.close()


@pytest.fixture
def device(centre):
    d = Device(centre.port)
    yield d
    d.close()


def frame(serial, adu=b"", cmd=2, src=DEVICE, dst=CENTRE, when=SENT):
    return build_frame(serial, src, dst, cmd, adu, when)


def test_codec_builds_the_golden_frames():
    assert frame(1, GOLDEN_FIRE[27:-3]) == GOLDEN_FIRE
    assert frame(1, GOLDEN_UITD[27:-3]) == GOLDEN_UITD
    assert build_frame(1, CENTRE, DEVICE, 3, b"", ANSWERED) == GOLDEN_CONFIRM
    assert build_frame(1, CENTRE, DEVICE, 6, b"", ANSWERED) == GOLDEN_DENY
    typ, objs = decode_objects(GOLDEN_ANALOG_ADU)
    assert typ == 3
    assert objs[0]["component_type"] == 40
    assert objs[0]["component_address"] == 0x04030201
    assert objs[0]["analog_type"] == 3 and objs[0]["value"] == 800
    assert objs[0]["time"] == datetime(2021, 7, 2, 9, 0, 4)
    with pytest.raises(FrameError):
        decode_objects(GOLDEN_ANALOG_ADU[:-1])
    with pytest.raises(FrameError):
        decode_objects(bytes((99, 1, 0)))


def test_golden_fire_alarm_confirmed_byte_for_byte(centre, device):
    device.send(GOLDEN_FIRE)
    h, adu = device.frame()
    assert h["raw"] == GOLDEN_CONFIRM
    ev = centre.wait_for(centre.events)[0]
    assert ev["src"] == DEVICE and ev["serial"] == 1 and ev["type"] == 2
    (o,) = ev["objects"]
    assert o["system_type"] == 1 and o["system_address"] == 1
    assert o["component_type"] == 40 and o["component_address"] == 0x0002000A
    assert o["status"] == 2 and o["flags"] == ["fire"]
    assert o["description"] == "" and o["description_raw"] == b" " * 30 + b"\0"
    assert o["time"] == datetime(2012, 9, 26, 9, 58, 2)
    assert centre.problems() == []


def test_golden_uitd_and_analog(centre, device):
    device.send(GOLDEN_UITD)
    assert device.frame()[0]["cmd"] == 3
    device.send(frame(2, GOLDEN_ANALOG_ADU))
    h, _ = device.frame()
    assert h["cmd"] == 3 and h["serial"] == 2
    centre.wait_for(lambda: len(centre.events()) == 2)
    uitd, analog = centre.events()
    assert uitd["objects"][0]["status"] == 8
    assert uitd["objects"][0]["flags"] == ["main_power_fault"]
    assert analog["objects"][0]["value"] == 800


def test_bad_checksum_denied_with_the_golden_deny(centre, device):
    bad = bytearray(GOLDEN_FIRE)
    bad[-3] ^= 0xFF
    device.send(bytes(bad))
    h, _ = device.frame()
    assert h["raw"] == GOLDEN_DENY
    assert centre.events() == []
    assert any("checksum" in p for p in centre.problems())


@pytest.mark.parametrize("mutate,why", [
    (lambda f: f[:4] + b"\x02" + f[5:], "version"),        # checksum kept right below
    (lambda f: f[:26] + b"\x07" + f[27:], "command"),
    (lambda f: f[:18] + b"\x01" + f[19:], "destination"),
    (lambda f: f[:9] + b"\x1F" + f[10:], "time"),          # 31 September
    (lambda f: f[:27] + b"\x02\x02" + f[29:], "bytes for 2 objects"),
])
def test_invalid_frames_denied(centre, device, mutate, why):
    f = bytearray(mutate(GOLDEN_FIRE))
    f[-3] = sum(f[2:-3]) & 0xFF
    device.send(bytes(f))
    h, _ = device.frame()
    assert h["cmd"] == 6 and h["serial"] == 1
    assert centre.events() == []
    assert any(why in p for p in centre.problems()), centre.problems()


def test_length_over_1024_denied_and_stream_recovers(centre, device):
    long = bytearray(GOLDEN_FIRE[:27])
    long[24:26] = (1025).to_bytes(2, "little")
    device.send(bytes(long) + b"\x00" * 10 + frame(2, GOLDEN_UITD[27:-3]))
    h1, _ = device.frame()
    h2, _ = device.frame()
    assert (h1["cmd"], h1["serial"]) == (6, 1)
    assert (h2["cmd"], h2["serial"]) == (3, 2)
    assert len(centre.events()) == 1


def test_split_batched_and_garbage(centre, device):
    # Byte by byte.
    for b in GOLDEN_FIRE:
        device.send(bytes((b,)))
    assert device.frame()[0]["raw"] == GOLDEN_CONFIRM
    # Garbage with "@@" in it, then three frames in one write.
    batch = b"\x00noise@@\x01" + frame(2, GOLDEN_UITD[27:-3]) + frame(3, GOLDEN_ANALOG_ADU) + \
        frame(4)
    device.send(batch)
    serials = [device.frame()[0]["serial"] for _ in range(3)]
    assert serials == [2, 3, 4]
    assert len(centre.events()) == 3
    assert centre.heartbeats == 1
    assert any("before a frame start" in p for p in centre.problems())


def test_retransmission_stored_once(centre, device):
    device.send(GOLDEN_FIRE)
    device.frame()
    again = frame(1, GOLDEN_FIRE[27:-3], when=datetime(2012, 9, 26, 9, 58, 42))
    device.send(again)
    assert device.frame()[0]["raw"] == GOLDEN_CONFIRM
    (ev,) = centre.events()
    assert ev["deliveries"] == 2 and centre.retransmissions == 1
    # A new serial with the same data is a new upload.
    device.send(frame(2, GOLDEN_FIRE[27:-3]))
    device.frame()
    assert len(centre.events()) == 2


def test_drop_deny_delay_close(centre, device):
    centre.set_mode("drop", count=1)
    device.send(GOLDEN_FIRE)
    assert device.frame(timeout=0.5) is None
    centre.wait_for(centre.events)                       # stored even though not confirmed
    device.send(frame(1, GOLDEN_FIRE[27:-3]))            # resent, same serial: confirmed now
    assert device.frame()[0]["cmd"] == 3
    assert centre.events()[0]["deliveries"] == 2

    centre.set_mode("deny", count=1)
    device.send(frame(2, GOLDEN_UITD[27:-3]))
    assert device.frame()[0]["cmd"] == 6
    assert len(centre.events()) == 1

    centre.set_mode("delay", count=1, delay=0.4)
    device.send(frame(3, GOLDEN_UITD[27:-3]))
    t0 = time.monotonic()
    h, _ = device.frame()
    assert h["cmd"] == 3 and time.monotonic() - t0 >= 0.35

    # Heartbeats are answered normally while a mode is on.
    centre.set_mode("close", count=1)
    device.send(frame(4))
    assert device.frame()[0]["cmd"] == 3
    device.send(frame(5, GOLDEN_UITD[27:-3]))
    with pytest.raises(ConnectionError):
        device.frame()
    assert centre.state()["mode"]["mode"] == "none"


def test_control_frames_and_answers(centre, device):
    device.send(frame(1))                     # the centre learns the device's address
    device.frame()
    when = datetime(2024, 2, 29, 8, 30, 0)
    serial = centre.clock_sync(when)
    h, adu = device.frame()
    assert (h["cmd"], h["serial"], h["src"], h["dst"]) == (1, serial, CENTRE, DEVICE)
    assert adu == bytes.fromhex("5A 01 00 1E 08 1D 02 18")
    device.send(build_frame(serial, DEVICE, CENTRE, 3, b"", when))
    centre.wait_for(lambda: centre.reply(serial))
    assert centre.reply(serial)[0]["cmd"] == 3

    serial = centre.roll_call(5)
    h, adu = device.frame()
    assert h["cmd"] == 1 and adu == bytes((91, 1, 5))

    for typ in (81, 85, 86, 88):
        s = centre.read(typ)
        h, adu = device.frame()
        assert (h["cmd"], h["serial"], adu) == (4, s, bytes((typ, 1, 0)))
    s84 = centre.read(84, records=10)
    h, adu = device.frame()
    assert adu == bytes((84, 1, 10)) + bytes(6)

    # The device answers a status read with type 21: decoded and recorded.
    uitd = bytes((21, 1, 1)) + bytes.fromhex("00 1E 08 1D 02 18")
    device.send(build_frame(h["serial"], DEVICE, CENTRE, 5, uitd, when))
    centre.wait_for(lambda: centre.reply(s84))
    rep = centre.reply(s84)[0]
    assert rep["cmd"] == 5 and rep["type"] == 21 and rep["objects"][0]["flags"] == ["normal"]
    assert centre.events() == []              # answers are not uploads


def test_command_line():
    p = subprocess.Popen(["/usr/bin/python3", str(SOURCE_ROOT / "tests" / "centre" / "centre.py"),
                          "--verbose"], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("listening ")
        d = Device(int(line.split()[1]))
        d.send(GOLDEN_FIRE)
        h, _ = d.frame()
        assert h["cmd"] == 3 and h["serial"] == 1
        assert '"component_type": 40' in p.stdout.readline()
        d.close()
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0


@pytest.mark.parametrize("cut", range(0, 31))
def test_reassembler_every_cut(cut):
    """Two frames and garbage fed in two pieces cut anywhere in the first 30 bytes."""
    data = b"\x00@" + GOLDEN_CONFIRM + GOLDEN_DENY
    r = Reassembler()
    r.feed(data[:cut])
    items = []
    while (item := r.next()) is not None:
        items.append(item)
    r.feed(data[cut:])
    while (item := r.next()) is not None:
        items.append(item)
    frames = [i[1]["raw"] for i in items if i[0] == "frame"]
    assert frames == [GOLDEN_CONFIRM, GOLDEN_DENY]
