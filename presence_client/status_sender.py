"""The loop that carries out `status_rules`: one deadline, one request at a time."""

from __future__ import annotations

import logging

import trio

from . import status_rules as rules
from ._wakeup import Session, Wakeup
from .api import Outcome, PresenceApi
from .models import PresenceStatus
from .timing import ClientTiming

log = logging.getLogger("presence_client")


class StatusSender:
    """Sends the latest requested status when the rate limit allows; runs for the client's life."""

    def __init__(self, api: PresenceApi, timing: ClientTiming, session: Session) -> None:
        self.api = api
        self.timing = timing
        self.session = session
        self.state = rules.StatusState()
        self._wakeup = Wakeup()
        self._attempted = trio.Event()

    def request(self, status: PresenceStatus) -> None:
        self.state = rules.request(self.state, status)
        self._wakeup.set()

    def heartbeat(self, on: bool) -> None:
        self.state = rules.heartbeat(self.state, trio.current_time(), self.timing, on)
        self._wakeup.set()

    def beat_soon(self) -> None:
        self.state = rules.beat_soon(self.state, trio.current_time(), self.timing)
        self._wakeup.set()

    def network_back(self) -> None:
        if self.state.held:
            self.state = rules.network_back(self.state)
            self._wakeup.set()

    def forget(self) -> None:
        self.state = rules.forget(self.state)
        self._wakeup.set()

    def poke(self) -> None:
        self._wakeup.set()

    async def settled(self) -> None:
        """Wait until the latest request was accepted, or its attempt failed or was refused."""
        while self.state.unsent and not self.state.held and self.session.token is not None:
            await self._attempted.wait()

    async def run(self) -> None:
        while True:
            due = rules.due_at(self.state) if self.session.token is not None else None
            if await self._wakeup.wait_until(due):
                await self._send()

    async def _send(self) -> None:
        status, token = self.state.desired, self.session.token
        if status is None or token is None:
            return  # the session ended or was forgotten while the deadline fired
        answer = await self.api.post_status(token, status)
        now = trio.current_time()
        if answer.outcome is Outcome.ACCEPTED:
            self.state = rules.accepted(self.state, status, now, self.timing)
            self.session.network_back()
        elif answer.outcome is Outcome.RATE_LIMITED:
            self.state = rules.rate_limited(self.state, answer.retry_after, now)
        elif answer.outcome is Outcome.FAILED:
            self.state = rules.failed(self.state, now, self.timing)
        elif answer.outcome is Outcome.UNAUTHORIZED:
            self.session.unauthorized("status update answered 401")
        else:
            log.warning("status %s refused: HTTP %s", status.value, answer.response.status)
            self.state = rules.dropped(self.state, status, now, self.timing)
        self._attempted.set()
        self._attempted = trio.Event()
