"""A service's hottest routes, served straight from ASGI in front of its FastAPI app.

FastAPI's middleware stack, route matching and dependency machinery cost about as much
CPU per request as the coordinator's own work on an instant answer. The few routes every
task passes through (chat completions, respond, rate, settle) are served here: the body is
parsed once by pydantic-core, errors get the same OpenAI-style bodies as everywhere else,
and every other path, the lifespan and the OpenAPI schema stay with FastAPI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from llmnet.api.errors import error_response, parse_json, validation_response
from llmnet.errors import LlmnetError

Handler = Callable[[Request], Awaitable[Response]]
In = TypeVar("In", bound=BaseModel)


def threaded_json(model: type[In], work: Callable[[In], BaseModel]) -> Handler:
    """A hot route whose body is ``model`` and whose blocking ``work`` (a judge, signature checks,
    a durable write) runs in a worker thread; the reply is serialized once by pydantic-core."""

    async def handler(request: Request) -> Response:
        req = parse_json(model, await request.body())
        reply = await asyncio.to_thread(work, req)
        return Response(reply.model_dump_json(), media_type="application/json")

    return handler


class HotRoutes:
    """An ASGI app: POSTs to ``routes`` go to their handler, everything else to ``app``.

    The handlers are also registered on ``app`` (so the schema lists them and other methods
    get 405), which serves them the slower way if called directly."""

    def __init__(self, app: FastAPI, routes: dict[str, Handler]) -> None:
        self.app, self.routes = app, dict(routes)
        for path, handler in routes.items():
            app.router.add_route(path, handler, methods=["POST"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await handler(Request(scope, receive))
        except LlmnetError as exc:
            response = error_response(exc)
        except RequestValidationError as exc:
            response = validation_response(exc)
        await response(scope, receive, send)
