#!/usr/bin/python3
"""A fake Entra ID token endpoint for workload-identity tests, bound to 127.0.0.1.

It serves POST /{tenant}/oauth2/v2.0/token and checks every form field the way Entra does for a
federated credential: client_id, scope, grant_type=client_credentials,
client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer, and
client_assertion equal to the current contents of --token-file (read on every request, so a
test can rotate it). A request that passes gets {"access_token", "expires_in", "token_type"};
one that fails gets HTTP 400 or 401 with an AADSTS error, as Entra does. --mode aadsts
rejects every request with AADSTS700016 (unknown application).

Every request is appended to --log as one JSON line: {"ok", "error", "assertion", "fields"}.
Once listening it writes its port to --port-file. Stop it with SIGTERM.

  token_endpoint.py --port-file F --log F --tenant T --client-id C --token-file F
                    [--scope S] [--expires-in 3600] [--mode ok|aadsts]
"""
import argparse
import os
import http.server
import json
import sys
import urllib.parse

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def parse_arguments():
    parser = argparse.ArgumentParser(description="fake Entra token endpoint")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--scope", default="https://servicebus.azure.net/.default")
    parser.add_argument("--expires-in", type=int, default=3600)
    parser.add_argument("--mode", choices=["ok", "aadsts"], default="ok")
    return parser.parse_args()


def check_request(options, path, fields):
    """Returns (status, error code, description) for a failed check, or None when it passes."""
    expected_path = f"/{options.tenant}/oauth2/v2.0/token"
    if path != expected_path:
        return 404, "invalid_request", f"AADSTS90002: Tenant path {path} is not {expected_path}."
    if options.mode == "aadsts":
        return 400, "invalid_client", (
            f"AADSTS700016: Application with identifier '{fields.get('client_id', '')}' was not "
            "found in the directory 'test'.\r\nTrace ID: 00000000-0000-0000-0000-000000000000")
    if fields.get("grant_type") != "client_credentials":
        return 400, "unsupported_grant_type", "AADSTS70003: The grant type is not supported."
    if fields.get("client_id") != options.client_id:
        return 400, "unauthorized_client", "AADSTS700016: The client_id is not the one expected."
    if fields.get("scope") != options.scope:
        return 400, "invalid_scope", f"AADSTS70011: The scope {fields.get('scope')} is not valid."
    if fields.get("client_assertion_type") != JWT_BEARER:
        return 400, "invalid_request", "AADSTS700023: client_assertion_type is not jwt-bearer."
    with open(options.token_file, encoding="utf-8") as token_file:
        current = token_file.read().strip()
    if fields.get("client_assertion") != current:
        return 401, "invalid_client", (
            "AADSTS700024: Client assertion is not the current federated token.")
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    options = None

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode("utf-8")
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True)
        fields = dict(pairs)
        failure = None
        if len(fields) != len(pairs):
            failure = 400, "invalid_request", "AADSTS90014: A form field appears twice."
        elif self.headers.get("Content-Type", "").split(";")[0] != (
                "application/x-www-form-urlencoded"):
            failure = 400, "invalid_request", "AADSTS900144: The body is not form-encoded."
        else:
            failure = check_request(self.options, self.path, fields)

        with open(self.options.log, "a", encoding="utf-8") as log:
            log.write(json.dumps({
                "ok": failure is None,
                "error": failure[2] if failure else None,
                "assertion": fields.get("client_assertion"),
                "fields": sorted(fields),
            }) + "\n")

        if failure is None:
            status = 200
            body = {"token_type": "Bearer", "expires_in": self.options.expires_in,
                    "ext_expires_in": self.options.expires_in,
                    "access_token": "eyJ0eXAiOiJKV1QifQ.test-access-token.sig"}
        else:
            status, code, description = failure
            body = {"error": code, "error_description": description, "error_codes": [700016]}
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # keep the test output for the checks
        pass


def main():
    options = parse_arguments()
    Handler.options = options
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(options.port_file + ".tmp", "w", encoding="utf-8") as port_file:
        port_file.write(str(server.server_address[1]))
    os.rename(options.port_file + ".tmp", options.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
