"""Stand-ins for running workers on loopback, registered as `arrears worker` registers
(this process's pid, so alive): one that answers `/own/` at once, one that never does."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infra.settings import Settings
from streams.live import register_worker

__all__ = ["silent_worker", "answering_worker"]


@contextmanager
def silent_worker(settings: Settings, name: str = "silent") -> Iterator[int]:
    """A worker whose port takes connections and never answers (the kernel accepts them;
    nothing reads): what a paused or hung worker looks like from outside. Yields the port."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = int(server.getsockname()[1])
        register_worker(settings, name, port)
        yield port


@contextmanager
def answering_worker(settings: Settings, name: str, partitions: list[int]) -> Iterator[int]:
    """A ready worker owning `partitions`: one employer of 320412 per partition, offset 10
    on each of t.inspection's. Yields the port."""
    body = json.dumps(
        {
            "worker_id": name,
            "ready": True,
            "partitions": partitions,
            "figures": [["320412", "total.employers", len(partitions)]],
            "offsets": {"t.inspection": {str(p): 10 for p in partitions}},
            "events": 10 * len(partitions),
        }
    ).encode()

    class Own(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:  # no access log on the test's stderr
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Own)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        register_worker(settings, name, int(server.server_address[1]))
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
