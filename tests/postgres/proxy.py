"""A TCP proxy in front of PostgreSQL that a test can cut, to play a database outage.

`forward()`: connections pass through. `refuse()`: every connection is dropped and new ones are
refused, like a database that is down. `hang()`: connections are accepted and never answered, like
a network that silently drops packets (the worst case: the client waits for its timeout).
"""

import contextlib
import selectors
import socket
import threading

from tests.servers import free_port


class DatabaseProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode = "forward"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._listen()

    # --- what tests call ---------------------------------------------------------------------

    def forward(self) -> None:
        self._set_mode("forward")

    def hang(self) -> None:
        self._set_mode("hang")

    def refuse(self) -> None:
        self._stop_listening()
        self._drop_connections()
        self.mode = "refuse"

    def close(self) -> None:
        self._stop_listening()
        self._drop_connections()

    # --- how it works ------------------------------------------------------------------------

    def _set_mode(self, mode: str) -> None:
        self._drop_connections()
        self.mode = mode
        if self._listener is None:
            self._listen()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self._thread.start()

    def _stop_listening(self) -> None:
        if self._listener is None:
            return
        self._stopping.set()
        assert self._thread is not None
        self._thread.join()
        self._listener.close()
        self._listener = None

    def _drop_connections(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self._sockets.append(client)
            if self.mode == "forward":
                upstream = socket.create_connection(self.target)
                with self._lock:
                    self._sockets.append(upstream)
                threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            # In "hang" mode the client socket is kept open and never answered.

    @staticmethod
    def _pump(client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes."""
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            while True:
                try:
                    for key, _ in selector.select(timeout=0.5):
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        key.data.sendall(data)
                except (OSError, ValueError):
                    return
