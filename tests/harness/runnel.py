"""RunnelBroker: target/release/runnel serve on a free loopback port and a private log dir
(plus any extra_listeners, each on its own free port, and the admin HTTP listener on another
free loopback port: .admin_url, e.g. http://127.0.0.1:PORT; https when the config sets
admin.listener.security.protocol=SSL).

Settings reach the binary as repeated `--override key=value` (Kafka server.properties
keys); an optional config_file is passed as `--config FILE`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .paths import RUNNEL_BIN
from .ports import LOOPBACK, free_port
from .process import BrokerProcess, BrokerStartError


class RunnelBroker(BrokerProcess):
    kind = "runnel"
    default_start_timeout_s = 30.0

    def __init__(self, config: dict[str, object] | None = None, *, binary: str | os.PathLike | None = None,
                 config_file: str | os.PathLike | None = None, **kwargs):
        super().__init__(config, **kwargs)
        self.binary = Path(binary) if binary is not None else RUNNEL_BIN
        self.config_file = Path(config_file) if config_file is not None else None
        # Kept across restarts, like the Kafka port, so admin_url stays valid.
        self.admin_port = free_port()
        self.env.setdefault("RUST_BACKTRACE", "1")
        # Plain text in the captured output (tracing-subscriber honours NO_COLOR).
        self.env.setdefault("NO_COLOR", "1")

    @property
    def admin_url(self) -> str:
        """Base URL of the admin HTTP listener (no trailing slash)."""
        ssl = self.config.get("admin.listener.security.protocol", "PLAINTEXT").strip().upper() == "SSL"
        return f"{'https' if ssl else 'http'}://{LOOPBACK}:{self.admin_port}"

    def prepare(self) -> None:
        if not os.access(self.binary, os.X_OK):
            raise BrokerStartError(
                f"Runnel binary {self.binary} not found or not executable (run `cargo build --release`)")

    def command(self) -> list[str]:
        cmd = [str(self.binary), "serve"]
        if self.config_file is not None:
            cmd += ["--config", str(self.config_file)]
        settings = {
            "listeners": ",".join([f"PLAINTEXT://{LOOPBACK}:{self.port}", *self.extra_listener_uris()]),
            "log.dirs": str(self.data_dir),
            "admin.listener": f"{LOOPBACK}:{self.admin_port}",
        }
        if self.extra_listeners:
            # Kafka's default map, plus any custom listener names.
            protocols = {p: p for p in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")} | self.extra_listeners
            settings["listener.security.protocol.map"] = ",".join(f"{n}:{p}" for n, p in protocols.items())
        settings.update(self.config)
        for key, value in settings.items():
            cmd += ["--override", f"{key}={value}"]
        return cmd
