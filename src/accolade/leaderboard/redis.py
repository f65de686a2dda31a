"""Leaderboards in Redis sorted sets, for many nodes and large boards (O(log n) places).

A copy, never the truth: rows commit to the database first and reach Redis after the commit
(`apply`); a board whose copy is missing (Redis restarted, FLUSHDB, a write lost while Redis was
down) is rebuilt from the database on its next read or write. Reads fall back to the database
while Redis is unreachable.

Ties: a sorted set orders equal scores by member, bytewise; `ZREVRANGE` lists them from the
highest member. Each member is `(MAX - reached_at in µs)` then `(MAX - user id)`, zero-padded,
so on equal values the earlier `reached_at`, then the lower user id, comes first: the order of
the SQL store. A hash maps each user to its current member.

Keys are scoped by the installation's cluster id (`accolade:{cluster id}:lb:...`, kept in the
database like the bus channel's scope), so two installations sharing a Redis keep their own
boards. A period's keys (not all time's) expire `PERIOD_KEYS_KEPT_S` after the period ends, or
after their last use when that is later: an archived board read again is rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import select

from accolade.domain.boards import Board, EntryChange, Standing, window
from accolade.domain.periods import period_end
from accolade.leaderboard.sql import SqlLeaderboard
from accolade.storage import leaderboards as rows
from accolade.storage.database import Database
from accolade.storage.models import InstanceSetting, TeamMember, utcnow
from accolade.storage.upsert import insert_for

log = logging.getLogger("accolade.leaderboard")

KEY_PREFIX = "accolade:lb"  # with an explicit scope-less prefix (tests, benchmarks)
# The installation's id (`services.instance.cluster_id` makes it at start-up; the same row).
CLUSTER_ID_KEY = "cluster_id"
PERIOD_KEYS_KEPT_S = 86_400
_US_DIGITS = 17
_ID_DIGITS = 12
_MAX_US: int = 10**_US_DIGITS - 1
_MAX_ID: int = 10**_ID_DIGITS - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REBUILD_CHUNK = 10_000
REDIS_TIMEOUT_S = 2.0
BUILDING_KEYS_KEPT_S = 3600

# KEYS: board set, user->member hash, "copy complete" marker. ARGV: user id, member, score.
# Returns -1 when the copy is missing (the caller rebuilds), 0 for a stale write (a newer one
# for this user already arrived: writes after commit may land out of order, or the user was
# deleted: its hash entry is then '', see `_FORGET`), 1 when applied.
_APPLY = f"""
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old == '' then return 0 end
if old then
  if string.sub(old, 1, {_US_DIGITS}) < string.sub(ARGV[2], 1, {_US_DIGITS}) then return 0 end
  redis.call('ZREM', KEYS[1], old)
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""


# A deleted user leaves the copy: its member goes, and its hash entry becomes '' (internal ids
# are never reused), so a write of the user committed before the deletion and applied after it
# cannot bring it back. The generation moves on too: a rebuild under way read the rows with the
# user still in them, and must not put its copy in place. KEYS: board set, hash, generation.
# ARGV: user id.
_FORGET = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old and old ~= '' then redis.call('ZREM', KEYS[1], old) end
redis.call('HSET', KEYS[2], ARGV[1], '')
redis.call('INCR', KEYS[3])
return 1
"""


# The end of a rebuild. KEYS: board set, hash, marker, generation, built set, built hash. ARGV:
# the generation this rebuild took, '1' when it built anything. A rebuild another one began
# after (the generation moved on) read rows that may lack a write made since, and is dropped.
_COMMIT_REBUILD = """
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  redis.call('DEL', KEYS[5], KEYS[6])
  return 0
end
if ARGV[2] == '1' then
  redis.call('RENAME', KEYS[5], KEYS[1])
  redis.call('RENAME', KEYS[6], KEYS[2])
  redis.call('PERSIST', KEYS[1])  -- the building keys' TTL; a period's own is set next
  redis.call('PERSIST', KEYS[2])
else
  redis.call('DEL', KEYS[1], KEYS[2])
end
redis.call('SET', KEYS[3], '1')
return 1
"""


# Reads in one round trip. KEYS as above; ARGV: mode (top, standing, around), user id, count.
# Returns {-1} when the copy is missing, else {0, flat [member, score, ...], first index}.
_READ = """
if redis.call('EXISTS', KEYS[3]) == 0 then return {-1} end
local n = tonumber(ARGV[3])
if ARGV[1] == 'top' then
  return {0, redis.call('ZREVRANGE', KEYS[1], 0, n - 1, 'WITHSCORES'), 0}
end
local m = redis.call('HGET', KEYS[2], ARGV[2])
if not m then return {0, {}, 0} end
local r = redis.call('ZREVRANK', KEYS[1], m)
if not r then return {0, {}, 0} end
if ARGV[1] == 'standing' then
  return {0, {m, redis.call('ZSCORE', KEYS[1], m)}, r}
end
local below = redis.call('ZCARD', KEYS[1]) - 1 - r
local room = math.max(n - 1, 0)
local up = math.min(r, math.floor(room / 2))
local down = math.min(below, room - up)
up = math.min(r, room - down)
return {0, redis.call('ZREVRANGE', KEYS[1], r - up, r + down, 'WITHSCORES'), r - up}
"""


# An event's place change, from the copy, without changing it (a script runs atomically): the
# user's member is set aside, each position of the user tried in turn among the others, and
# the member put back. KEYS as above; ARGV: user id, new member, new score, old member ('' for
# none), old score. Returns {-1} when the copy is missing, else {0, old index or -1, new index}.
_PLACES = """
if redis.call('EXISTS', KEYS[3]) == 0 then return {-1} end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local score = false
if cur then
  score = redis.call('ZSCORE', KEYS[1], cur)
  redis.call('ZREM', KEYS[1], cur)
end
local old = -1
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[4])
  old = redis.call('ZREVRANK', KEYS[1], ARGV[4])
  redis.call('ZREM', KEYS[1], ARGV[4])
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
local new = redis.call('ZREVRANK', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
if cur and score then redis.call('ZADD', KEYS[1], score, cur) end
return {0, old, new}
"""


def _standings(flat: list[Any], first: int) -> list[Standing]:
    return [
        Standing(first + 1 + i, user_of(flat[2 * i]), float(flat[2 * i + 1]))
        for i in range(len(flat) // 2)
    ]


def member(user_id: int, reached_at: datetime) -> str:
    reached_us: int = (reached_at - _EPOCH) // _ONE_US
    return f"{_MAX_US - reached_us:0{_US_DIGITS}d}{_MAX_ID - user_id:0{_ID_DIGITS}d}"


def user_of(member_name: Any) -> int:
    text: str = member_name.decode() if isinstance(member_name, bytes) else str(member_name)
    return _MAX_ID - int(text[_US_DIGITS:])


_ONE_US = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


class RedisLeaderboard:
    keeps_copy = True

    def __init__(self, url: str, database: Database, *, key_prefix: str | None = None) -> None:
        """`key_prefix`: the keys' prefix; by default `accolade:{cluster id}:lb`, the cluster
        id read from the database on first use."""
        # Bounded waits: an unreachable Redis must not hold an event's transaction for long.
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        self.database = database
        self.key_prefix = key_prefix or ""
        self._scoped = key_prefix is not None
        self.fallback = SqlLeaderboard(database)
        self._apply_script = self.client.register_script(_APPLY)
        self._read_script = self.client.register_script(_READ)
        self._places_script = self.client.register_script(_PLACES)
        self._forget_script = self.client.register_script(_FORGET)
        self._commit_rebuild_script = self.client.register_script(_COMMIT_REBUILD)
        # Boards whose copy missed a write while Redis was unreachable: rebuilt on next use.
        self._stale: set[Board] = set()
        self._rebuild_locks: dict[Board, asyncio.Lock] = {}
        self._rebuilt_at: dict[Board, float] = {}

    # --- keys ------------------------------------------------------------------------------------

    async def _scope(self) -> None:
        """Learn the installation's key prefix (once): every call that touches keys waits."""
        if self._scoped:
            return
        async with self.database.transaction() as session:
            found = await session.scalar(
                select(InstanceSetting.value).where(InstanceSetting.key == CLUSTER_ID_KEY)
            )
            if found is None:  # used outside the app (the app makes it at start-up)
                await session.execute(
                    insert_for(session, InstanceSetting)
                    .values(key=CLUSTER_ID_KEY, value=uuid.uuid4().hex[:16], created_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["key"])
                )
                found = await session.scalar(
                    select(InstanceSetting.value).where(InstanceSetting.key == CLUSTER_ID_KEY)
                )
        assert found is not None
        self.key_prefix = f"accolade:{found}:lb"
        self._scoped = True

    @staticmethod
    def _expires_at(board: Board) -> int | None:
        """When a period board's keys may go (epoch s): kept while the period runs and a while
        after, counted from now too (an archived board just rebuilt stays a while)."""
        end = period_end(board.period, board.period_key)
        if end is None:
            return None
        return int(max(end, utcnow()).timestamp()) + PERIOD_KEYS_KEPT_S

    def _expire(self, pipe: Any, board: Board) -> None:
        at = self._expires_at(board)
        if at is None:
            return
        zkey, hkey, okkey = self._keys(board)
        pipe.expireat(okkey, at - 60)  # the marker first: a read never finds a half-gone copy
        pipe.expireat(zkey, at)
        pipe.expireat(hkey, at)
        pipe.expireat(self._generation_key(board), at)

    def _tail(self, board: Board) -> str:
        # Metric last: period and key hold no colon, so no two boards share a key.
        return f"{board.period}:{board.period_key}:{board.metric}"

    def _keys(self, board: Board) -> tuple[str, str, str]:
        tail, p = self._tail(board), self.key_prefix
        return f"{p}:z:{tail}", f"{p}:h:{tail}", f"{p}:ok:{tail}"

    def _generation_key(self, board: Board) -> str:
        return f"{self.key_prefix}:gen:{self._tail(board)}"

    # --- writes ----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[EntryChange]) -> None:
        if not changes:
            return
        try:
            await self._scope()
            async with self.client.pipeline(transaction=False) as pipe:
                for change in changes:
                    await self._apply_script(
                        keys=list(self._keys(change.board)),
                        args=[
                            change.user_id,
                            member(change.user_id, change.reached_at),
                            repr(change.value),
                        ],
                        client=pipe,
                    )
                for board in dict.fromkeys(c.board for c in changes):
                    self._expire(pipe, board)
                results = (await pipe.execute())[: len(changes)]
            missing = {c.board for c, r in zip(changes, results, strict=True) if r == -1}
            missing |= self._stale & {c.board for c in changes}
            for board in missing:
                await self.rebuild(board)
        except RedisError as exc:
            # The rows are committed; the copy is rebuilt on this board's next use.
            log.warning("leaderboard copy in Redis not updated (%s); it will be rebuilt", exc)
            self._stale.update(c.board for c in changes)
            # Other nodes learn it from the missing marker (if Redis still takes a command).
            with contextlib.suppress(RedisError):
                await self.client.delete(*{self._keys(c.board)[2] for c in changes})

    async def rebuild(self, board: Board | None = None) -> int:
        await self._scope()
        if board is None:
            async with self.database.transaction() as session:
                every = await rows.boards(session)
            return sum([await self.rebuild(b) for b in every])
        asked_at = time.monotonic()
        lock = self._rebuild_locks.setdefault(board, asyncio.Lock())
        async with lock:
            if self._rebuilt_at.get(board, -1.0) > asked_at:
                return -1  # a rebuild that began after this request has just finished
            self._rebuilt_at[board] = time.monotonic()
            return await self._rebuild(board)

    async def _rebuild(self, board: Board) -> int:
        zkey, hkey, okkey = self._keys(board)
        # Why a generation: two nodes may rebuild one board at once, and the one that read the
        # rows first may finish last, over a copy that holds a write made in between. Each
        # rebuild takes the next generation (and drops the marker) before it reads the rows;
        # only the rebuild holding the newest generation may put its copy in place. A write
        # that lands while the marker is gone asks for a rebuild of its own, which takes a
        # newer generation and reads rows after the write's commit: none is lost in between.
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(self._generation_key(board))
            pipe.delete(okkey)
            generation = int((await pipe.execute())[0])
        entries = await self._board_rows(board)
        building = uuid.uuid4().hex  # another node's rebuild writes keys of its own
        ztmp, htmp = f"{zkey}:building:{building}", f"{hkey}:building:{building}"
        for start in range(0, len(entries), REBUILD_CHUNK):
            chunk = entries[start : start + REBUILD_CHUNK]
            names = {uid: member(uid, at) for uid, _, at in chunk}
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zadd(ztmp, {names[uid]: value for uid, value, _ in chunk})
                pipe.hset(htmp, mapping={str(uid): name for uid, name in names.items()})
                pipe.expire(ztmp, BUILDING_KEYS_KEPT_S)  # a node killed mid-rebuild leaves none
                pipe.expire(htmp, BUILDING_KEYS_KEPT_S)
                await pipe.execute()
        async with self.client.pipeline(transaction=True) as pipe:
            await self._commit_rebuild_script(
                keys=[zkey, hkey, okkey, self._generation_key(board), ztmp, htmp],
                args=[generation, "1" if entries else "0"],
                client=pipe,
            )
            self._expire(pipe, board)
            await pipe.execute()
        # Superseded or not, a rebuild that began after this one's reads the rows later.
        self._stale.discard(board)
        return len(entries)

    async def _board_rows(self, board: Board) -> list[tuple[int, float, datetime]]:
        async with self.database.transaction() as session:
            return await rows.board_rows(session, board)

    async def forget(self, user_id: int, boards: Sequence[Board]) -> None:
        """A deleted user (internal id) leaves these boards' copies now."""
        if not boards:
            return
        try:
            await self._scope()
            async with self.client.pipeline(transaction=False) as pipe:
                for board in boards:
                    zkey, hkey, _ = self._keys(board)
                    await self._forget_script(
                        keys=[zkey, hkey, self._generation_key(board)], args=[user_id], client=pipe
                    )
                    self._expire(pipe, board)
                await pipe.execute()
        except RedisError as exc:
            log.warning("deleted user left in the Redis copy (%s); it will be rebuilt", exc)
            self._stale.update(boards)
            with contextlib.suppress(RedisError):
                await self.client.delete(*{self._keys(board)[2] for board in boards})

    # --- reads -----------------------------------------------------------------------------------

    async def _settled(self, board: Board) -> None:
        await self._scope()
        if board in self._stale or not await self.client.exists(self._keys(board)[2]):
            await self.rebuild(board)

    async def _read(self, board: Board, mode: str, user_id: int, count: int) -> tuple[Any, int]:
        """One round trip: (flat [member, score, ...] list, rank index of its first member);
        the board is rebuilt first when its copy is missing or stale."""
        await self._scope()
        if board in self._stale:
            await self.rebuild(board)
        for _ in range(2):
            found = await self._read_script(
                keys=list(self._keys(board)), args=[mode, user_id, count]
            )
            if found[0] != -1:
                return found[1], int(found[2])
            await self.rebuild(board)
        raise RedisError("the leaderboard copy vanished twice while being read")

    async def top(self, board: Board, limit: int, *, team: int | None = None) -> list[Standing]:
        try:
            if team is not None:
                await self._settled(board)
                return (await self._team_board(board, team))[:limit]
            flat, first = await self._read(board, "top", 0, limit)
        except RedisError as exc:
            log.warning("leaderboard read from the database: Redis failed (%s)", exc)
            return await self.fallback.top(board, limit, team=team)
        return _standings(flat, first)

    async def standing(
        self, board: Board, user_id: int, *, team: int | None = None
    ) -> Standing | None:
        try:
            if team is not None:
                await self._settled(board)
                return next(
                    (s for s in await self._team_board(board, team) if s.user_id == user_id),
                    None,
                )
            flat, first = await self._read(board, "standing", user_id, 0)
        except RedisError as exc:
            log.warning("leaderboard read from the database: Redis failed (%s)", exc)
            return await self.fallback.standing(board, user_id, team=team)
        found = _standings(flat, first)
        return found[0] if found else None

    async def around(
        self, board: Board, user_id: int, limit: int, *, team: int | None = None
    ) -> list[Standing]:
        try:
            if team is not None:
                await self._settled(board)
                ranked = await self._team_board(board, team)
                mine = next((s.rank for s in ranked if s.user_id == user_id), None)
                if mine is None:
                    return []
                up, down = window(mine - 1, len(ranked) - mine, limit)
                return ranked[mine - 1 - up : mine + down]
            flat, first = await self._read(board, "around", user_id, limit)
        except RedisError as exc:
            log.warning("leaderboard read from the database: Redis failed (%s)", exc)
            return await self.fallback.around(board, user_id, limit, team=team)
        return _standings(flat, first)

    async def places(
        self,
        board: Board,
        user_id: int,
        old: tuple[float, datetime] | None,
        new: tuple[float, datetime],
    ) -> tuple[int | None, int] | None:
        # Asked inside an event's transaction: no other may be opened to learn the scope (on
        # SQLite it would wait for this one); the first write after a commit learns it.
        if board in self._stale or not self._scoped:
            return None
        try:
            found = await self._places_script(
                keys=list(self._keys(board)),
                args=[
                    user_id,
                    member(user_id, new[1]),
                    repr(new[0]),
                    member(user_id, old[1]) if old else "",
                    repr(old[0]) if old else "0",
                ],
            )
        except RedisError as exc:
            log.warning("place change counted in the database: Redis failed (%s)", exc)
            return None
        if found[0] == -1:
            return None
        previous = int(found[1])
        return (previous + 1 if previous >= 0 else None), int(found[2]) + 1

    async def _team_board(self, board: Board, team: int) -> list[Standing]:
        """A team's members in board order: teams are small, their members' places are sorted
        here (by the same score and member order as `ZREVRANGE`)."""
        async with self.database.transaction() as session:
            ids = list(
                (
                    await session.scalars(
                        select(TeamMember.user_id).where(TeamMember.team_id == team)
                    )
                ).all()
            )
        if not ids:
            return []
        zkey, hkey, _ = self._keys(board)
        names: list[Any] = [
            n for n in await self.client.hmget(hkey, [str(i) for i in ids]) if n is not None
        ]
        if not names:
            return []
        scores = await self.client.zmscore(zkey, names)
        placed = sorted(
            ((float(s), n) for n, s in zip(names, scores, strict=True) if s is not None),
            reverse=True,
        )
        return [
            Standing(rank, user_of(name), score)
            for rank, (score, name) in enumerate(placed, start=1)
        ]

    async def close(self) -> None:
        await self.client.aclose()
