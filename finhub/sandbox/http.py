"""Requests and responses as the provider handlers see them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, str]
    now: datetime


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data, status: int = 200, **headers) -> Response:
    return Response(status, json.dumps(data, separators=(",", ":")).encode(), headers=headers)


def text_response(text: str, status: int = 200, content_type: str = "text/plain;charset=utf-8") -> Response:
    return Response(status, text.encode(), content_type)
