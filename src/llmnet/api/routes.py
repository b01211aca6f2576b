"""A service's hottest routes, served straight from ASGI in front of its FastAPI app.

FastAPI's middleware stack, route matching and dependency machinery cost about as much
CPU per request as the coordinator's own work on an instant answer. The few routes every
task passes through (chat completions, respond, rate, settle) are served here: the body is
parsed once by pydantic-core, errors get the same OpenAI-style bodies as everywhere else,
and every other path, the lifespan and the OpenAPI schema stay with FastAPI (which lists
each hot route with its request body and reply).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from llmnet.api.errors import error_response, internal_error_response, parse_json, validation_response
from llmnet.errors import LlmnetError

Handler = Callable[[Request], Awaitable[Response]]
In = TypeVar("In", bound=BaseModel)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HotRoute:
    """A POST route served by ``handler``; ``body`` and ``reply`` describe it in /openapi.json."""

    handler: Handler
    body: type[BaseModel]
    reply: type[BaseModel] | None = None
    name: str = ""  # in the schema; the handler's name if empty


def threaded_json(model: type[In], work: Callable[[In], BaseModel]) -> HotRoute:
    """A hot route whose body is ``model`` and whose blocking ``work`` (a judge, signature checks,
    a durable write) runs in a worker thread; the reply is serialized once by pydantic-core."""

    async def handler(request: Request) -> Response:
        req = parse_json(model, await request.body())
        reply = await asyncio.to_thread(work, req)
        return Response(reply.model_dump_json(), media_type="application/json")

    return HotRoute(handler, model, reply_model(work), work.__name__)


def reply_model(work: Callable[..., Any]) -> type[BaseModel] | None:
    """The pydantic model ``work`` is annotated to return, if it can be resolved."""
    try:
        returns = inspect.signature(work, eval_str=True).return_annotation
    except NameError:  # annotated with a name that is only imported for type checking
        return None
    return returns if isinstance(returns, type) and issubclass(returns, BaseModel) else None


def described(route: HotRoute) -> Callable[..., Awaitable[Response]]:
    """An endpoint FastAPI can list (and serve, the slow way) with ``route``'s request body."""

    async def endpoint(request: Request, body: Any = None) -> Response:
        return await route.handler(request)

    params = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
              inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=route.body)]  # fmt: skip
    endpoint.__signature__ = inspect.Signature(params, return_annotation=Response)  # type: ignore[attr-defined]
    endpoint.__doc__ = inspect.getdoc(route.body)
    endpoint.__name__ = route.name or route.handler.__name__
    return endpoint


class HotRoutes:
    """An ASGI app: POSTs to ``routes`` go to their handler, everything else to ``app``.

    The routes are also registered on ``app`` (so the schema lists them and other methods
    get 405), which serves them the slower way if called directly."""

    def __init__(self, app: FastAPI, routes: dict[str, HotRoute]) -> None:
        self.app, self.routes = app, {path: route.handler for path, route in routes.items()}
        for path, route in routes.items():
            responses: dict[int | str, dict[str, Any]] = {200: {"model": route.reply}} if route.reply else {}
            app.add_api_route(path, described(route), methods=["POST"], response_model=None, responses=responses,
                              response_class=JSONResponse)  # fmt: skip

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
        except ClientDisconnect:
            return  # nobody to answer
        except Exception as exc:
            log.exception("unexpected error serving POST %s", scope["path"])
            response = internal_error_response(exc)
        await response(scope, receive, send)
