#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A fire monitoring centre (监控中心) of GB/T 26875.3-2011 for firegw's tests and the demo.

Written from the standard as ../../docs/gbt26875.md and the shared protocol notes give it, not
from firegw's C code, so that the two check each other. A TCP server on 127.0.0.1: a user
information transmission device (UITD, here firegw) connects and sends frames; the centre

- reassembles frames from the byte stream (split, several per read, garbage before a frame),
- validates every frame (start "@@", end "##", length <= 1024, checksum, version 1, command,
  header time, destination address, and the application data unit by its type: object sizes,
  counts, event times, GB 18030 descriptions),
- answers a send-data frame (2) with confirm (3), or deny (6) when it is not valid,
- stores what it decoded (each upload once, deduplicated by source address, serial number and
  data: a retransmission keeps its serial; its `deliveries` counts the copies),
- sends control frames (clock sync 90, roll call 91, initialise 89) and reads (81, 84, 85, 86,
  88) and records the device's answers.

It can be told to misbehave for the next N data frames (heartbeats, empty send-data frames, are
answered normally unless `heartbeats=True`):

    drop    receive and store, answer nothing (the device must resend with the same serial)
    deny    answer deny (6), store nothing
    delay   receive and store, answer after `delay` seconds
    close   close the connection on receipt, store nothing

In process (pytest):

    from centre import Centre
    with Centre() as c:                      # c.port, c.address
        ...
        c.set_mode("drop", count=2)
        c.wait_for(lambda: c.events(), timeout=5)
        serial = c.clock_sync(datetime.now())   # then c.reply(serial) is the device's answer

Command line (Debian's /usr/bin/python3, standard library only):

    centre.py [--port 0] [--address 88888] [--mode drop|deny|delay|close --count N
              --delay S] [--verbose]

prints `listening PORT` once it accepts connections, one JSON line per decoded frame with
--verbose, and stops cleanly on SIGTERM or SIGINT.
"""

import argparse
import json
import signal
import socket
import sys
import threading
import time
from datetime import datetime

START, END = b"@@", b"##"
HEADER = 27          # "@@" .. command
MIN_FRAME = 30
MAX_ADU = 1024
COMMANDS = {1: "control", 2: "send", 3: "confirm", 4: "request", 5: "answer", 6: "deny"}
DEFAULT_ADDRESS = 0x015B38   # the centre of the standard's example frames

# data type -> (name, object size or None when variable, most objects)
UPLOAD_TYPES = {
    1: ("system_status", 10, 102),
    2: ("component_status", 46, 22),
    3: ("analog", 16, 63),
    21: ("uitd_status", 7, 1),
    24: ("uitd_operations", 8, 127),
    25: ("uitd_version", 2, 1),
    26: ("uitd_config", None, 1),
    28: ("uitd_time", 6, 1),
}
STATUS_BITS = ("normal", "fire", "fault", "disabled", "supervisory", "started", "feedback",
               "delay", "main_power_fault", "backup_power_fault", "bus_fault", "manual",
               "config_changed", "reset")
UITD_BITS = ("normal", "fire", "fault", "main_power_fault", "backup_power_fault",
             "link_fault", "line_fault")


class FrameError(Exception):
    """A frame that is not valid; `header` is what could be read of it (to deny), or None."""

    def __init__(self, reason, header=None):
        super().__init__(reason)
        self.reason = reason
        self.header = header


# ---- codec, from the standard's frame layout

def checksum(data):
    return sum(data) & 0xFF


def time_bytes(dt):
    """Second, minute, hour, day, month, year - 2000: plain binary."""
    if not 2000 <= dt.year <= 2255:
        raise ValueError(f"year {dt.year} cannot be sent (2000..2255)")
    return bytes((dt.second, dt.minute, dt.hour, dt.day, dt.month, dt.year - 2000))


def parse_time(b):
    """The 6-byte time as a datetime; FrameError when it is not a calendar time."""
    try:
        return datetime(2000 + b[5], b[4], b[3], b[2], b[1], b[0])
    except ValueError:
        raise FrameError(f"invalid time {bytes(b).hex(' ')}") from None


def build_frame(serial, src, dst, cmd, adu=b"", when=None, version=1, user_version=1):
    if len(adu) > MAX_ADU:
        raise ValueError("application data over 1024 bytes")
    body = (serial.to_bytes(2, "little") + bytes((version, user_version))
            + time_bytes(when or datetime.now()) + src.to_bytes(6, "little")
            + dst.to_bytes(6, "little") + len(adu).to_bytes(2, "little") + bytes((cmd,))
            + bytes(adu))
    return START + body + bytes((checksum(body),)) + END


def parse_header(buf):
    """The header fields of buf[0:27] as a dict (no validation)."""
    return {
        "serial": int.from_bytes(buf[2:4], "little"),
        "version": buf[4],
        "user_version": buf[5],
        "time_raw": bytes(buf[6:12]),
        "src": int.from_bytes(buf[12:18], "little"),
        "dst": int.from_bytes(buf[18:24], "little"),
        "length": int.from_bytes(buf[24:26], "little"),
        "cmd": buf[26],
    }


def _complete_frame_at(buf, i):
    """True when a whole frame with a good checksum starts at buf[i]."""
    if len(buf) - i < MIN_FRAME or buf[i:i + 2] != START:
        return False
    n = int.from_bytes(buf[i + 24:i + 26], "little")
    end = i + HEADER + n
    return (n <= MAX_ADU and len(buf) >= end + 3 and buf[end + 1:end + 3] == END
            and checksum(buf[i + 2:end]) == buf[end])


class Reassembler:
    """Bytes in, frames out. next() returns ("frame", header, adu), ("error", FrameError,
    skipped bytes) or None when it needs more bytes."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data

    def _skip(self, n, err):
        del self.buf[:n]
        return ("error", err, n)

    def next(self):
        buf = self.buf
        if not buf:
            return None
        at = buf.find(START)
        if at != 0:
            if at < 0:   # keep a last '@': it may begin "@@"
                at = len(buf) - 1 if buf.endswith(b"@") else len(buf)
            if at == 0:
                return None
            return self._skip(at, FrameError(f"{at} bytes before a frame start"))
        if len(buf) < HEADER:     # the whole header, command included
            return self._lookahead()
        h = parse_header(buf)
        n = h["length"]
        if n > MAX_ADU:
            nxt = buf.find(START, 1)
            return self._skip(nxt if nxt > 0 else len(buf),
                              FrameError(f"application data length {n} over 1024", h))
        end = HEADER + n
        if len(buf) < end + 3:
            return self._lookahead()
        if buf[end + 1:end + 3] != END:
            nxt = buf.find(START, 1)
            return self._skip(nxt if nxt > 0 else len(buf),
                              FrameError("no \"##\" where the length says the frame ends"))
        raw = bytes(buf[:end + 3])
        del buf[:end + 3]
        if checksum(raw[2:end]) != raw[end]:
            return ("error", FrameError(
                f"bad checksum {raw[end]:02X}, expected {checksum(raw[2:end]):02X}", h), len(raw))
        h["raw"] = raw
        return ("frame", h, raw[HEADER:end])

    def _lookahead(self):
        # "@@" in noise must not hold back a whole frame that follows it.
        for i in range(1, len(self.buf)):
            if self.buf[i] == 0x40 and _complete_frame_at(self.buf, i):
                return self._skip(i, FrameError(f"{i} bytes before a frame start"))
        return None


def _status_bits(value, names):
    return [name for i, name in enumerate(names) if value >> i & 1]


def decode_objects(adu, allow_empty=False):
    """The type and the decoded objects of an application data unit (FrameError if bad).
    allow_empty: an answer may carry no object (a read of operation records with none)."""
    if len(adu) < 2:
        raise FrameError("application data shorter than type and count")
    typ, count = adu[0], adu[1]
    if typ not in UPLOAD_TYPES:
        raise FrameError(f"unknown data type {typ}")
    name, size, most = UPLOAD_TYPES[typ]
    if not (0 if allow_empty else 1) <= count <= most:
        raise FrameError(f"type {typ}: {count} objects (1..{most})")
    if size is None:     # 26: configuration text, a 1-byte length then the text
        if len(adu) < 3 or len(adu) != 3 + adu[2]:
            raise FrameError(f"type {typ}: length {len(adu)} does not match its text length")
        return typ, [{"type": typ, "name": name, "config": adu[3:].decode("gb18030", "replace")}]
    if len(adu) != 2 + count * size:
        raise FrameError(f"type {typ}: {len(adu)} bytes for {count} objects of {size}")
    out = []
    for k in range(count):
        o = adu[2 + k * size:2 + (k + 1) * size]
        d = {"type": typ, "name": name}
        if typ == 1:
            d.update(system_type=o[0], system_address=o[1],
                     status=int.from_bytes(o[2:4], "little"), time=parse_time(o[4:10]))
            d["flags"] = _status_bits(d["status"], STATUS_BITS)
        elif typ == 2:
            raw = o[9:40]
            try:
                text = raw.rstrip(b"\x00").decode("gb18030")
            except UnicodeDecodeError:
                raise FrameError(f"description not GB 18030: {raw.hex(' ')}") from None
            d.update(system_type=o[0], system_address=o[1], component_type=o[2],
                     component_address=int.from_bytes(o[3:7], "little"),
                     status=int.from_bytes(o[7:9], "little"), description=text.rstrip(" "),
                     description_raw=bytes(raw), time=parse_time(o[40:46]))
            d["flags"] = _status_bits(d["status"], STATUS_BITS)
        elif typ == 3:
            d.update(system_type=o[0], system_address=o[1], component_type=o[2],
                     component_address=int.from_bytes(o[3:7], "little"), analog_type=o[7],
                     value=int.from_bytes(o[8:10], "little", signed=True),
                     time=parse_time(o[10:16]))
        elif typ == 21:
            d.update(status=o[0], flags=_status_bits(o[0], UITD_BITS), time=parse_time(o[1:7]))
        elif typ == 24:
            d.update(flags=o[0], operator=o[1], time=parse_time(o[2:8]))
        elif typ == 25:
            d.update(major=o[0], minor=o[1])
        elif typ == 28:
            d.update(time=parse_time(o[0:6]))
        out.append(d)
    return typ, out


def _jsonable(v):
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return v.hex(" ")
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


# ---- the server

class _Conn:
    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.lock = threading.Lock()     # one writer at a time
        self.device = None               # the device's address, from its first frame
        self.serial = 0                  # the centre's own serial on this connection
        self.open = True

    def send(self, data):
        with self.lock:
            if self.open:
                try:
                    self.sock.sendall(data)
                except OSError:
                    self.open = False

    def close(self):
        self.open = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Centre:
    """The monitoring centre; usable in process (start/stop, or as a context manager).

    address: the centre's 48-bit address (frames to another one are denied when check_dst).
    clock: a callable giving the time put in the centre's frames (tests fix it).
    """

    def __init__(self, port=0, address=DEFAULT_ADDRESS, host="127.0.0.1", check_dst=True,
                 clock=None, verbose=False):
        self.host, self._want_port = host, int(port)
        self.address = address
        self.check_dst = check_dst
        self.clock = clock or datetime.now
        self.verbose = verbose
        self._sock = None
        self._thread = None
        self._cond = threading.Condition()
        self._conns = []
        self._mode = {"mode": "none", "count": None, "delay": 0.0, "heartbeats": False}
        self._frames = []          # every frame received, decoded or with its problem
        self._events = {}          # (src, serial, adu) -> stored upload
        self._order = []
        self._replies = {}         # the centre's serial -> the device's answer(s)
        self._problems = []
        self.heartbeats = 0
        self.connections = 0
        self.retransmissions = 0
        self.denied = 0
        self.confirmed = 0

    # ---- life cycle

    @property
    def port(self):
        return self._sock.getsockname()[1] if self._sock else None

    def start(self):
        if self._sock is not None:
            return self
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self._want_port))
        s.listen(16)
        s.settimeout(0.2)
        self._sock = s
        self._thread = threading.Thread(target=self._accept, args=(s,), name="centre",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening and drops every connection. A later start() binds the same port."""
        if self._sock is None:
            return
        self._want_port = self.port
        s, self._sock = self._sock, None
        self._thread.join(5)
        s.close()
        self.drop_connections()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def drop_connections(self):
        with self._cond:
            conns = list(self._conns)
        for c in conns:
            c.close()

    def _accept(self, listener):
        while self._sock is listener:
            try:
                sock, peer = listener.accept()
            except (socket.timeout, OSError):
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = _Conn(sock, peer)
            with self._cond:
                self._conns.append(c)
                self.connections += 1
                self._cond.notify_all()
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        r = Reassembler()
        try:
            while c.open:
                try:
                    data = c.sock.recv(4096)
                except OSError:
                    break
                if not data:
                    break
                r.feed(data)
                while c.open and (item := r.next()) is not None:
                    if item[0] == "frame":
                        self._handle(c, item[1], item[2])
                    else:
                        self._bad(c, item[1])
        finally:
            c.open = False
            c.sock.close()
            with self._cond:
                if c in self._conns:
                    self._conns.remove(c)
                self._cond.notify_all()

    # ---- frames in

    def _log(self, rec):
        with self._cond:
            self._frames.append(rec)
            self._cond.notify_all()
        if self.verbose:
            print(json.dumps(_jsonable(rec), ensure_ascii=False), flush=True)

    def _answer(self, c, h, cmd):
        c.send(build_frame(h["serial"], self.address, h["src"], cmd, b"", self.clock()))
        with self._cond:
            if cmd == 6:
                self.denied += 1
            else:
                self.confirmed += 1

    def _bad(self, c, err):
        with self._cond:
            self._problems.append(err.reason)
        self._log({"problem": err.reason, "serial": err.header and err.header["serial"]})
        # A frame whose header could be read is denied; bytes that were no frame are skipped.
        if err.header is not None and err.header["cmd"] in (1, 2, 4):
            self._answer(c, err.header, 6)

    def _take_mode(self, heartbeat):
        with self._cond:
            m = self._mode
            if m["mode"] == "none" or (heartbeat and not m["heartbeats"]):
                return "none", 0.0
            if m["count"] is not None:
                m["count"] -= 1
                if m["count"] <= 0:
                    self._mode = {"mode": "none", "count": None, "delay": 0.0,
                                  "heartbeats": False}
            return m["mode"], m["delay"]

    def _handle(self, c, h, adu):
        rec = {"serial": h["serial"], "cmd": h["cmd"], "src": h["src"], "dst": h["dst"],
               "length": len(adu), "at": time.monotonic(), "raw": h["raw"]}
        problem = None
        if h["version"] != 1:
            problem = f"protocol version {h['version']}, not 1"
        elif h["cmd"] not in COMMANDS:
            problem = f"unknown command {h['cmd']}"
        elif self.check_dst and h["dst"] != self.address:
            problem = f"destination {h['dst']} is not this centre ({self.address})"
        else:
            try:
                rec["time"] = parse_time(h["time_raw"])
                if adu:
                    rec["type"], rec["objects"] = decode_objects(adu, h["cmd"] == 5)
            except FrameError as e:
                problem = e.reason
        if c.device is None:
            c.device = h["src"]
        if problem:
            rec["problem"] = problem
            with self._cond:
                self._problems.append(problem)
            self._log(rec)
            if h["cmd"] in (1, 2, 4) or h["cmd"] not in COMMANDS:
                self._answer(c, h, 6)
            return
        self._log(rec)
        if h["cmd"] == 2:
            self._upload(c, h, adu, rec)
        elif h["cmd"] in (3, 5, 6):
            with self._cond:
                self._replies.setdefault(h["serial"], []).append(rec)
                self._cond.notify_all()
        else:   # 1 control, 4 request from a device: not for a centre
            self._answer(c, h, 6)

    def _upload(self, c, h, adu, rec):
        heartbeat = not adu
        mode, delay = self._take_mode(heartbeat)
        if mode == "close":
            c.close()
            return
        if mode == "deny":
            self._answer(c, h, 6)
            return
        with self._cond:
            if heartbeat:
                self.heartbeats += 1
            else:
                key = (h["src"], h["serial"], bytes(adu))
                ev = self._events.get(key)
                if ev is None:
                    ev = {"src": h["src"], "serial": h["serial"], "type": rec["type"],
                          "objects": rec["objects"], "deliveries": 0, "received": []}
                    self._events[key] = ev
                    self._order.append(ev)
                else:
                    self.retransmissions += 1
                ev["deliveries"] += 1
                ev["received"].append(rec["at"])
            self._cond.notify_all()
        if mode == "drop":
            return
        if mode == "delay":
            threading.Timer(delay, self._answer, (c, h, 3)).start()
            return
        self._answer(c, h, 3)

    # ---- frames out

    def _device_conn(self, device=None):
        with self._cond:
            conns = [c for c in self._conns if c.open and (device is None or c.device == device)]
        if not conns:
            raise RuntimeError("no device connected")
        return conns[-1]

    def send_frame(self, cmd, adu, device=None):
        """Sends a frame of the centre's to the (latest) connected device; returns its serial."""
        c = self._device_conn(device)
        with c.lock:
            c.serial = (c.serial + 1) & 0xFFFF
            serial = c.serial
        dst = c.device if c.device is not None else 0
        c.send(build_frame(serial, self.address, dst, cmd, adu, self.clock()))
        return serial

    def send_raw(self, data, device=None):
        self._device_conn(device).send(bytes(data))

    def clock_sync(self, when=None, reserved=False, device=None):
        adu = bytes((90, 1)) + time_bytes(when or self.clock()) + (b"\x00" if reserved else b"")
        return self.send_frame(1, adu, device)

    def roll_call(self, minutes=5, device=None):
        return self.send_frame(1, bytes((91, 1, minutes)), device)

    def initialise(self, device=None):
        return self.send_frame(1, bytes((89, 1, 0)), device)

    def read(self, typ, records=10, since=None, device=None):
        """A read request: 81 status, 84 operation records, 85 version, 86 config, 88 time."""
        if typ == 84:
            start = time_bytes(since) if since else bytes(6)
            return self.send_frame(4, bytes((84, 1, records)) + start, device)
        return self.send_frame(4, bytes((typ, 1, 0)), device)

    # ---- control and inspection

    def set_mode(self, mode, count=None, delay=5.0, heartbeats=False):
        if mode not in ("none", "drop", "deny", "delay", "close"):
            raise ValueError(f"unknown mode {mode}")
        with self._cond:
            self._mode = {"mode": mode, "count": count, "delay": float(delay),
                          "heartbeats": heartbeats}

    def events(self):
        """Each upload once, in arrival order: src, serial, type, objects, deliveries."""
        with self._cond:
            return [dict(e) for e in self._order]

    def objects(self, typ=None):
        return [o for e in self.events() for o in e["objects"] if typ is None or o["type"] == typ]

    def frames(self):
        with self._cond:
            return list(self._frames)

    def problems(self):
        with self._cond:
            return list(self._problems)

    def reply(self, serial):
        """The device's answers to the centre's frame of that serial (a list, maybe empty)."""
        with self._cond:
            return list(self._replies.get(serial, []))

    def connected(self):
        with self._cond:
            return sum(1 for c in self._conns if c.open)

    def state(self):
        with self._cond:
            return {"connections": self.connections, "connected": self.connected_unlocked(),
                    "events": len(self._order), "heartbeats": self.heartbeats,
                    "retransmissions": self.retransmissions, "confirmed": self.confirmed,
                    "denied": self.denied, "problems": len(self._problems),
                    "mode": dict(self._mode)}

    def connected_unlocked(self):
        return sum(1 for c in self._conns if c.open)

    def wait_for(self, predicate, timeout=10.0):
        """Waits until predicate() is true (re-checked whenever a frame arrives)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._cond.release()
                try:
                    value = predicate()
                finally:
                    self._cond.acquire()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"centre: condition not met within {timeout} s: "
                                       f"{self.state_unlocked()}")
                self._cond.wait(min(left, 0.1))

    def state_unlocked(self):
        return {"events": len(self._order), "heartbeats": self.heartbeats,
                "problems": self._problems[-3:]}


def main(argv=None):
    ap = argparse.ArgumentParser(description="GB/T 26875.3 monitoring centre simulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--address", type=lambda s: int(s, 0), default=DEFAULT_ADDRESS)
    ap.add_argument("--mode", choices=("none", "drop", "deny", "delay", "close"), default="none")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--delay", type=float, default=5.0)
    ap.add_argument("--no-check-dst", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    c = Centre(port=a.port, address=a.address, check_dst=not a.no_check_dst, verbose=a.verbose)
    c.set_mode(a.mode, a.count, a.delay)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    c.start()
    print(f"listening {c.port}", flush=True)
    while not stop.wait(0.5):
        pass
    c.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
