"""``python -m benchmarks._otlp_sink``: a local OTLP/HTTP endpoint that accepts and discards.

Prints its URL on the first line of stdout, then serves until stdin closes. It runs in its
own process so that receiving costs the measured FlowStone process nothing but the sending.
It answers 200 with an empty body: OTLP/HTTP exporters need no more.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per exporter, as a collector

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()  # until the parent closes it
    server.shutdown()


if __name__ == "__main__":
    main()
