"""The coordinator's one seam for calling respondents and validators over HTTP.

``AiohttpClient`` serves production: under concurrency it costs about a seventh of httpx's
client CPU per call (0.45 ms against 3.2 ms, measured on loopback). ``HttpxClient`` wraps an
``httpx.AsyncClient``, so tests drive the coordinator through ``httpx.MockTransport``.

Both raise llmnet errors: ``BackendUnavailable`` when nothing answers, ``BackendTimeout``,
and ``BackendError`` (with ``status``) for a non-2xx answer.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pydantic_core

from llmnet.errors import BackendError, BackendTimeout, BackendUnavailable

_JSON = {"Content-Type": "application/json"}


class HttpStatusError(BackendError):
    def __init__(self, url: str, status: int, body: str) -> None:
        super().__init__(f"{url} answered {status}: {body[:300]}")
        self.status = status


class HttpClient(ABC):
    @abstractmethod
    async def post_json(self, url: str, body: dict[str, Any], timeout: float) -> Any:
        """POST ``body`` as JSON; the parsed JSON of a 2xx answer."""

    @abstractmethod
    def stream_lines(self, url: str, body: dict[str, Any], timeout: float) -> AsyncIterator[str]:
        """POST ``body`` as JSON and yield the answer's lines as they arrive."""

    async def aclose(self) -> None:
        return None


class AiohttpClient(HttpClient):
    def __init__(self, limit: int = 200) -> None:
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:  # created inside the running event loop, on first use
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._limit))
        return self._session

    async def post_json(self, url: str, body: dict[str, Any], timeout: float) -> Any:
        data = pydantic_core.to_json(body)  # about 3x faster than json.dumps
        limit = aiohttp.ClientTimeout(total=timeout)
        try:
            async with self._open().post(url, data=data, headers=_JSON, timeout=limit) as resp:
                text = await resp.text()
                if resp.status >= 300:
                    raise HttpStatusError(url, resp.status, text)
                return json.loads(text)
        except TimeoutError:
            raise BackendTimeout(f"{url} did not answer within {timeout:.0f}s") from None
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(f"{url} cannot be reached: {type(exc).__name__}") from None

    async def stream_lines(self, url: str, body: dict[str, Any], timeout: float) -> AsyncIterator[str]:
        try:
            async with self._open().post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                if resp.status >= 300:
                    raise HttpStatusError(url, resp.status, await resp.text())
                async for raw in resp.content:
                    yield raw.decode().rstrip("\r\n")
        except TimeoutError:
            raise BackendTimeout(f"{url} did not finish within {timeout:.0f}s") from None
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(f"{url} cannot be reached: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)  # let the connector close its sockets


class HttpxClient(HttpClient):
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post_json(self, url: str, body: dict[str, Any], timeout: float) -> Any:
        try:
            resp = await self.client.post(url, json=body, timeout=timeout)
        except httpx.TimeoutException:
            raise BackendTimeout(f"{url} did not answer within {timeout:.0f}s") from None
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"{url} cannot be reached: {type(exc).__name__}") from None
        if resp.status_code >= 300:
            raise HttpStatusError(url, resp.status_code, resp.text)
        return resp.json()

    async def stream_lines(self, url: str, body: dict[str, Any], timeout: float) -> AsyncIterator[str]:
        try:
            async with self.client.stream("POST", url, json=body, timeout=timeout) as resp:
                if resp.status_code >= 300:
                    raise HttpStatusError(url, resp.status_code, (await resp.aread()).decode())
                async for line in resp.aiter_lines():
                    yield line
        except httpx.TimeoutException:
            raise BackendTimeout(f"{url} did not finish within {timeout:.0f}s") from None
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"{url} cannot be reached: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        await self.client.aclose()
