#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A county platform receiver for firegw's tests, the demo and the benchmarks.

It implements the county platform contract v1 (docs/platform-api.md) on 127.0.0.1:

    POST {base}/v1/events      a batch of hazard events; replies accepted / rejected / commands
    POST {base}/v1/heartbeat   a gateway's status; replies commands

and stores what it accepts in SQLite, deduplicated by `event_id` (a repeat is accepted again
but stored once, its `deliveries` count incremented). Platform commands queued through the
control API are put in every reply to the gateway until the gateway reports their result in
`command_results`.

A control API on the same server (no authentication) lets a test make the platform misbehave
and look at what arrived:

    POST {base}/control/fail      {"mode": "none" | "500" | "503" | "429" | "slow" | "reset" |
                                   "garbage" | "reject" | "phantom", "count": N,
                                   "retry_after": "5",
                                   "delay": 2.5, "reject_ids": [...], "reject_types": [...],
                                   "path": "events" | "heartbeat"}
    POST {base}/control/command   a command object (or a list of them) to queue
    GET  {base}/control/state     counts: events, deliveries, duplicates, requests by path and
                                  status, the time and status of each request, ...
    GET  {base}/control/events    the stored events, ordered by gateway and seq
    GET  {base}/control/heartbeats, {base}/control/commands

Failure modes apply to the platform endpoints only (both, or the one named by "path"), to the
next `count` requests (default: until changed):

    500, 503, 429  that status with a JSON error body (and Retry-After when given); nothing stored
    slow           waits `delay` seconds (default 5), then handles the request normally
    reset          reads the request, then closes the connection with SO_LINGER 0 (a TCP reset)
    garbage        200 with a body that is not JSON; nothing stored
    reject         events whose id is in reject_ids or whose type is in reject_types are
                   rejected with a reason; the others are accepted as usual
    phantom        the events are stored as usual, but the reply also accepts an event_id
                   that was not sent (a platform bug the gateway must not take for success)

Every request a failure mode applied to has the event_ids of its body in its request log
entry ("event_ids"), so a test can check that the retries carry the same ids.

Command line (Debian's /usr/bin/python3, standard library only):

    receiver.py --port 0 --db PATH [--tls-cert CERT --tls-key KEY [--client-ca CA]]
                [--token TOKEN] [--base /api] [--strict] [--verbose]

prints `listening PORT` on stdout once it accepts connections, and stops cleanly on SIGTERM or
SIGINT. In process (pytest):

    from receiver import Receiver
    with Receiver(db=tmp_path / "platform.db", token="secret") as rx:
        ...  # rx.url, rx.port, rx.set_fail("503", count=2, retry_after=3), rx.events(), ...
"""

import argparse
import json
import re
import signal
import socket
import sqlite3
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

EVENT_TYPES = frozenset((
    "raised", "escalated", "recurred", "cleared", "silenced", "overdue", "reopened",
    "acknowledged", "assigned", "accepted", "closed", "resync", "escalation_suggested",
    "regraded", "worsened", "verified", "acceptance_passed", "acceptance_failed", "supervised",
    "deferred", "order_overdue", "acceptance_overdue", "gateway_restarted",
))
COMMAND_TYPES = frozenset((
    "hazard.acknowledge", "hazard.assign", "hazard.accept", "hazard.close", "hazard.reopen",
    "hazard.regrade", "incident.verify", "hazard.submit", "hazard.acceptance",
    "hazard.supervise", "hazard.defer",
))
FAIL_MODES = ("none", "500", "503", "429", "slow", "reset", "garbage", "reject", "phantom")
GRADES = ("immediate", "major", "significant", "general")
STATUSES = ("open", "acknowledged", "rectifying", "pending_acceptance", "closed")
# hazard.time_quality, present only while the gateway's clock is not known to be synchronised.
TIME_QUALITIES = ("unsynchronised", "unknown")
LANES = ("alarm", "telemetry")

MAX_BODY = 64 << 20       # bytes; a bigger request is answered 413
REQUEST_LOG = 20000       # request log entries kept for /control/state
DETAILS_KEPT = 100        # out-of-order and conflict details kept
IDLE_TIMEOUT = 60.0       # seconds a connection may sit idle (or a TLS handshake take)
GARBAGE = b"<html><body>502 Bad Gateway (this is not JSON)</body></html>\n"

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ISO_ANY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id    TEXT PRIMARY KEY,
    gateway     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    hazard_id   TEXT NOT NULL,
    at          TEXT,
    received_at TEXT NOT NULL,           -- first delivery, ISO 8601 UTC
    received_ms INTEGER NOT NULL,        -- the same, Unix milliseconds (for latency figures)
    body        TEXT,                    -- the event JSON as first received (NULL: --no-bodies)
    deliveries  INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS events_order ON events (gateway, seq);
CREATE INDEX IF NOT EXISTS events_hazard ON events (gateway, hazard_id, seq);
CREATE TABLE IF NOT EXISTS heartbeats (
    num         INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway     TEXT,
    received_at TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    num         INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order
    id          TEXT NOT NULL UNIQUE,
    gateway     TEXT,                               -- NULL: for any gateway
    body        TEXT NOT NULL,
    queued_at   TEXT NOT NULL,
    sent        INTEGER NOT NULL DEFAULT 0,         -- replies it was put in
    done        INTEGER NOT NULL DEFAULT 0          -- 1 once its result arrived
);
CREATE TABLE IF NOT EXISTS command_results (
    id          TEXT PRIMARY KEY,
    gateway     TEXT,
    ok          INTEGER NOT NULL,
    reason      TEXT,
    received_at TEXT NOT NULL,
    reports     INTEGER NOT NULL DEFAULT 1          -- times the gateway reported it
);
"""


# ---------------------------------------------------------------- helpers

def iso_utc(ts=None):
    """Unix time (seconds, default now) as ISO 8601 UTC with milliseconds."""
    if ts is None:
        ts = time.time()
    dt = datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_uuid(v):
    try:
        uuid.UUID(v)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(obj):
    return _ENCODER.encode(obj)


def event_problems(ev):
    """What makes an event unacceptable under the contract (empty list: fine)."""
    if not isinstance(ev, dict):
        return ["event is not a JSON object"]
    p = []
    eid = ev.get("event_id")
    if not isinstance(eid, str) or not eid:
        p.append("missing event_id")
    elif not _is_uuid(eid):
        p.append(f"event_id {eid!r} is not a UUID")
    if "seq" not in ev:
        p.append("missing seq")
    elif not _is_int(ev["seq"]) or ev["seq"] < 0:
        p.append("seq is not a non-negative integer")
    t = ev.get("type")
    if not isinstance(t, str) or not t:
        p.append("missing type")
    elif t not in EVENT_TYPES:
        p.append(f"unknown event type {t!r}")
    if not isinstance(ev.get("at"), str) or not ev.get("at"):
        p.append("missing at")
    h = ev.get("hazard")
    if not isinstance(h, dict):
        p.append("missing hazard")
    elif not isinstance(h.get("id"), str) or not h.get("id"):
        p.append("missing hazard.id")
    return p


def _check(p, obj, key, ok, what, where=""):
    if key not in obj:
        p.append(f"missing {where}{key}")
    elif not ok(obj[key]):
        p.append(f"{where}{key} is not {what}")


def _time_or_null(v):
    return v is None or (isinstance(v, str) and bool(ISO_MS.match(v)))


def _str_or_null(v):
    return v is None or isinstance(v, str)


def hazard_problems(h):
    """Every way a hazard snapshot departs from the contract's field list (strict mode).

    Every key must be present; values that do not apply are null. Times are ISO 8601 UTC with
    milliseconds. Extra keys are allowed.
    """
    if not isinstance(h, dict):
        return ["hazard is not a JSON object"]
    p = []
    for k in ("id", "kind", "title", "device_id", "point"):
        _check(p, h, k, lambda v: isinstance(v, str) and v != "", "a non-empty string")
    _check(p, h, "grade", lambda v: v in GRADES, "a grade")
    _check(p, h, "status", lambda v: v in STATUSES, "a status")
    for k in ("active", "overdue", "suspect_rectification", "test"):
        _check(p, h, k, lambda v: isinstance(v, bool), "a boolean")
    for k in ("value", "peak", "threshold"):
        _check(p, h, k, lambda v: v is None or _is_num(v), "a number or null")
    for k in ("occurrences", "escalations"):
        _check(p, h, k, lambda v: _is_int(v) and v >= 0, "a non-negative integer")
    for k in ("first_seen", "last_seen"):
        _check(p, h, k, lambda v: isinstance(v, str) and bool(ISO_MS.match(v)),
               "an ISO 8601 UTC time with milliseconds")
    for k in ("cleared_at", "closed_at", "deadline", "active_since"):
        _check(p, h, k, _time_or_null, "an ISO 8601 UTC time with milliseconds or null")
    for k in ("unit", "recurrence_of", "level", "location"):
        _check(p, h, k, _str_or_null, "a string or null")
    if "time_quality" in h and h["time_quality"] not in TIME_QUALITIES:
        p.append(f"time_quality is not one of {', '.join(TIME_QUALITIES)}")
    subs = {
        "site": ("county", "town", "village", "unit", "address"),
        "device": ("id", "model", "bus", "address", "key", "profile"),
        "responsible": ("name", "phone"),
        "acceptor": ("name", "phone"),
    }
    for k, keys in subs.items():
        if k not in h:
            p.append(f"missing {k}")
            continue
        sub = h[k]
        if sub is None:
            continue
        if not isinstance(sub, dict):
            p.append(f"{k} is not an object or null")
            continue
        for kk in keys:
            ok = _is_int if (k, kk) == ("device", "address") else _str_or_null
            _check(p, sub, kk, lambda v, ok=ok: v is None or ok(v),
                   "an integer or null" if ok is _is_int else "a string or null", f"{k}.")
    return p


def heartbeat_problems(b):
    """Every way a heartbeat body departs from the contract (strict mode)."""
    if not isinstance(b, dict):
        return ["heartbeat is not a JSON object"]
    p = []
    for k in ("gateway", "version"):
        _check(p, b, k, lambda v: isinstance(v, str) and v != "", "a non-empty string")
    _check(p, b, "sent_at", lambda v: isinstance(v, str) and bool(ISO_MS.match(v)),
           "an ISO 8601 UTC time with milliseconds")
    for k in ("uptime_s", "devices_online", "devices_offline"):
        _check(p, b, k, lambda v: _is_int(v) and v >= 0, "a non-negative integer")
    _check(p, b, "oldest_unsent_age_s", lambda v: v is None or (_is_num(v) and v >= 0),
           "a non-negative number or null")
    _check(p, b, "disk_free_bytes", lambda v: v is None or (_is_int(v) and v >= 0),
           "a non-negative integer or null")
    _check(p, b, "last_upload", _time_or_null, "an ISO 8601 UTC time or null")
    for k, keys in (("open_hazards", GRADES), ("outbox", LANES)):
        if not isinstance(b.get(k), dict):
            p.append(f"missing {k}" if k not in b else f"{k} is not an object")
            continue
        for kk in keys:
            _check(p, b[k], kk, lambda v: _is_int(v) and v >= 0, "a non-negative integer",
                   f"{k}.")
    # The ledger's health (optional: a gateway older than it does not send it).
    lg = b.get("ledger")
    if "ledger" in b and not isinstance(lg, dict):
        p.append("ledger is not an object")
    elif lg is not None:
        _check(p, lg, "ok", lambda v: isinstance(v, bool), "a boolean", "ledger.")
        _check(p, lg, "failed_commits", lambda v: _is_int(v) and v >= 0,
               "a non-negative integer", "ledger.")
        for kk in ("error", "since"):
            if kk in lg and not (_str_or_null if kk == "error" else _time_or_null)(lg[kk]):
                p.append(f"ledger.{kk} is not {'a string' if kk == 'error' else 'a time'} "
                         "or null")
    return p


def _results_problem(results):
    """Why a command_results value is malformed, or None."""
    if results is None:
        return None
    if not isinstance(results, list):
        return "command_results is not an array"
    for i, r in enumerate(results):
        if not isinstance(r, dict):
            return f"command_results[{i}] is not an object"
        if not isinstance(r.get("id"), str) or not r.get("id"):
            return f"command_results[{i}]: missing id"
        if not isinstance(r.get("ok"), bool):
            return f"command_results[{i}]: ok is not a boolean"
        if not _str_or_null(r.get("reason")):
            return f"command_results[{i}]: reason is not a string"
    return None


def _event_ids(raw):
    """The event_ids in a request body, as far as it can be read (for the request log)."""
    try:
        body = json.loads(raw.decode("utf-8"))
        return [ev.get("event_id") for ev in body.get("events") or []
                if isinstance(ev, dict)]
    except (UnicodeDecodeError, ValueError, AttributeError, TypeError):
        return []


class HttpError(Exception):
    """A request the receiver answers with a 4xx and a JSON error."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class _Reset(Exception):
    """Raised by a handler that has just reset its connection."""


# ---------------------------------------------------------------- HTTP plumbing

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, receiver, ssl_ctx):
        self.receiver = receiver
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_ctx is not None:
            # The handshake runs in the connection's own thread (_Handler.setup), so a slow or
            # broken client never holds up accept().
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        self.receiver._connection_error(sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive, and 100-continue for big bodies
    server_version = "firegw-test-platform/1"
    timeout = IDLE_TIMEOUT

    def version_string(self):
        return self.server_version

    def setup(self):
        self.request.settimeout(self.timeout)
        try:   # a reply goes out in two writes (head, body): no Nagle delay between them
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()
        self.server.receiver._conn_opened(self.request)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.receiver._conn_closed(self.request)

    def log_message(self, fmt, *args):
        if self.server.receiver.verbose:
            sys.stderr.write(f"receiver: {self.address_string()} {fmt % args}\n")

    def do_GET(self):
        self.server.receiver._handle(self, "GET")

    def do_POST(self):
        self.server.receiver._handle(self, "POST")

    def do_PUT(self):
        self.server.receiver._handle(self, "PUT")

    def do_DELETE(self):
        self.server.receiver._handle(self, "DELETE")

    def do_PATCH(self):
        self.server.receiver._handle(self, "PATCH")

    # ---- request and reply helpers

    def read_body(self):
        """The request body as bytes (Content-Length or chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        cl = self.headers.get("Content-Length")
        if cl is None:
            # RFC 9112 6.3: a request with neither Content-Length nor chunked has no body.
            return b""
        try:
            n = int(cl)
        except ValueError:
            raise HttpError(400, f"bad Content-Length {cl!r}") from None
        if n < 0:
            raise HttpError(400, f"bad Content-Length {cl!r}")
        if n > MAX_BODY:
            raise HttpError(413, f"body of {n} bytes is over {MAX_BODY}")
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionError("client closed the connection in the middle of its body")
        return data

    def _read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionError("client closed the connection in a chunked body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError(400, "bad chunk size") from None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass            # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise HttpError(413, f"chunked body over {MAX_BODY} bytes")
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)  # the CRLF after the chunk

    def send_bytes(self, status, body, ctype="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        self.send_bytes(status, _dumps(obj).encode("utf-8") + b"\n", headers=headers)

    def reset(self):
        """Close the connection at once with a TCP reset, without a reply."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        # The descriptor really closes (RST, since linger is 0) when finish() closes rfile;
        # the server's shutdown(SHUT_WR) afterwards fails quietly instead of sending a FIN.
        self.connection.close()
        raise _Reset()


# ---------------------------------------------------------------- the receiver

class Receiver:
    """The platform receiver; usable in process (start/stop, or as a context manager).

    db: SQLite file (default: a new temporary file). port: 0 picks a free one. token: require
    `Authorization: Bearer <token>` on the platform endpoints. base: path prefix ("/api").
    tls_cert/tls_key: serve HTTPS; client_ca: and require a client certificate it signed.
    strict: also reject events whose hazard misses a contract field (and 400 such heartbeats).
    store_bodies: False keeps only the columns of each event, not its JSON (for benchmarks:
    about twice the events per second; conflicting duplicates then go unnoticed).
    """

    def __init__(self, db=None, port=0, token=None, base="", tls_cert=None, tls_key=None,
                 client_ca=None, strict=False, verbose=False, host="127.0.0.1",
                 store_bodies=True):
        if db is None:
            self._tmpdir = tempfile.mkdtemp(prefix="firegw-platform-")
            db = Path(self._tmpdir) / "platform.db"
        self.db_path = Path(db)
        self.host = host
        self._want_port = int(port)
        self.token = token
        self.base = "/" + base.strip("/") if base and base.strip("/") else ""
        self.tls_cert, self.tls_key, self.client_ca = tls_cert, tls_key, client_ca
        if client_ca and not tls_cert:
            raise ValueError("client_ca needs tls_cert")
        self.strict = strict
        self.verbose = verbose
        self.store_bodies = store_bodies

        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._db = None
        self._db_lock = threading.Lock()
        self._cond = threading.Condition()       # notified whenever something is stored
        self._conns = set()
        self._conns_lock = threading.Lock()
        self._active = 0                         # requests being handled

        self._fail_lock = threading.Lock()
        self._fail = {"mode": "none"}

        self._stats_lock = threading.Lock()
        self._requests = {}                      # path -> {status: count}
        self._log = deque(maxlen=REQUEST_LOG)
        self._requests_total = 0
        self._last_request = None
        self._accepted = 0
        self._rejected = 0
        self._tls_errors = 0
        self._last_tls_error = None
        self._conflicts = []                     # same event_id, different body
        self._conflict_count = 0
        self._out_of_order = []                  # a hazard's seq going backwards
        self._out_of_order_count = 0
        self._last_seq = {}                      # (gateway, hazard_id) -> highest seq stored

    # ---- life cycle

    @property
    def port(self):
        return self._server.server_address[1] if self._server else None

    @property
    def scheme(self):
        return "https" if self.tls_cert else "http"

    @property
    def url(self):
        """The base URL firegw's `platform.url` should be set to."""
        return f"{self.scheme}://{self.host}:{self.port}{self.base}"

    def start(self):
        if self._server is not None:
            return self
        self._open_db()
        ctx = None
        if self.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
            if self.client_ca:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(cafile=str(self.client_ca))
        self._stopping.clear()
        try:
            self._server = _Server((self.host, self._want_port), self, ctx)
        except Exception:
            self._close_db()
            raise
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening, drops open connections, closes the database. Idempotent."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while self._active and time.monotonic() < deadline:
            time.sleep(0.01)
        self._close_db()
        # A later start() binds the same port again, so a test can bring the platform back.
        self._want_port = self._server.server_address[1]
        self._server = None
        with self._cond:
            self._cond.notify_all()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- database

    def _open_db(self):
        con = sqlite3.connect(str(self.db_path), check_same_thread=False,
                              isolation_level=None, timeout=10)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=OFF")
        con.executescript(SCHEMA)
        self._db = con
        self._last_seq = {}

    def _close_db(self):
        with self._db_lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _txn(self, fn):
        """Runs fn(con) in one transaction under the lock; returns its result."""
        with self._db_lock:
            con = self._db
            if con is None:
                raise ConnectionAbortedError("receiver stopped")
            con.execute("BEGIN IMMEDIATE")
            try:
                out = fn(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        with self._cond:
            self._cond.notify_all()
        return out

    def _query(self, sql, params=()):
        with self._db_lock:
            if self._db is None:
                con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
                try:
                    return con.execute(sql, params).fetchall()
                finally:
                    con.close()
            return self._db.execute(sql, params).fetchall()

    # ---- test-facing API

    def set_fail(self, mode="none", count=None, retry_after=None, delay=None, reject_ids=None,
                 reject_types=None, path=None):
        """Makes the platform endpoints misbehave (see the module docstring)."""
        self._fail_from_json({"mode": mode, "count": count, "retry_after": retry_after,
                              "delay": delay, "reject_ids": reject_ids,
                              "reject_types": reject_types, "path": path})

    def queue_command(self, command, gateway=None):
        """Queues a platform command; returns its id (made up when the command has none).

        The command goes in every reply (to `gateway`, or its "gateway" field, or any gateway)
        until a result for its id arrives. It is not validated: a test may queue nonsense.
        """
        if not isinstance(command, dict):
            raise ValueError("a command is a JSON object")
        cmd = dict(command)
        cmd.setdefault("id", str(uuid.uuid4()))
        if not isinstance(cmd["id"], str) or not cmd["id"]:
            raise ValueError("a command's id is a non-empty string")
        gw = gateway or cmd.pop("gateway", None)
        now = iso_utc()

        def add(con):
            con.execute("INSERT INTO commands (id, gateway, body, queued_at) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (id) DO UPDATE SET body = excluded.body,"
                        " gateway = excluded.gateway, done = 0",
                        (cmd["id"], gw, _dumps(cmd), now))
        self._txn(add)
        return cmd["id"]

    def events(self, gateway=None, arrival=False):
        """Stored events ordered by gateway and seq (arrival: in the order they were first
        stored): dicts of the columns, body parsed."""
        sql = ("SELECT event_id, gateway, seq, type, hazard_id, at, received_at, received_ms,"
               " body, deliveries FROM events")
        params = ()
        if gateway is not None:
            sql += " WHERE gateway = ?"
            params = (gateway,)
        rows = self._query(sql + (" ORDER BY rowid" if arrival else " ORDER BY gateway, seq"),
                           params)
        keys = ("event_id", "gateway", "seq", "type", "hazard_id", "at", "received_at",
                "received_ms", "body", "deliveries")
        out = []
        for r in rows:
            d = dict(zip(keys, r))
            d["body"] = json.loads(d["body"]) if d["body"] is not None else None
            out.append(d)
        return out

    def heartbeats(self):
        return [{"gateway": g, "received_at": t, "body": json.loads(b)} for g, t, b in
                self._query("SELECT gateway, received_at, body FROM heartbeats ORDER BY num")]

    def commands(self):
        """Queued commands with their delivery and result."""
        rows = self._query(
            "SELECT c.id, c.gateway, c.body, c.queued_at, c.sent, c.done, r.ok, r.reason,"
            " r.received_at, r.reports FROM commands c LEFT JOIN command_results r"
            " ON r.id = c.id ORDER BY c.num")
        return [{"id": i, "gateway": g, "command": json.loads(b), "queued_at": q, "sent": s,
                 "done": bool(d), "ok": None if ok is None else bool(ok), "reason": why,
                 "result_at": rt, "reports": n or 0}
                for i, g, b, q, s, d, ok, why, rt, n in rows]

    def command_results(self):
        return [{"id": i, "gateway": g, "ok": bool(ok), "reason": why, "received_at": t,
                 "reports": n} for i, g, ok, why, t, n in
                self._query("SELECT id, gateway, ok, reason, received_at, reports"
                            " FROM command_results ORDER BY received_at, id")]

    def state(self):
        """Counts and the request log (what GET /control/state returns)."""
        (ev, deliv), = self._query("SELECT COUNT(*), COALESCE(SUM(deliveries), 0) FROM events")
        (hb,), = self._query("SELECT COUNT(*) FROM heartbeats")
        (cr, reports), = self._query(
            "SELECT COUNT(*), COALESCE(SUM(reports), 0) FROM command_results")
        (queued, pending), = self._query(
            "SELECT COUNT(*), COALESCE(SUM(done = 0), 0) FROM commands")
        gws = [g for g, in self._query("SELECT DISTINCT gateway FROM events ORDER BY 1")]
        with self._fail_lock:
            fail = dict(self._fail)
        with self._stats_lock:
            return {
                "events": ev,
                "deliveries": deliv,
                "duplicates": deliv - ev,
                "gateways": gws,
                "accepted": self._accepted,
                "rejected": self._rejected,
                "conflicts": self._conflict_count,
                "conflict_details": list(self._conflicts),
                "out_of_order": self._out_of_order_count,
                "out_of_order_details": list(self._out_of_order),
                "heartbeats": hb,
                "command_results": cr,
                "command_results_repeated": reports - cr,
                "commands_queued": queued,
                "commands_pending": pending,
                "requests": {p: dict(s) for p, s in self._requests.items()},
                "requests_total": self._requests_total,
                "last_request": iso_utc(self._last_request) if self._last_request else None,
                "last_request_ts": self._last_request,
                "request_log": list(self._log),
                "tls_errors": self._tls_errors,
                "last_tls_error": self._last_tls_error,
                "fail": fail,
            }

    def wait_for(self, predicate, timeout=10.0):
        """Waits until predicate(self) is true (re-checked on every store); returns it."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                v = predicate(self)
                left = end - time.monotonic()
                if v or left <= 0:
                    return v
                self._cond.wait(min(left, 0.2))

    def wait_events(self, count, timeout=10.0):
        """Waits until at least `count` distinct events are stored; returns whether they are."""
        return self.wait_for(lambda r: r._query("SELECT COUNT(*) FROM events")[0][0] >= count,
                             timeout)

    # ---- bookkeeping

    def _conn_opened(self, sock):
        with self._conns_lock:
            self._conns.add(sock)

    def _conn_closed(self, sock):
        with self._conns_lock:
            self._conns.discard(sock)

    def _connection_error(self, exc):
        if isinstance(exc, ssl.SSLError):
            with self._stats_lock:
                self._tls_errors += 1
                self._last_tls_error = str(exc)
            if self.verbose:
                sys.stderr.write(f"receiver: TLS: {exc}\n")
        elif isinstance(exc, (OSError, EOFError)):
            if self.verbose:
                sys.stderr.write(f"receiver: connection: {exc!r}\n")
        else:
            sys.stderr.write("receiver: unexpected error on a connection:\n")
            traceback.print_exception(exc, file=sys.stderr)

    def _record(self, path, status, events=0, fail=None, arrived=None, ids=None):
        """Logs a request. ts/mono/at: when it was answered; arrived_ts/arrived_mono: when
        its body had been read (what a test measures retry spacing by)."""
        now = time.time()
        ts, mono = arrived if arrived else (now, time.monotonic())
        entry = {"ts": now, "mono": time.monotonic(), "at": iso_utc(now),
                 "arrived_ts": ts, "arrived_mono": mono,
                 "path": path, "status": str(status), "events": events, "fail": fail}
        if ids is not None:
            entry["event_ids"] = ids
        with self._stats_lock:
            per = self._requests.setdefault(path, {})
            per[str(status)] = per.get(str(status), 0) + 1
            self._requests_total += 1
            self._last_request = now
            self._log.append(entry)

    # ---- failure modes

    def _fail_from_json(self, body):
        if not isinstance(body, dict):
            raise HttpError(400, "fail settings are a JSON object")
        mode = str(body.get("mode") or "none")
        if mode not in FAIL_MODES:
            raise HttpError(400, f"unknown mode {mode!r}; one of {', '.join(FAIL_MODES)}")
        count = body.get("count")
        if count is not None and (not _is_int(count) or count < 0):
            raise HttpError(400, "count is a non-negative integer (or absent: unlimited)")
        ra = body.get("retry_after")
        if ra is not None:
            if _is_num(ra):
                ra = str(int(ra)) if float(ra).is_integer() else str(ra)
            elif not isinstance(ra, str) or not ra.strip():
                raise HttpError(400, "retry_after is seconds or an HTTP date")
        delay = body.get("delay")
        if delay is None:
            delay = 5.0
        elif not _is_num(delay) or delay < 0:
            raise HttpError(400, "delay is a non-negative number of seconds")
        lists = {}
        for k in ("reject_ids", "reject_types"):
            v = body.get(k) or []
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise HttpError(400, f"{k} is a list of strings")
            lists[k] = v
        path = body.get("path")
        if path not in (None, "events", "heartbeat"):
            raise HttpError(400, "path is \"events\", \"heartbeat\" or absent (both)")
        fail = {"mode": mode, "remaining": count, "retry_after": ra, "delay": float(delay),
                "reject_ids": lists["reject_ids"], "reject_types": lists["reject_types"],
                "path": path}
        if mode == "none" or count == 0:
            fail = {"mode": "none"}
        with self._fail_lock:
            self._fail = fail
        return fail

    def _take_fail(self, route):
        """The failure to apply to this request (counting it), or None."""
        with self._fail_lock:
            f = self._fail
            if f["mode"] == "none" or (f["path"] and f["path"] != route):
                return None
            taken = dict(f)
            if f["remaining"] is not None:
                f["remaining"] -= 1
                if f["remaining"] <= 0:
                    self._fail = {"mode": "none"}
            return taken

    # ---- request dispatch

    def _handle(self, h, method):
        with self._conns_lock:
            self._active += 1
        path = urlsplit(h.path).path
        rel = path[len(self.base):] if self.base and path.startswith(self.base + "/") else (
            path if not self.base else None)
        label = rel if rel in ("/v1/events", "/v1/heartbeat") else "other"
        try:
            if self._stopping.is_set():
                h.reset()
            if rel in ("/v1/events", "/v1/heartbeat"):
                self._platform(h, method, rel, label)
            elif rel is not None and rel.startswith("/control/"):
                self._control(h, method, rel)
            else:
                h.read_body()
                raise HttpError(404, f"no such endpoint {path}")
        except _Reset:
            pass
        except HttpError as e:
            if e.status in (411, 413):
                h.close_connection = True   # the body was not read; the stream is unusable
            self._record(label, e.status)
            h.send_json(e.status, {"error": e.message})
        except (OSError, ssl.SSLError, EOFError):
            h.close_connection = True
            if self.verbose:
                sys.stderr.write(f"receiver: {path}: connection lost\n")
        except Exception as e:   # a bug here must not take the server down
            h.close_connection = True
            sys.stderr.write(f"receiver: {method} {path}: internal error:\n")
            traceback.print_exc(file=sys.stderr)
            self._record(label, 500)
            try:
                h.send_json(500, {"error": f"internal error: {e!r}"})
            except OSError:
                pass
        finally:
            with self._conns_lock:
                self._active -= 1

    def _platform(self, h, method, rel, label):
        route = rel.rsplit("/", 1)[1]          # "events" or "heartbeat"
        if method != "POST":
            h.read_body()
            self._record(label, 405)
            h.send_json(405, {"error": f"{rel} takes POST"}, {"Allow": "POST"})
            return
        raw = h.read_body()
        arrived = (time.time(), time.monotonic())
        fail = self._take_fail(route)
        mode = fail["mode"] if fail else None
        ids = _event_ids(raw) if mode and route == "events" else None

        def record(status, events=0):
            self._record(label, status, events=events, fail=mode, arrived=arrived, ids=ids)

        if mode in ("500", "503", "429"):
            headers = {"Retry-After": fail["retry_after"]} if fail["retry_after"] else {}
            record(mode)
            h.send_json(int(mode), {"error": f"test failure {mode}"}, headers)
            return
        if mode == "reset":
            record("reset")
            h.reset()
        if mode == "garbage":
            record(200)
            h.send_bytes(200, GARBAGE, "application/json")
            return
        if mode == "slow":
            self._stopping.wait(fail["delay"])
            if self._stopping.is_set():
                h.reset()

        if self.token is not None:
            auth = h.headers.get("Authorization", "")
            scheme, _, cred = auth.partition(" ")
            if scheme.lower() != "bearer" or cred.strip() != self.token:
                record(401)
                h.send_json(401, {"error": "missing or wrong bearer token"},
                            {"WWW-Authenticate": 'Bearer realm="platform"'})
                return
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise HttpError(400, f"body is not JSON: {e}") from None

        if route == "events":
            reject = fail if mode == "reject" else None
            reply, n = self._events(body, reject)
            if mode == "phantom":
                reply["accepted"].append(str(uuid.uuid4()))
        else:
            reply, n = self._heartbeat(body), 0
        record(200, events=n)
        h.send_json(200, reply)

    # ---- POST /v1/events

    def _events(self, body, reject):
        if not isinstance(body, dict):
            raise HttpError(400, "body is not a JSON object")
        gw = body.get("gateway")
        if not isinstance(gw, str) or not gw:
            raise HttpError(400, "missing or invalid field 'gateway'")
        if not isinstance(body.get("sent_at"), str) or not body["sent_at"]:
            raise HttpError(400, "missing or invalid field 'sent_at'")
        if self.strict and not ISO_ANY.match(body["sent_at"]):
            raise HttpError(400, "sent_at is not an ISO 8601 time")
        events = body.get("events")
        if not isinstance(events, list):
            raise HttpError(400, "missing or invalid field 'events' (an array)")
        results = body.get("command_results")
        why = _results_problem(results)
        if why:
            raise HttpError(400, why)

        accepted, rejected, keep = [], [], []
        reject_ids = set(reject["reject_ids"]) if reject else set()
        reject_types = set(reject["reject_types"]) if reject else set()
        for ev in events:
            problems = event_problems(ev)
            if not problems and self.strict:
                problems = hazard_problems(ev["hazard"])
            eid = ev.get("event_id") if isinstance(ev, dict) else None
            eid = eid if isinstance(eid, str) else None
            if problems:
                rejected.append({"event_id": eid, "reason": "; ".join(problems)})
            elif eid in reject_ids or ev["type"] in reject_types:
                rejected.append({"event_id": eid,
                                 "reason": f"rejected by the test platform ({ev['type']})"})
            else:
                keep.append(ev)
                accepted.append(eid)

        now = time.time()

        def store(con):
            self._store_events(con, gw, keep, now)
            self._store_results(con, gw, results or [], now)
            return self._pending_commands(con, gw)
        commands = self._txn(store)
        with self._stats_lock:
            self._accepted += len(accepted)
            self._rejected += len(rejected)
        return {"accepted": accepted, "rejected": rejected, "commands": commands}, len(events)

    def _store_events(self, con, gw, events, now):
        ids = list(dict.fromkeys(ev["event_id"] for ev in events))
        stored = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = ",".join("?" * len(chunk))
            stored.update(con.execute(
                f"SELECT event_id, body FROM events WHERE event_id IN ({q})", chunk))
        new_rows, repeats = [], {}
        received_at, received_ms = iso_utc(now), int(now * 1000)
        for ev in events:
            eid, seq, hid = ev["event_id"], ev["seq"], ev["hazard"]["id"]
            body = _dumps(ev) if self.store_bodies else None
            if eid in stored:
                repeats[eid] = repeats.get(eid, 0) + 1
                old = stored[eid]
                if old is not None and old != body and json.loads(old) != ev:
                    with self._stats_lock:
                        self._conflict_count += 1
                        if len(self._conflicts) < DETAILS_KEPT:
                            self._conflicts.append({"event_id": eid, "seq": seq})
                continue
            key = (gw, hid)
            last = self._last_seq.get(key)
            if last is None:
                (last,), = con.execute("SELECT MAX(seq) FROM events WHERE gateway = ?"
                                       " AND hazard_id = ?", key)
            if last is not None and seq <= last:
                with self._stats_lock:
                    self._out_of_order_count += 1
                    if len(self._out_of_order) < DETAILS_KEPT:
                        self._out_of_order.append({"gateway": gw, "hazard_id": hid,
                                                   "seq": seq, "after_seq": last,
                                                   "event_id": eid})
            self._last_seq[key] = seq if last is None else max(last, seq)
            stored[eid] = body
            new_rows.append((eid, gw, seq, ev["type"], hid, ev["at"], received_at,
                             received_ms, body))
        con.executemany("INSERT INTO events (event_id, gateway, seq, type, hazard_id, at,"
                        " received_at, received_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        new_rows)
        con.executemany("UPDATE events SET deliveries = deliveries + ? WHERE event_id = ?",
                        [(n, eid) for eid, n in repeats.items()])

    def _store_results(self, con, gw, results, now):
        at = iso_utc(now)
        for r in results:
            con.execute("INSERT INTO command_results (id, gateway, ok, reason, received_at)"
                        " VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT (id) DO UPDATE SET reports = reports + 1",
                        (r["id"], gw, int(r["ok"]), r.get("reason"), at))
            con.execute("UPDATE commands SET done = 1 WHERE id = ?", (r["id"],))

    def _pending_commands(self, con, gw):
        rows = con.execute("SELECT num, body FROM commands WHERE done = 0 AND"
                           " (gateway IS NULL OR gateway = ?) ORDER BY num", (gw,)).fetchall()
        if rows:
            con.executemany("UPDATE commands SET sent = sent + 1 WHERE num = ?",
                            [(n,) for n, _ in rows])
        return [json.loads(b) for _, b in rows]

    # ---- POST /v1/heartbeat

    def _heartbeat(self, body):
        if not isinstance(body, dict):
            raise HttpError(400, "body is not a JSON object")
        gw = body.get("gateway")
        if not isinstance(gw, str) or not gw:
            raise HttpError(400, "missing or invalid field 'gateway'")
        if self.strict:
            problems = heartbeat_problems(body)
            if problems:
                raise HttpError(400, "; ".join(problems))
        results = body.get("command_results")
        why = _results_problem(results)
        if why:
            raise HttpError(400, why)
        now = time.time()

        def store(con):
            con.execute("INSERT INTO heartbeats (gateway, received_at, body) VALUES (?, ?, ?)",
                        (gw, iso_utc(now), _dumps(body)))
            self._store_results(con, gw, results or [], now)
            return self._pending_commands(con, gw)
        return {"commands": self._txn(store)}

    # ---- control API

    def _control(self, h, method, rel):
        what = rel[len("/control/"):]
        raw = h.read_body()
        gets = {"state": self.state, "events": None, "heartbeats": self.heartbeats,
                "commands": self.commands}
        if method == "GET" and what in gets:
            if what == "events":
                gw = parse_qs(urlsplit(h.path).query).get("gateway", [None])[0]
                out = self.events(gw)
            else:
                out = gets[what]()
            h.send_json(200, out)
            return
        if method == "POST" and what in ("fail", "command"):
            try:
                body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            except (UnicodeDecodeError, ValueError) as e:
                raise HttpError(400, f"body is not JSON: {e}") from None
            if what == "fail":
                h.send_json(200, {"ok": True, "fail": self._fail_from_json(body)})
                return
            cmds = body if isinstance(body, list) else [body]
            try:
                ids = [self.queue_command(c) for c in cmds]
            except ValueError as e:
                raise HttpError(400, str(e)) from None
            h.send_json(200, {"ok": True, "queued": ids})
            return
        if what in gets or what in ("fail", "command"):
            raise HttpError(405, f"/control/{what} takes {'GET' if what in gets else 'POST'}")
        raise HttpError(404, f"no such control endpoint /control/{what}")


# ---------------------------------------------------------------- command line

def main(argv=None):
    ap = argparse.ArgumentParser(
        description="County platform receiver for firegw tests (contract v1).")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    ap.add_argument("--db", required=True, help="SQLite file to store what arrives in")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="the certificate's private key (PEM)")
    ap.add_argument("--client-ca", help="require a client certificate signed by this CA")
    ap.add_argument("--token", help="require 'Authorization: Bearer TOKEN'")
    ap.add_argument("--base", default="", help="path prefix of every endpoint, e.g. /api")
    ap.add_argument("--strict", action="store_true",
                    help="reject events whose hazard misses a contract field")
    ap.add_argument("--no-bodies", action="store_true",
                    help="do not store each event's JSON (benchmarks: faster)")
    ap.add_argument("--verbose", "-v", action="store_true", help="log requests on stderr")
    args = ap.parse_args(argv)
    if args.client_ca and not args.tls_cert:
        ap.error("--client-ca needs --tls-cert")
    if args.tls_key and not args.tls_cert:
        ap.error("--tls-key needs --tls-cert")

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    rx = Receiver(db=args.db, port=args.port, token=args.token, base=args.base,
                  tls_cert=args.tls_cert, tls_key=args.tls_key, client_ca=args.client_ca,
                  strict=args.strict, verbose=args.verbose, store_bodies=not args.no_bodies)
    try:
        rx.start()
    except (OSError, ssl.SSLError, sqlite3.Error) as e:
        print(f"receiver: cannot start: {e}", file=sys.stderr)
        return 1
    print(f"listening {rx.port}", flush=True)
    try:
        while not stop.wait(0.1):
            pass
    finally:
        rx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
