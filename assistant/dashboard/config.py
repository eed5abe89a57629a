"""The `[dashboard]` section of the config: where the page listens, and its token (a secret
reference, required unless it listens on loopback only)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


def is_loopback(host: str) -> bool:
    """True for a loopback address (127.0.0.0/8, ::1) or `localhost`; False for a wildcard
    (0.0.0.0, ::), any other address or any other name."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class DashboardSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0: no dashboard
    # "env:NAME", "file:PATH" or "credential:NAME"; required unless `host` is loopback.
    token: str = Field(default="", validate_default=True)

    @field_validator("token")
    @classmethod
    def _required_off_loopback(cls, value: str, info: ValidationInfo) -> str:
        host = info.data.get("host")
        if host is not None and not value and not is_loopback(host):
            raise ValueError(
                f"required when host is not a loopback address ({host}): anyone who can reach"
                ' it could read the account; give one as "env:NAME", "file:PATH" or'
                ' "credential:NAME"'
            )
        return value
