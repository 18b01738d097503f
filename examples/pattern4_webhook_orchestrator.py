#!/usr/bin/env python3
# webhook-orchestrator.py -- seed 000, "Pattern 4: Webhook-Driven Orchestration", run against gitjit.
#
# Reacts to events instead of polling: when an issue becomes ready it claims the next ready issue
# for its worker; when one is completed it says so. The events come from jit-dispatch, which POSTs
# every new event to the URLs in its [[webhooks]]:
#
#     [[webhooks]]
#     url = "http://127.0.0.1:3000/webhook/jit-event"
#     events = ["issue_state_changed", "issue_completed"]
#
# or, without a dispatcher, from `jit events tail --follow --json` piped into this script's --stdin.
# Run it inside the repository (or set JIT_REPO) with `jit` on PATH.
#
# What differs from the seed:
# - Python's standard library (http.server) instead of node and express: gitjit is a Python tool,
#   so nothing else needs installing. The endpoint and the behaviour are the seed's.
# - gitjit records "became ready" as `issue_state_changed` with `to: "ready"` (a derived notice when
#   the last dependency finishes), exactly what the seed listens for.
# - claim-next exits 8 when another worker got there first (no work): that is not an error.
# - Settable from the environment: PORT (3000; 0 picks a free one, printed at start), AGENT_ID
#   (agent:webhook-worker), MAX_EVENTS (0 = run forever; N = exit after N events, for tests).
import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

AGENT_ID = os.environ.get("AGENT_ID", "agent:webhook-worker")
MAX_EVENTS = int(os.environ.get("MAX_EVENTS", "0"))
EXIT_NO_WORK = 8  # gitjit's documented exit code: no ready issue to claim (docs/cli.md)

handled = 0


def on_event(event):
    """The seed's handler: claim when something became ready, note completions."""
    global handled
    handled += 1
    print(f"Received event: {event.get('type')}", flush=True)

    # When an issue becomes ready, dispatch it
    if event.get("type") == "issue_state_changed" and event.get("to") == "ready":
        r = subprocess.run(["jit", "issue", "claim-next", AGENT_ID], capture_output=True, text=True)
        if r.returncode == 0:
            print(f"Claimed issue: {r.stdout.strip()}", flush=True)
        elif r.returncode == EXIT_NO_WORK:
            print("Nothing left to claim", flush=True)
        else:
            print(f"Failed to claim: {r.stderr.strip()}", file=sys.stderr, flush=True)

    # When an issue is completed, check for newly unblocked issues
    if event.get("type") == "issue_completed":
        print(f"Issue completed: {event.get('issue_id')}; dependents become ready on their own", flush=True)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        if self.path != "/webhook/jit-event":
            self.send_response(404)
            self.end_headers()
            return
        try:
            event = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        on_event(event)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    if "--stdin" in sys.argv[1:]:
        for line in sys.stdin:
            if line.strip():
                on_event(json.loads(line))
                if MAX_EVENTS and handled >= MAX_EVENTS:
                    break
        return 0
    server = HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "3000"))), Handler)
    print(f"Webhook orchestrator listening on port {server.server_address[1]}", flush=True)
    while not (MAX_EVENTS and handled >= MAX_EVENTS):
        server.handle_request()
    return 0


if __name__ == "__main__":
    sys.exit(main())
