"""Presence reads: one path through the published views, one shape.

A read never asks an actor. A user's record is the one a live actor published on the
board, else the stored row shown offline (not live here means offline, whatever a stale
row says; its `last_seen` is kept), else offline and never seen. The board and the typing
index are read before the first checkpoint and only the store is awaited after, so a
subscription that registered its outbox just before loses no change. Every read renders
`PresenceView`, the GET shape, which `initial_state` lists too (SPEC §8).
"""

from __future__ import annotations

from collections.abc import Sequence

from .context import ActorContext
from .model import PresenceRecord, PresenceStatus, PresenceView, TypingRecord
from .wire import initial_state_frame


async def records_for(context: ActorContext, user_ids: Sequence[int]) -> dict[int, PresenceRecord]:
    """Each user's record: the board's, else the stored one as offline, else never seen."""
    board = context.board
    records = {uid: board[uid] for uid in user_ids if uid in board}  # O(asked), not O(all)
    missing = [uid for uid in user_ids if uid not in records]
    if missing:
        stored = await context.store.load_presence(missing)
        for uid in missing:
            row = stored.get(uid)
            last_seen = row.last_seen if row is not None else None
            records[uid] = PresenceRecord(uid, PresenceStatus.OFFLINE, last_seen)
    return records


async def views_for(
    context: ActorContext, viewer: int, user_ids: Sequence[int]
) -> list[PresenceView]:
    """What `viewer` sees of these users, in the order given (visibility is the caller's)."""
    conversations = context.directory.conversations_of(viewer)
    typing = context.typing
    flags = [typing.is_typing_in_any(uid, conversations) for uid in user_ids]
    records = await records_for(context, user_ids)
    return [PresenceView(records[uid], flag) for uid, flag in zip(user_ids, flags, strict=True)]


def typers_for(context: ActorContext, user_id: int) -> list[TypingRecord]:
    """Who is typing now in the user's conversations, the user's own typing excluded."""
    index = context.typing
    return [
        TypingRecord(uid, cid, True)
        for cid in sorted(context.directory.conversations_of(user_id))
        for uid in sorted(index.typers(cid))
        if uid != user_id
    ]


async def initial_state(context: ActorContext, user_id: int) -> bytes:
    """The `initial_state` frame: every user the subscriber sees, by id, and the typers."""
    visible = sorted(context.directory.visible(user_id))
    typers = typers_for(context, user_id)
    return initial_state_frame(await views_for(context, user_id, visible), typers)
