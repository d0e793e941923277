"""The loop that carries out `typing_rules`: the typing helper of the seed's client."""

from __future__ import annotations

import logging
from types import MappingProxyType

import trio

from . import typing_rules as rules
from ._wakeup import Session, Wakeup
from .api import Outcome, PresenceApi
from .timing import ClientTiming

log = logging.getLogger("presence_client")


class TypingReporter:
    """`keystroke(conversation_id)` on every key; the requests follow the debounce rules.

    Typing is five-second state on the server, so a request that fails is not retried:
    the next keystroke (or the server's expiry) settles it.
    """

    def __init__(self, api: PresenceApi, timing: ClientTiming, session: Session) -> None:
        self.api = api
        self.timing = timing
        self.session = session
        self.state: rules.Conversations = MappingProxyType({})
        self._wakeup = Wakeup()

    def keystroke(self, conversation_id: int) -> None:
        if self.session.token is None:
            return
        now = trio.current_time()
        self.state = rules.keystroke(self.state, conversation_id, now, self.timing)
        self._wakeup.set()

    def stop(self, conversation_id: int) -> None:
        self.state = rules.stop(self.state, conversation_id)
        self._wakeup.set()

    def forget(self) -> None:
        """Logout or an expired session: nothing more is sent (the server expires the rest)."""
        self.state = MappingProxyType({})
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            due = rules.next_request(self.state, self.timing)
            if await self._wakeup.wait_until(None if due is None else due[0]):
                # Recomputed: a keystroke during the wait may have changed what is due.
                due = rules.next_request(self.state, self.timing)
                if due is not None and due[0] <= trio.current_time():
                    await self._send(due[1])

    async def _send(self, request: rules.SendTyping) -> None:
        token = self.session.token
        if token is None:
            self.forget()
            return
        started = trio.current_time()
        answer = await self.api.post_typing(token, request.conversation_id, request.is_typing)
        self.state = rules.sent(self.state, request, started)
        if answer.outcome is Outcome.ACCEPTED:
            self.session.network_back()
        elif answer.outcome is Outcome.UNAUTHORIZED:
            self.session.unauthorized("typing request answered 401")
        elif answer.outcome is Outcome.REFUSED:
            log.warning("typing in %d refused: HTTP %s", request.conversation_id,
                        answer.response.status)
            self.state = rules.drop(self.state, request.conversation_id)
