"""The dashboard's HTTP application (FastAPI): routes, auth, and what each one answers.

Every route reads the live project (its runtime, in this process) or the broker (on the
manager's broker thread); control routes need the bearer token. Responses are pydantic
models, so that ``/api/openapi.json`` describes exactly what is served. A request whose
``Host`` names none of the dashboard's own names (:meth:`Dashboard.hosts`) is answered 400
before any route sees it: a page on another site that rebinds its name to this address
(DNS rebinding) reads nothing.
"""

from __future__ import annotations

import hmac
import json
import socket
from collections.abc import AsyncIterator
from functools import partial
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import __version__
from .._exceptions import ChildNotFound, ConfigError, TreadleError
from ..broker import OutboxAdapter, Result, WorkerRecord
from ..broker import names as q
from ..client._tasks import managers_of, tasks_of
from ..project import rows
from ._events import parse_event_id
from ._metrics import queue_label
from ._models import (
    ControlReply,
    Detail,
    History,
    Limiter,
    ManagerRef,
    ScaleRequest,
    Status,
    Task,
    TaskDetail,
)

if TYPE_CHECKING:
    from ._dashboard import Dashboard

__all__ = ["create_app"]

Action = Literal["restart", "pause", "resume", "stop", "start"]
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Detail, "description": "a body that is not JSON"},
    401: {"model": Detail, "description": "no token, or the wrong one"},
    404: {"model": Detail, "description": "no such child"},
    409: {"model": Detail, "description": "refused (the reason is in detail)"},
    422: {"model": Detail, "description": "a request that does not validate"},
}


def create_app(dash: Dashboard) -> FastAPI:
    app = FastAPI(
        title="treadle dashboard",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    ab = dash.manager.ab
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=dash.hosts(), www_redirect=False)
    expected = dash.token.encode()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A bad request says, in one line, which field and why (not pydantic's list)."""
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems) or "invalid request"}, 422)

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        given = token.encode("utf-8", "surrogateescape")  # any header, ASCII or not: a 401
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
            raise HTTPException(401, "a bearer token is needed (in .treadle/token)")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        page = resources.files("treadle.web").joinpath("static/index.html")
        return HTMLResponse(page.read_text(encoding="utf-8") if page.is_file() else _NO_PAGE)

    @app.get("/api/status", response_model=Status)
    async def status() -> Status:
        data = dash.runtime.status()
        return Status(
            name=data["name"],
            file=data["file"],
            manager=ManagerRef(tid=dash.manager.tid, pid=dash.pid, host=socket.gethostname()),
            children=rows(data),
            stopped=data["stopped"],
            tree=_json_safe(data["tree"]),
        )

    @app.get("/api/tasks", response_model=list[Task])
    async def tasks() -> list[Task]:
        return [Task(**vars(t)) for t in await ab.call(tasks_of, ab.broker)]

    @app.get(
        "/api/tasks/{tid}",
        response_model=TaskDetail,
        responses={404: {"model": Detail, "description": "no such task"}, 422: _ERRORS[422]},
    )
    async def task(tid: int) -> TaskDetail:
        for info in await ab.call(tasks_of, ab.broker):
            if info.tid == tid:
                result = await ab.call(_result, ab.broker, tid)
                return TaskDetail(**vars(info), result=result)
        raise HTTPException(404, f"no task {tid}")

    @app.get("/api/managers", response_model=list[WorkerRecord])
    async def managers() -> list[WorkerRecord]:
        return await ab.call(partial(managers_of, ab.broker, everything=True))

    @app.get("/api/history", response_model=History)
    async def history() -> History:
        """Each child's restarts and run durations over the last five minutes."""
        return History.model_validate(dash.history.snapshot())

    @app.get("/api/limiters", response_model=list[Limiter])
    async def limiters() -> list[Limiter]:
        return [Limiter(**s) for s in dash.runtime.tree().limits.stats().values()]

    @app.get(
        "/api/events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "events"}},
    )
    async def events(
        request: Request, last_event_id: Annotated[str | None, Header()] = None
    ) -> StreamingResponse:
        after = parse_event_id(last_event_id or request.query_params.get("after"))
        return StreamingResponse(
            _sse(dash, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post(
        "/api/children/{name}/{action}",
        response_model=ControlReply,
        responses=_ERRORS,
        dependencies=[Depends(authorized)],
    )
    async def control(name: str, action: Action) -> ControlReply:
        reply, _ = await _steer(dash, action.upper(), name, {})
        return ControlReply(reply=reply)

    @app.post(
        "/api/scale",
        response_model=ControlReply,
        responses=_ERRORS,
        dependencies=[Depends(authorized)],
    )
    async def scale(request: ScaleRequest) -> ControlReply:
        reply, data = await _steer(dash, "SCALE", request.name, {"replicas": request.replicas})
        return ControlReply(reply=reply, members=(data or {}).get("members"))

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}, "application/openmetrics-text": {}}}},
    )
    async def metrics(request: Request) -> Response:
        """Prometheus' text format, or OpenMetrics when ``Accept`` asks for it."""
        queues: dict[str, int] = {}
        for stats in await ab.call(ab.broker.stats, None):
            label = queue_label(stats.queue, dash.manager.tid)
            if label is not None:
                queues[label] = queues.get(label, 0) + stats.pending
        accept = request.headers.get("accept", "")
        body, content_type = dash.metrics.render(queues, len(dash.manager.runners), accept)
        return Response(body, headers={"Content-Type": content_type})

    return app


async def _steer(
    dash: Dashboard, op: str, name: str, args: dict[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    try:
        return await dash.runtime.control(op, name, args)
    except ChildNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (ConfigError, TreadleError) as exc:  # a scale out of bounds, a pause of a paused
        raise HTTPException(409, str(exc)) from None


async def _sse(dash: Dashboard, after: tuple[int, int] | None) -> AsyncIterator[bytes]:
    yield b"retry: 1000\n\n"
    async for item in dash.events.stream(after):
        if item is None:
            yield b": keepalive\n\n"
            continue
        event_id, kind, data = item
        payload = json.dumps(data, separators=(",", ":"))
        yield f"id: {event_id}\nevent: {kind}\ndata: {payload}\n\n".encode()


def _result(broker: Any, tid: int) -> dict[str, Any] | None:
    last = broker.peek_raw(q.outbox(tid), limit=1, newest=True)
    if not last:
        return None
    message = OutboxAdapter.validate_json(last[0][0])
    return message.model_dump(mode="json") if isinstance(message, Result) else None


def _json_safe(value: Any) -> dict[str, Any]:
    safe: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return safe


_NO_PAGE = "<!doctype html><title>treadle</title><p>The page is not installed: see /api/status."
