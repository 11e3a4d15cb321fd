"""Two tiny WSGI apps for the credential-origin tests: one that points elsewhere, one that records.

``Pointer`` answers each path from a table (status, headers, JSON body), so a test can make it send a
redirect, a ``Link: rel="next"`` or a ``more_topics_url`` to the other server. ``Recorder`` answers
everything with ``{}`` and keeps each request's method, path and headers: a credential that reached it
is in its log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response


@dataclass
class Recorder:
    """Records every request it receives."""

    log: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data(as_text=True)
        self.log.append(
            {
                "method": request.method,
                "path": request.full_path,
                "headers": dict(request.headers),
                "body": body,
            }
        )
        return Response("{}", content_type="application/json")(environ, start_response)


@dataclass
class Pointer:
    """Answers ``routes[path] = (status, headers, body)``; anything else is a JSON 404."""

    routes: dict[str, tuple[int, dict[str, str], Any]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.log.append(request.path)
        status, headers, body = self.routes.get(request.path, (404, {}, {"message": "Not Found"}))
        response = Response(json.dumps(body), status=status, content_type="application/json")
        response.headers.update(headers)
        return response(environ, start_response)
