"""Open sockets follow the directory (SPEC §4): the thin shell around `directory_diff`.

`DirectoryCache` calls `changed(old, new)` in the step that publishes a new snapshot, so
the pushes and the snapshot every later push and subscription uses change together.
`changed` computes the notices and carries them out: a `presence_removed` or a typing
frame into the viewers' outboxes, a conversation actor told to end a typer's typing, the
expel listeners (the web layer closes a removed user's sockets with 4403) called.

A revealed user's `presence_update` is the board's record when the user is live. A user
who is not live needs their `last_seen` from the store, which is a wait; those reveals
are owed and paid by `run`, one store read for all of them, in a task of its own (the
snapshot may have been loaded by a request that a client can cancel). When it pays, the
board wins over the read (the user may have come online meanwhile, and pushed since) and
a viewer who no longer sees the user is skipped (a later change concealed them).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

import trio

from .actor import CONVERSATION
from .conversation_rules import ClearUser
from .directory import Directory
from .directory_diff import Conceal, EndTyping, Expel, Notice, Reveal, ShowTyping, diff, notices
from .outbox import presence_key, typing_key
from .reads import records_for
from .registry import Registry
from .wire import presence_removed_frame, presence_update_frame, typing_update_frame

log = logging.getLogger("presence_actors.directory")

RETRY_AFTER = 1.0  # seconds before owed reveals are tried again after a failed read


class DirectoryPushes:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._context = registry.context
        self._owed: dict[int, set[int]] = defaultdict(set)  # user -> viewers owed a reveal
        self._wakeup = trio.Event()
        self._expel_listeners: list[Callable[[int], None]] = []

    def on_expel(self, listener: Callable[[int], None]) -> None:
        """Call `listener(user_id)` for each removed user who has an open socket."""
        self._expel_listeners.append(listener)

    def changed(self, old: Directory, new: Directory) -> None:
        """The directory went from `old` to `new` (already published): push what changed."""
        context = self._context
        change = diff(old, new)
        typers = {cid: tuple(context.typing.typers(cid)) for cid in change.conversations}
        effects = notices(change, old, new, context.subscribers.users(), typers)
        reveals: dict[int, set[int]] = defaultdict(set)
        for effect in effects:
            if isinstance(effect, Reveal):
                reveals[effect.user_id].add(effect.viewer)
            else:
                self._perform(effect)
        for user_id, viewers in reveals.items():
            self._reveal(user_id, viewers)

    def _perform(self, effect: Notice) -> None:
        context, registry = self._context, self._registry
        match effect:
            case Conceal(viewer, user_id):
                self._owed.get(user_id, set()).discard(viewer)
                frame = presence_removed_frame(user_id)
                for outbox in context.subscribers.of(viewer):
                    outbox.offer_removal(user_id, frame)
            case ShowTyping(viewer, record):
                key = typing_key(record.user_id, record.conversation_id)
                context.subscribers.fan_out(frozenset({viewer}), key, typing_update_frame(record))
            case EndTyping(conversation_id, user_id):
                if registry.live(CONVERSATION, conversation_id) is not None:
                    registry.tell_reliably(CONVERSATION, conversation_id, ClearUser(user_id))
            case Expel(user_id):
                self._expel(user_id)
            case _:
                raise TypeError(f"not a directory notice: {effect!r}")

    def _reveal(self, user_id: int, viewers: set[int]) -> None:
        record = self._context.board.get(user_id)
        if record is None:
            self._owed[user_id] |= viewers
            self._wakeup.set()
            return
        frame = presence_update_frame(record)
        self._context.subscribers.fan_out(frozenset(viewers), presence_key(user_id), frame)

    def _expel(self, user_id: int) -> None:
        for listener in self._expel_listeners:
            try:
                listener(user_id)
            except Exception:
                log.exception("expel listener failed for user %d", user_id)

    async def run(self) -> None:
        """Pay owed reveals as they come, forever."""
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            owed, self._owed = self._owed, defaultdict(set)
            try:
                await self._pay(owed)
            except Exception as error:
                log.warning("presence of %d newly visible users not read (%s); retrying",
                            len(owed), error)
                for user_id, viewers in owed.items():
                    self._owed[user_id] |= viewers
                await trio.sleep(RETRY_AFTER)
                self._wakeup.set()

    async def _pay(self, owed: dict[int, set[int]]) -> None:
        context = self._context
        records = await records_for(context, sorted(uid for uid, v in owed.items() if v))
        directory = context.directory
        for user_id, record in records.items():
            viewers = frozenset(v for v in owed[user_id] if directory.can_see(v, user_id))
            record = context.board.get(user_id, record)
            frame = presence_update_frame(record)
            context.subscribers.fan_out(viewers, presence_key(user_id), frame)
