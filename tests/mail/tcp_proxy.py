"""A tiny threaded TCP proxy on 127.0.0.1 that a test can cut and restore.

Dovecot cannot restart on the same port at once, so tests put this between the poller and
the server to play "the server went away and came back":

    with TcpProxy(imap.port) as proxy:      # the poller connects to proxy.port
        proxy.cut()                         # drop every connection, refuse new ones
        proxy.restore()                     # accept and forward again
        proxy.cut_after(50_000)             # cut once 50 kB went from server to client
"""

import contextlib
import socket
import threading

HOST = "127.0.0.1"


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = HOST):
        self.target = (target_host, target_port)
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._cut = False
        self._budget: int | None = None  # bytes server -> client before an automatic cut
        self._closed = threading.Event()
        self.accepted = 0  # connections accepted while not cut
        self.cuts = 0
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def __enter__(self) -> "TcpProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed.set()
        self._drop_all()
        self._thread.join(5)
        self._listener.close()

    def cut(self) -> None:
        """Drop every open connection; accept new ones only to close them, until restore()."""
        with self._lock:
            self._cut = True
            self.cuts += 1
            self._budget = None
        self._drop_all()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def cut_after(self, nbytes: int) -> None:
        """Cut (as cut()) once `nbytes` more bytes went from the server to the client."""
        with self._lock:
            self._budget = nbytes

    @property
    def is_cut(self) -> bool:
        return self._cut

    def _drop_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
                self.accepted += 1
            for src, dst, counted in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pump, args=(src, dst, counted), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while data := src.recv(65536):
                if counted and self._spend(len(data)):
                    self.cut()
                    return
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):  # one side ended: end the other
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _spend(self, nbytes: int) -> bool:
        """Count bytes against the budget; True when it ran out."""
        with self._lock:
            if self._budget is None:
                return False
            self._budget -= nbytes
            return self._budget <= 0
