"""Background responses for every provider: queued at once, run by the gateway, resumable, cancellable.

OpenAI's background mode (``background: true``, guide "Background mode") returns ``queued`` at
once; the response runs server-side; ``GET /v1/responses/{id}`` polls it and
``GET /v1/responses/{id}?stream=true&starting_after=N`` replays its events from the sequence number
after ``N`` and then follows live; ``POST /v1/responses/{id}/cancel`` ends it ``cancelled``. The gateway
gives that to every provider by running the request as a stream itself, whatever the provider
supports, and keeping each event in the ledger with its ``sequence_number``.

Durability: the job row holds a lease that this process renews; a job whose lease ran out (the
process died, or was killed mid-job) is ended ``failed`` with a clear error by whichever gateway
process sharing the store notices first, so nothing stays ``in_progress`` forever. Cancel and
completion race safely: the ledger ends a job only while it is active, so exactly one wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyresponses.router._wire import to_reply
from polyresponses.server._errors import GatewayError, as_gateway_error
from polyresponses.server._gateway import api_shape, failed_events

if TYPE_CHECKING:
    from polyresponses.router._client import _Plan
    from polyresponses.server._gateway import Created, Gateway, Principal
    from polyresponses.server._ledger import Job

__all__ = ["Jobs"]

LEASE_SECONDS = 10.0
"""How long a job stays claimed without a renewal; renewed every ``LEASE_SECONDS / 5``."""
POLL_AFTER_MS = 500
"""Sent as ``openai-poll-after-ms`` on replies about a running job (openai-agents-python honours it)."""
_TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


@dataclass(slots=True)
class _Running:
    """A job this process runs: the task running it, and a signal to wake its live followers.

    The events themselves are read from the ledger, which has each one before followers are woken.
    """

    id: str
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Wake the followers waiting now; later ones wait on a fresh event."""
        self.changed.set()
        self.changed = asyncio.Event()


class Jobs:
    """The background jobs of one gateway process."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.runner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[str, _Running] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        await self._sweep()
        self._keeper = asyncio.create_task(self._keep())

    async def stop(self) -> None:
        """Stop renewing; jobs still running end ``failed`` (this process is going away)."""
        self._stopping = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        for running in list(self._running.values()):
            if running.task is not None:
                running.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await running.task
        for running in list(self._running.values()):
            await self._end(running.id, "failed", "the gateway stopped while this background response was running")

    async def _keep(self) -> None:
        """Renew this process's leases, see cancels asked on other processes, end jobs whose runner died."""
        ledger = self.gateway.ledger
        while True:
            await asyncio.sleep(LEASE_SECONDS / 5)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(ledger.renew, self.runner, LEASE_SECONDS)
                for ident, running in list(self._running.items()):
                    job = await asyncio.to_thread(ledger.job, ident)
                    ended = job is None or not job.active or job.runner != self.runner  # by another process
                    if (ended or (job is not None and job.cancel_requested)) and running.task is not None:
                        running.task.cancel()
                await self._sweep()

    async def _sweep(self) -> None:
        ledger = self.gateway.ledger
        for job in await asyncio.to_thread(ledger.expired):
            if job.runner != self.runner:
                await self._end(job.id, "failed", "the gateway process running this background response stopped")

    # create

    async def submit(self, created: Created) -> dict[str, Any]:
        """Queue ``created`` and start it; the ``queued`` response, owned by the caller."""
        ident = f"resp_{uuid.uuid4().hex}"
        plan = await self.gateway.plan(created, stream=True, response_id=ident)  # refused now, not queued then failed
        queued = empty_response(ident, created, "queued")
        await asyncio.to_thread(
            self.gateway.ledger.create_job,
            ident,
            created.principal.owner,
            created.provider,
            queued,
            self.runner,
            LEASE_SECONDS,
        )
        running = _Running(ident)
        self._running[ident] = running
        running.task = asyncio.create_task(self._run(running, created, queued, plan))
        return queued

    async def _run(self, running: _Running, created: Created, queued: dict[str, Any], plan: _Plan) -> None:
        ledger = self.gateway.ledger
        sequence = -1
        last = queued
        try:
            stream = await self.gateway.open_stream(created, plan)
            async for data in self.gateway.events(created, stream, owned=True):
                sequence = data.get("sequence_number", sequence + 1)
                response = data.get("response")
                if isinstance(response, dict):
                    response["id"] = running.id
                    response["background"] = True
                    last = response
                terminal = data["type"] in _TERMINAL_EVENTS
                if terminal:
                    written = await asyncio.to_thread(ledger.finish, running.id, last, [(sequence, data)], self.runner)
                else:
                    snapshot = response if isinstance(response, dict) else None
                    written = await asyncio.to_thread(
                        ledger.append_events, running.id, self.runner, [(sequence, data)], snapshot
                    )
                if not written:
                    return  # a cancel won the race, or another process ended the job: it stays as it ended
                running.notify()
                if terminal:
                    return
            await self._end(running.id, "failed", "the upstream stream ended before its terminal event", sequence, last)
        except asyncio.CancelledError:
            if self._stopping:
                message = "the gateway stopped while this background response was running"
                await self._end(running.id, "failed", message, sequence, last)
            else:
                await self._end(running.id, "cancelled", None, sequence, last)
        except Exception as error:  # every failure ends the job in a defined state
            failure = as_gateway_error(error)
            await self._end(running.id, "failed", failure.message, sequence, last, failure)
        finally:
            self._running.pop(running.id, None)
            running.notify()

    async def _end(
        self,
        ident: str,
        status: str,
        message: str | None,
        sequence: int | None = None,
        last: dict[str, Any] | None = None,
        failure: GatewayError | None = None,
    ) -> None:
        """End an active job ``status`` (``failed`` with ``message``, or ``cancelled``); no-op when it had ended."""
        ledger = self.gateway.ledger
        if last is None or sequence is None:
            job = await asyncio.to_thread(ledger.job, ident)
            if job is None or not job.active:
                return
            last = job.response
            sequence = await asyncio.to_thread(ledger.last_seq, ident)
        response = {**last, "status": status}
        events: list[dict[str, Any]] = []
        if status != "cancelled":  # the specs define no event for a cancel: the log just ends there
            failure = failure or GatewayError(500, message or "failed", "server_error", "server_error")
            events = failed_events(failure, sequence, response, None)
            response = events[-1]["response"]  # given a response, failed_events always ends with response.failed
        if await asyncio.to_thread(ledger.finish, ident, response, [(e["sequence_number"], e) for e in events]):
            running = self._running.get(ident)
            if running is not None:
                running.notify()

    # read, follow, cancel

    async def job(self, principal: Principal, ident: str) -> Job | None:
        """The caller's background job ``ident``; ``None`` when it is not a background response."""
        job = await asyncio.to_thread(self.gateway.ledger.job, ident)
        if job is None or job.owner != principal.owner:
            return None
        return job

    async def follow(self, ident: str, after: int) -> AsyncIterator[dict[str, Any]]:
        """Events after sequence number ``after``: the log first, then live until the terminal event."""
        ledger = self.gateway.ledger
        sent = after
        while True:
            running = self._running.get(ident)
            waiter = running.changed if running is not None else None  # taken before reading: no missed wake-up
            for event in await asyncio.to_thread(ledger.events, ident, sent):
                sent = event["sequence_number"]
                yield event
                if event["type"] in _TERMINAL_EVENTS:
                    return
            job = await asyncio.to_thread(ledger.job, ident)
            if job is None or not job.active:
                if not await asyncio.to_thread(ledger.events, ident, sent):
                    return  # ended (cancelled: the log just stops) and nothing left to send
                continue
            if waiter is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), LEASE_SECONDS / 5)
            else:
                await asyncio.sleep(0.25)  # run by another process sharing the store: read its log

    async def cancel(self, job: Job) -> dict[str, Any]:
        """Stop the job wherever it runs; the response as it ended (idempotent on an ended job)."""
        ledger = self.gateway.ledger
        if not job.active:
            return job.response
        await asyncio.to_thread(ledger.request_cancel, job.id)
        running = self._running.get(job.id)
        if running is not None and running.task is not None:
            running.task.cancel()
        deadline = time.monotonic() + 3 * LEASE_SECONDS
        while time.monotonic() < deadline:
            current = await asyncio.to_thread(ledger.job, job.id)
            if current is None:
                break
            if not current.active:
                return current.response
            await asyncio.sleep(0.05)
        await self._end(job.id, "cancelled", None)
        current = await asyncio.to_thread(ledger.job, job.id)
        return current.response if current is not None else job.response


def empty_response(ident: str, created: Created, status: str, *, background: bool = True) -> dict[str, Any]:
    """A response with the request's settings and no output (every field the specs require, as the router
    synthesizes them): a queued background response, or the answer to a WebSocket ``generate: false``."""
    from polyresponses.router.dialects._synth import synthesized_response

    params = created.params
    response = synthesized_response(
        created.provider,
        {**params, "model": created.model},
        response_id=ident,
        created_at=int(time.time()),
        model=created.model,
        status=status,
        output=[],
        usage=None,
    )
    response.background = background
    response.previous_response_id = params.get("previous_response_id")
    data = api_shape(to_reply(response))
    data["store"] = params.get("store") is not False  # an extra of the spec's Response, set by OpenAI too
    return data
