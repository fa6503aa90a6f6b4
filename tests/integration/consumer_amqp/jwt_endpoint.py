#!/usr/bin/python3
"""A stand-in Entra token endpoint whose tokens Service Bus rejects until the test sends SIGUSR1.

Serves POST /{tenant}/oauth2/v2.0/token on 127.0.0.1 and writes its port to PORT_FILE. A
request whose client_assertion differs from the current contents of TOKEN_FILE gets HTTP 401
with AADSTS700024, as Entra responds to a stale federated token. Other requests get a JWT access
token with expires_in EXPIRES_IN seconds. Until SIGUSR1 arrives its "exp" claim lies in the
past, so the emulator rejects the put-token with 401 ExpiredToken; after SIGUSR1 it lies an
hour ahead and is accepted. Each request is logged as one line: "token request -> STATUS KIND".

    /usr/bin/python3 jwt_endpoint.py PORT_FILE TOKEN_FILE EXPIRES_IN
"""

import base64
import http.server
import json
import os
import signal
import sys
import time
import urllib.parse

PORT_FILE, TOKEN_FILE, EXPIRES_IN = sys.argv[1], sys.argv[2], int(sys.argv[3])
accepted = False


def accept_from_now_on(signum, frame):
    global accepted
    accepted = True
    print("issuing tokens that Service Bus accepts", flush=True)


def encode(part):
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")


def access_token():
    expiry = int(time.time()) + (3600 if accepted else -300)
    return f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode({'exp': expiry})}.signature"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        fields = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        with open(TOKEN_FILE, encoding="utf-8") as token_file:
            current = token_file.read().strip()
        if fields.get("client_assertion") != current:
            status, kind = 401, "stale-assertion"
            body = {"error": "invalid_client",
                    "error_description": "AADSTS700024: Client assertion is not within its valid time range."}
        else:
            status, kind = 200, "valid" if accepted else "expired"
            body = {"token_type": "Bearer", "expires_in": EXPIRES_IN, "access_token": access_token()}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        print(f"token request -> {status} {kind}", flush=True)

    def log_message(self, format, *args):
        pass


signal.signal(signal.SIGUSR1, accept_from_now_on)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w", encoding="utf-8") as port_file:
    port_file.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
