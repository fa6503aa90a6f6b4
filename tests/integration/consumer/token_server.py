"""A stand-in for the Entra token endpoint, for the consumer's workload identity test.

Answers POST /{tenant}/oauth2/v2.0/token with a fixed access token when the form carries the
client credentials grant with the expected client id and the federated token as its client
assertion, and 400 with an AADSTS error otherwise. Serves 127.0.0.1 on a free port and writes
the port to the ready file.

    /usr/bin/python3 token_server.py READY_FILE TOKEN_FILE ACCESS_TOKEN CLIENT_ID
"""

import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

READY_FILE, TOKEN_FILE, ACCESS_TOKEN, CLIENT_ID = sys.argv[1:5]


class TokenHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        field = lambda name: form.get(name, [""])[0]
        with open(TOKEN_FILE) as token_file:
            assertion = token_file.read().strip()
        valid = (
            self.path.endswith("/oauth2/v2.0/token")
            and field("grant_type") == "client_credentials"
            and field("client_id") == CLIENT_ID
            and field("client_assertion") == assertion
            and field("client_assertion_type")
            == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            and field("scope").endswith(".documents.azure.com/.default")
        )
        if valid:
            status, body = 200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        else:
            status, body = 400, {"error": "invalid_request", "error_description": "AADSTS90014: the request is invalid"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        print(f"token request scope={field('scope')} -> {status}", flush=True)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), TokenHandler)
with open(READY_FILE, "w") as ready:
    ready.write(str(server.server_address[1]))
server.serve_forever()
