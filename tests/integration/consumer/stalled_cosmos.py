#!/usr/bin/python3
"""A Cosmos DB stand-in whose document writes or container reads fail in one of seven ways (--mode).

It responds to the consumer's start-up check (create database, create container, read container)
with success, so that the consumer grants credit. Then, for each document upsert:

- stall (the default): it appends the document's id to --requests-file and keeps the request
  open until the server stops. A consumer with --concurrency 1 thus has exactly one write
  started and the rest of its deliveries waiting for the writer.
- reset-reused: the first upsert on each connection gets 201, and the line "201 ID" goes to
  --requests-file. The second gets the start of a 201 response and then a TCP reset, and the
  line "reset ID", as when a server closes a kept-alive connection while a request is on it.
- reject-text: every upsert gets 400 with error text that is hard to pass on, and the line
  "400 ID" goes to --requests-file. Odd-numbered upserts get a JSON error whose message is
  "x" and 300 times "é" in UTF-8, which a cut at a byte count splits in the middle of a
  character. Even ones get an HTML page in Latin-1, as a proxy might send, with bytes that are
  not UTF-8 in the body and in the x-ms-activity-id header.
- forbid-text: every upsert gets 403 with the JSON error of reject-text's odd-numbered upserts,
  and the line "403 ID" goes to --requests-file.
- reset-reads: a container read that is the first request on its connection gets 200, and the
  line "200 read" goes to --requests-file. One on a connection that served an earlier request
  gets the start of a 200 response and then a TCP reset, and the line "reset read". curl sends
  a request again by itself only when no response byte arrived.
- unavailable-reads: every container read gets 503 and the line "503 read"; every upsert gets
  201 and the line "201 ID".
- hang-reads: every container read gets no response until the server stops, and the line
  "hang read"; every upsert gets 201 and the line "201 ID".

    /usr/bin/python3 stalled_cosmos.py --ready-file FILE --requests-file FILE [--mode MODE]

It listens on a free port of 127.0.0.1 and writes {"port": N} to --ready-file once listening.
Signatures are not checked. SIGTERM stops it.
"""

import argparse
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOCS_PATH = re.compile(r"^/dbs/[^/]+/colls/[^/]+/docs/?$")
COLLS_PATH = re.compile(r"^/dbs/[^/]+/colls/?$")
CONTAINER_PATH = re.compile(r"^/dbs/[^/]+/colls/[^/]+/?$")
stopping = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests_file = ""
    mode = "stall"
    upserts_on_connection = 0  # http.server keeps one handler per connection
    requests_on_connection = 0  # for reset-reads
    upserts = 0  # on every connection, for reject-text
    upserts_lock = threading.Lock()

    def log_message(self, format, *args):  # noqa: A002 (the base class names it format)
        sys.stdout.write("stalled_cosmos: " + (format % args) + "\n")
        sys.stdout.flush()

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status, body, ascii_only=True):
        data = json.dumps(body, ensure_ascii=ascii_only).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-activity-id", "stalled-cosmos")
        self.send_header("x-ms-request-charge", "1")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.requests_on_connection += 1
        path = self.path.split("?", 1)[0]
        body = self.read_body()
        if DOCS_PATH.match(path) and self.mode == "reset-reused":
            document = json.loads(body)
            self.upserts_on_connection += 1
            if self.upserts_on_connection == 1:
                self.record(f"201 {document['id']}")
                self.reply(201, document)
                return
            self.record(f"reset {document['id']}")
            self.wfile.write(b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{")
            self.wfile.flush()
            time.sleep(0.05)  # the consumer reads the part, then the reset arrives
            self.reset()
            return
        if DOCS_PATH.match(path) and self.mode in ("unavailable-reads", "hang-reads"):
            document = json.loads(body)
            self.record(f"201 {document['id']}")
            self.reply(201, document)
            return
        if DOCS_PATH.match(path) and self.mode == "reject-text":
            self.reject_with_text(json.loads(body))
            return
        if DOCS_PATH.match(path) and self.mode == "forbid-text":
            self.record(f"403 {json.loads(body)['id']}")
            self.reply(403, {"code": "Forbidden", "message": "x" + "\u00e9" * 300}, ascii_only=False)
            return
        if DOCS_PATH.match(path):
            document = json.loads(body)
            self.record(document["id"])
            # Never respond, so the consumer's write stays in progress until the consumer cancels it.
            stopping.wait()
            return
        if path.rstrip("/") == "/dbs" or COLLS_PATH.match(path):
            self.reply(201, json.loads(body) if body else {})
            return
        self.reply(404, {"code": "NotFound", "message": f"no route for POST {path}"})

    def reject_with_text(self, document):
        with Handler.upserts_lock:
            Handler.upserts += 1
            number = Handler.upserts
        self.record(f"400 {document['id']}")
        if number % 2 == 1:
            self.reply(400, {"code": "BadRequest", "message": "x" + "\u00e9" * 300}, ascii_only=False)
            return
        data = b"<html><body>Requ\xeate invalide \xff\xfe</body></html>"
        self.send_response(400)
        self.send_header("Content-Type", "text/html; charset=iso-8859-1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-activity-id", "activit\u00e9-\u00ff")  # sent as Latin-1 bytes
        self.end_headers()
        self.wfile.write(data)

    def reset(self):
        # With a zero linger time close() sends a reset. http.server's own close would first
        # shut the socket down for writing, which sends a FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def record(self, line):
        with open(self.requests_file, "a", encoding="utf-8") as out:
            out.write(line + "\n")

    def do_GET(self):  # noqa: N802
        self.requests_on_connection += 1
        path = self.path.split("?", 1)[0]
        if CONTAINER_PATH.match(path) and self.mode == "reset-reads":
            if self.requests_on_connection > 1:
                self.record("reset read")
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
                self.wfile.flush()
                time.sleep(0.05)  # the consumer reads the part, then the reset arrives
                self.reset()
                return
            self.record("200 read")
        if CONTAINER_PATH.match(path) and self.mode == "unavailable-reads":
            self.record("503 read")
            self.reply(503, {"code": "ServiceUnavailable", "message": "read refused by the stand-in"})
            return
        if CONTAINER_PATH.match(path) and self.mode == "hang-reads":
            self.record("hang read")
            stopping.wait()
            return
        if CONTAINER_PATH.match(path):
            self.reply(200, {"id": path.rstrip("/").rsplit("/", 1)[1]})
            return
        self.reply(404, {"code": "NotFound", "message": f"no route for GET {path}"})


def main():
    parser = argparse.ArgumentParser(description="Cosmos DB stand-in whose writes fail")
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--requests-file", required=True)
    parser.add_argument("--mode", choices=["stall", "reset-reused", "reject-text", "forbid-text", "reset-reads",
                                           "unavailable-reads", "hang-reads"], default="stall")
    args = parser.parse_args()

    Handler.requests_file = args.requests_file
    Handler.mode = args.mode
    open(args.requests_file, "w", encoding="utf-8").close()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True

    def stop(_signum, _frame):
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    temporary = f"{args.ready_file}.tmp"
    with open(temporary, "w", encoding="utf-8") as out:
        json.dump({"port": server.server_address[1]}, out)
    os.replace(temporary, args.ready_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
