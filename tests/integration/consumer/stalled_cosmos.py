#!/usr/bin/python3
"""A Cosmos DB stand-in whose document writes never get a response.

It responds to the consumer's start-up check (create database, create container, read container)
with success, so that the consumer grants credit, then accepts each document upsert, appends
the document's id to --requests-file and keeps the request open until the server stops. A
consumer with --concurrency 1 thus has exactly one write started and the rest of its
deliveries waiting for the writer.

    /usr/bin/python3 stalled_cosmos.py --ready-file FILE --requests-file FILE

It listens on a free port of 127.0.0.1 and writes {"port": N} to --ready-file once listening.
Signatures are not checked. SIGTERM stops it.
"""

import argparse
import json
import os
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOCS_PATH = re.compile(r"^/dbs/[^/]+/colls/[^/]+/docs/?$")
COLLS_PATH = re.compile(r"^/dbs/[^/]+/colls/?$")
CONTAINER_PATH = re.compile(r"^/dbs/[^/]+/colls/[^/]+/?$")
stopping = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests_file = ""

    def log_message(self, format, *args):  # noqa: A002 (the base class names it format)
        sys.stdout.write("stalled_cosmos: " + (format % args) + "\n")
        sys.stdout.flush()

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-activity-id", "stalled-cosmos")
        self.send_header("x-ms-request-charge", "1")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        body = self.read_body()
        if DOCS_PATH.match(path):
            document = json.loads(body)
            with open(self.requests_file, "a", encoding="utf-8") as out:
                out.write(document["id"] + "\n")
            # Never respond, so the consumer's write stays in progress until the consumer cancels it.
            stopping.wait()
            return
        if path.rstrip("/") == "/dbs" or COLLS_PATH.match(path):
            self.reply(201, json.loads(body) if body else {})
            return
        self.reply(404, {"code": "NotFound", "message": f"no route for POST {path}"})

    def do_GET(self):  # noqa: N802
        path = self.path.split("?", 1)[0]
        if CONTAINER_PATH.match(path):
            self.reply(200, {"id": path.rstrip("/").rsplit("/", 1)[1]})
            return
        self.reply(404, {"code": "NotFound", "message": f"no route for GET {path}"})


def main():
    parser = argparse.ArgumentParser(description="Cosmos DB stand-in that never responds to writes")
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--requests-file", required=True)
    args = parser.parse_args()

    Handler.requests_file = args.requests_file
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
