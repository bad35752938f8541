"""``http:`` where the server listens: ``cti serve`` uses it unless told ``--host``/``--port``,
and ``cti routing explain --config`` asks there."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HttpSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Loopback: a first start is reachable only from this machine (the demo's passwords are
    # well known); a proxy or 0.0.0.0 is a decision to write down.
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65_535)  # 0: a free port the kernel chooses

    def client_host(self) -> str:
        """Where a client on this machine reaches it: loopback for an every-address listener."""
        if self.host in {"0.0.0.0", ""}:
            return "127.0.0.1"
        if self.host == "::":
            return "[::1]"
        return f"[{self.host}]" if ":" in self.host else self.host
