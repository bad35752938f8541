"""``traffic:`` limits that keep hostile or slow clients from stalling anyone else."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

# A CSP source a browser understands and that cannot break out of the header: 'self', 'none',
# https: or an http(s) origin with an optional leading wildcard label and port.
FrameSource = Annotated[str, StringConstraints(
    pattern=r"^(?:'self'|'none'|https:|https?://(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?)$")]


class TrafficSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- input helper's section: kept at the end so the traffic fields above merge cleanly ---
    # Who may frame the visitor chat page /chat: CSP ``frame-ancestors`` sources, e.g.
    # ["https://www.example.com", "https://*.example.com"]. Default ["'none'"]: no site may embed
    # it until the operator names theirs (clickjacking of the widget otherwise). Every other page
    # is never framed. See docs/security.md.
    chat_frame_ancestors: tuple[FrameSource, ...] = ("'none'",)

    @field_validator("chat_frame_ancestors")
    @classmethod
    def _none_alone(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or ("'none'" in value and len(value) > 1):
            raise ValueError("list the sites that may embed /chat, or only 'none'")
        return value
