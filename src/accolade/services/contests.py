"""Contests: create, go LIVE and ENDED (by hand or on time), entries, standings and one payout.

How entrants' moves score is `services.contest_scoring` (the engine's listener). Everything the
screens see is written as room events in the command's own transaction, on room `contest:{id}`:
`contest:entry`; `contest:status` and `contest:status-changed` (the same change, in the words of
`/leaderboard` and of seed 003's `/`); `contest:ended` with the final standings. `contest:status`
and `contest:ended` also go to `tv-display` (on `/leaderboard`), so a TV needs no poll to see a
contest start or end; `contest:update` is throttled (`contest_scoring.UpdateThrottle`). Changes
of status and schedule edits bump the version row the scoring caches follow, and wake this node's
scheduler (`services.contest_scheduler`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import notices, rooms
from accolade.domain.contests import PODIUM, ContestStatus, podium, transition_refusal
from accolade.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from accolade.domain.identity import Principal, Role, UserId
from accolade.domain.wire import iso
from accolade.pipeline.broadcaster import Broadcaster
from accolade.services.contest_scoring import (
    CountingContests,
    UpdateThrottle,
    add_update,
    board,
    bump_version,
    display_name,
)
from accolade.storage import audit, commit
from accolade.storage import contests as repo
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import Contest, ContestInvitation, User, utcnow
from accolade.storage.outbox import add_room_event

MAX_LIMIT = 1000
MAX_ROOM_ID_CHARS = 255
# Rounds of a scheduler pass (a contest due to start and to end takes two).
MAX_PASSES = 10


# --- views -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContestView:
    id: int
    name: str
    description: str
    metric: str
    status: str
    start_at: datetime | None
    end_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    prizes: list[str]
    entrants: int
    paid_out_at: datetime | None
    payout: list[dict[str, Any]] | None
    created_at: datetime
    updated_at: datetime
    visibility: str

    @classmethod
    def of(cls, contest: Contest, entrants: int) -> ContestView:
        return cls(
            id=contest.id,
            name=contest.name,
            description=contest.description,
            metric=contest.metric,
            status=contest.status,
            start_at=contest.start_at,
            end_at=contest.end_at,
            started_at=contest.started_at,
            ended_at=contest.ended_at,
            prizes=list(contest.prizes or []),
            entrants=entrants,
            paid_out_at=contest.paid_out_at,
            payout=contest.payout,
            created_at=contest.created_at,
            updated_at=contest.updated_at,
            visibility=contest.visibility,
        )


@dataclass(frozen=True, slots=True)
class ContestChanges:
    """A PATCH: only the fields given (`given`) change."""

    given: frozenset[str]
    name: str | None = None
    description: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    prizes: list[str] | None = None
    status: ContestStatus | None = None


@dataclass(frozen=True, slots=True)
class EntryView:
    contest_id: int
    user_id: UserId
    user_name: str
    value: float
    entered_at: datetime
    created: bool  # False: it had entered already (the answer is the same entry)


# --- room events ---------------------------------------------------------------------------------


async def announce_status(
    session: AsyncSession, contest: Contest, previous: ContestStatus, now: datetime
) -> None:
    """The status change, in each namespace's words; `contest:ended` with the final standings."""
    room = rooms.contest(contest.id)
    fields: dict[str, Any] = {
        "contest_id": contest.id,
        "name": contest.name,
        "metric": contest.metric,
        "status": contest.status,
        "previous_status": previous,
        "started_at": contest.started_at,
        "ended_at": contest.ended_at,
        "timestamp": now,
    }
    status = notices.CONTEST_STATUS(**fields)
    add_room_event(session, room, notices.CONTEST_STATUS, status)
    # The TV follows the live contest from `tv-display` alone (no poll needed to see it start);
    # a private contest is told only to its own room, which needs an invitation.
    public = contest.visibility != repo.PRIVATE
    if public:
        add_room_event(session, rooms.TV_DISPLAY, notices.CONTEST_STATUS, status)
    # Seed 003's onContestStatusChanged(io, contestId, 'DRAFT', 'LIVE').
    add_room_event(
        session,
        room,
        notices.CONTEST_STATUS_CHANGED,
        notices.CONTEST_STATUS_CHANGED(**fields, old_status=previous, new_status=contest.status),
    )
    if contest.status == ContestStatus.ENDED.value:
        ended = notices.CONTEST_ENDED(
            contest_id=contest.id,
            name=contest.name,
            metric=contest.metric,
            ended_at=contest.ended_at,
            leaderboard=await board(session, contest.id),
            timestamp=now,
        )
        add_room_event(session, room, notices.CONTEST_ENDED, ended)
        if public:
            add_room_event(session, rooms.TV_DISPLAY, notices.CONTEST_ENDED, ended)
    await bump_version(session)


def announce_problem_solved(
    session: AsyncSession, user: User, data: dict[str, Any], xp: int, at: datetime
) -> None:
    """Seed 003: a solved problem (`data.problemId`) goes to that problem's subscribers. The
    contest's room hears of it as `leaderboard:update` when the solver's standing moves (an
    entrant of a contest on `problem.solved` or `xp`); `data.contestId` is passed along."""
    problem_id = data.get("problemId")
    if isinstance(problem_id, bool) or not isinstance(problem_id, int | str):
        return
    if not 1 <= len(str(problem_id)) <= MAX_ROOM_ID_CHARS:  # what `problem:subscribe` accepts
        return
    add_room_event(
        session,
        rooms.problem(problem_id),
        notices.PROBLEM_SOLVED,
        notices.PROBLEM_SOLVED(
            user_id=user.external_id,
            user_name=display_name(user),
            problem_id=problem_id,
            contest_id=data.get("contestId"),
            xp=xp,
            timestamp=at,
        ),
    )


# --- the service -------------------------------------------------------------------------------


def _target(contest_id: int) -> str:
    return f"contest:{contest_id}"


def _differ(before: ContestView, after: ContestView) -> bool:
    """Whether a PATCH changed anything but the time it was made."""
    return dataclasses.replace(before, updated_at=after.updated_at) != after


class ContestService:
    def __init__(self, database: Database, broadcaster: Broadcaster) -> None:
        self.database = database
        self.broadcaster = broadcaster
        self.counting = CountingContests()
        # Standings updates, at most one a second per contest (the engine's listener holds it).
        self.updates = UpdateThrottle(self._send_updates)
        # Called after each commit that changed a schedule or a status (the scheduler's wake-up).
        self.on_change: Callable[[], None] | None = None

    async def _send_updates(self, due: dict[int, dict[str, Any]]) -> None:
        """The trailing standings updates the throttle owes, with the standings as they are."""
        now = utcnow()
        async with self.database.transaction() as session:
            for contest_id, update in sorted(due.items()):
                contest = await session.get(Contest, contest_id)
                if contest is None or contest.status == ContestStatus.ENDED.value:
                    continue  # `contest:ended` carried the final standings
                leaderboard = await board(session, contest_id)
                add_update(
                    session,
                    contest_id,
                    {**update, "leaderboard": leaderboard, "timestamp": iso(now)},
                )

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    async def _view(self, session: AsyncSession, contest: Contest) -> ContestView:
        counts = await repo.entrant_counts(session, [contest.id])
        return ContestView.of(contest, counts.get(contest.id, 0))

    async def _get(
        self, session: AsyncSession, contest_id: int, *, for_update: bool = False
    ) -> Contest:
        contest = await repo.get(session, contest_id, for_update=for_update)
        if contest is None:
            raise NotFound(f"no contest {contest_id}")
        return contest

    async def create(
        self,
        *,
        name: str,
        metric: str,
        description: str = "",
        start_at: datetime | None = None,
        end_at: datetime | None = None,
        prizes: Sequence[str] = (),
        visibility: str = "public",
    ) -> ContestView:
        """A new DRAFT contest (it goes LIVE at `start_at` by itself when given); a `private`
        one is entered by invitation (`invite`)."""
        _check_times(start_at, end_at)
        async with self.database.transaction() as session:
            commit.after_commit(session, self._changed)  # the scheduler's wake-up
            now = utcnow()
            contest = Contest(
                name=name,
                description=description,
                metric=metric,
                status=ContestStatus.DRAFT.value,
                start_at=start_at,
                end_at=end_at,
                prizes=list(prizes),
                visibility=visibility,
                created_at=now,
                updated_at=now,
            )
            session.add(contest)
            await session.flush()
            if start_at is not None:
                await bump_version(session)  # it counts from start_at on
            view = ContestView.of(contest, 0)
            await audit.record(session, "contest.create", _target(contest.id), after=view)
        return view

    async def listing(
        self, status: ContestStatus | None, limit: int, viewer: Principal | None = None
    ) -> list[ContestView]:
        """Newest first: every contest for admin and service tokens; the public ones and those
        it was invited to or entered for a user; the public ones for anyone else."""
        async with self.database.transaction() as session:
            seen_by = await _viewer(session, viewer)
            contests = await repo.listing(session, status, min(limit, MAX_LIMIT), seen_by)
            counts = await repo.entrant_counts(session, [c.id for c in contests])
            return [ContestView.of(c, counts.get(c.id, 0)) for c in contests]

    async def get(self, contest_id: int, viewer: Principal | None = None) -> ContestView:
        """The contest; a private one is not found for those it does not admit."""
        async with self.database.transaction() as session:
            contest = await self._visible(session, contest_id, viewer)
            return await self._view(session, contest)

    async def _visible(
        self, session: AsyncSession, contest_id: int, viewer: Principal | None
    ) -> Contest:
        """The contest, unless it is private and `viewer` is not admitted (then NotFound)."""
        contest = await self._get(session, contest_id)
        seen_by = await _viewer(session, viewer)
        if seen_by != repo.EVERYONE and not await repo.may_take_part(
            session, contest, seen_by if isinstance(seen_by, int) else None
        ):
            raise NotFound(f"no contest {contest_id}")
        return contest

    async def invite(self, contest_id: int, user_ids: Sequence[UserId]) -> list[UserId]:
        """Invite users (made on first sight) to a contest; answers their ids as first given.
        Inviting again changes nothing; a public contest needs no invitation (409)."""
        async with self.database.transaction() as session:
            contest = await self._get(session, contest_id)
            if contest.visibility != repo.PRIVATE:
                raise Conflict(
                    "the contest is public: anyone may enter it without an invitation",
                    details={"visibility": contest.visibility},
                )
            users = [(await users_repo.ensure(session, uid))[0] for uid in user_ids]
            ids = sorted({u.id for u in users})
            held = set(
                await session.scalars(
                    select(ContestInvitation.user_id).where(
                        ContestInvitation.contest_id == contest.id,
                        ContestInvitation.user_id.in_(ids),
                    )
                )
            )
            await repo.invite(session, contest.id, ids, utcnow())
            new = [u.external_id for u in {u.id: u for u in users if u.id not in held}.values()]
            if new:  # inviting again changes nothing
                await audit.record(session, "contest.invite", _target(contest.id), userIds=new)
            return [u.external_id for u in users]

    async def may_join_room(self, principal: Principal | None, contest_id: int | str) -> bool:
        """Room `contest:{id}`: a private contest's is for its invitees and entrants (and admin
        and service tokens); any other is public."""
        if not isinstance(contest_id, int) or not 1 <= contest_id <= 2**31 - 1:
            return True  # no contest has this id: nothing private to protect
        async with self.database.transaction() as session:
            contest = await repo.get(session, contest_id)
            if contest is None or contest.visibility != repo.PRIVATE:
                return True
            seen_by = await _viewer(session, principal)
            if seen_by == repo.EVERYONE:
                return True
            return await repo.may_take_part(
                session, contest, seen_by if isinstance(seen_by, int) else None
            )

    async def update(self, contest_id: int, changes: ContestChanges) -> ContestView:
        """Edit a DRAFT contest's fields, and/or move its status one step forward (409 else;
        asking for the status it has already changes nothing, so a retried PATCH is harmless)."""
        edits = changes.given - {"status"}
        async with self.database.transaction() as session:
            commit.after_commit(session, self._changed)  # the scheduler's wake-up
            contest = await self._get(session, contest_id, for_update=True)
            before = await self._view(session, contest)
            status = ContestStatus(contest.status)
            now = utcnow()
            if edits and status is not ContestStatus.DRAFT:
                raise Conflict(
                    f"the contest is {status.value}: only a DRAFT contest's fields can change",
                    details={"status": status.value, "fields": sorted(edits)},
                )
            for name in sorted(edits):
                setattr(contest, name, getattr(changes, name))
            _check_times(contest.start_at, contest.end_at)
            if changes.status is not None and changes.status is not status:
                refusal = transition_refusal(status, changes.status)
                if refusal is not None:
                    raise Conflict(
                        refusal, details={"status": status.value, "requested": changes.status}
                    )
                contest.status = changes.status.value
                if changes.status is ContestStatus.LIVE:
                    contest.started_at = now
                else:
                    contest.ended_at = now
                await announce_status(session, contest, status, now)
            elif edits:
                await bump_version(session)
            contest.updated_at = now
            await session.flush()
            view = await self._view(session, contest)
            if contest.status != status.value:
                action = "contest.start" if contest.status == ContestStatus.LIVE else "contest.end"
            else:
                action = "contest.update"
            if _differ(before, view):
                await audit.record(session, action, _target(contest_id), before=before, after=view)
        return view

    async def enter(
        self, contest_id: int, user_id: UserId, user_name: str | None = None
    ) -> EntryView:
        """Enter the user (made on first sight). Entering again changes nothing and answers the
        same entry (`created` False); an ENDED contest takes no entrants (409)."""
        async with self.database.transaction() as session:
            contest = await self._get(session, contest_id)
            if contest.status == ContestStatus.ENDED.value:
                raise Conflict(
                    "the contest has ended; it takes no more entrants",
                    details={"status": contest.status},
                )
            user, _ = await users_repo.ensure(session, user_id, user_name)
            if not await repo.may_take_part(session, contest, user.id):
                raise Forbidden(
                    "this contest is private: it is entered by invitation",
                    details={"visibility": contest.visibility},
                )
            now = utcnow()
            created = await repo.enter(session, contest.id, user.id, now)
            entry = await repo.entry(session, contest.id, user.id)
            assert entry is not None
            if created:
                counts = await repo.entrant_counts(session, [contest.id])
                add_room_event(
                    session,
                    rooms.contest(contest.id),
                    notices.CONTEST_ENTRY,
                    notices.CONTEST_ENTRY(
                        contest_id=contest.id,
                        name=contest.name,
                        user_id=user.external_id,
                        user_name=display_name(user),
                        entrants=counts.get(contest.id, 0),
                        timestamp=now,
                    ),
                )
            return EntryView(
                contest.id,
                user.external_id,
                display_name(user),
                entry.value,
                entry.entered_at,
                created,
            )

    async def leaderboard(
        self, contest_id: int, limit: int, viewer: Principal | None = None
    ) -> tuple[ContestView, list[dict[str, Any]]]:
        """The contest and its first `limit` places, best first (a private one's only for those
        it admits)."""
        async with self.database.transaction() as session:
            contest = await self._visible(session, contest_id, viewer)
            places = await board(session, contest.id, min(limit, MAX_LIMIT))
            return await self._view(session, contest), places

    async def board_message(self, contest_id: int) -> dict[str, Any] | None:
        """The standings as `leaderboard:update` carries them (seed 003 sends them on
        `contest:subscribe`); None for a contest that does not exist."""
        async with self.database.transaction() as session:
            contest = await repo.get(session, contest_id)
            if contest is None:
                return None
            return {
                "contestId": contest.id,
                "name": contest.name,
                "metric": contest.metric,
                "status": contest.status,
                "leaderboard": await board(session, contest.id),
                "timestamp": iso(utcnow()),
            }

    async def board_for_socket(self, contest_id: int | str) -> dict[str, Any] | None:
        """`board_message` for an id as a socket client sent it (`1` or `"1"`)."""
        if isinstance(contest_id, str):
            if not contest_id.isdigit() or len(contest_id) > 10:
                return None
            contest_id = int(contest_id)
        if not 1 <= contest_id <= 2**31 - 1:
            return None
        return await self.board_message(contest_id)

    async def payout(self, contest_id: int, prizes: Sequence[str] | None) -> dict[str, Any]:
        """Pay out once: the top 3 who scored are celebrated (`🏆 {name} - 1st Place`). A LIVE
        contest is ended first, in the same transaction; a DRAFT one is 409, and so is a second
        payout."""
        async with self.database.transaction() as session:
            commit.after_commit(session, self._changed)  # the scheduler's wake-up
            contest = await self._get(session, contest_id, for_update=True)
            if contest.paid_out_at is not None:
                raise Conflict(
                    "the contest has been paid out already",
                    details={"paidOutAt": iso(contest.paid_out_at)},
                )
            status = ContestStatus(contest.status)
            if status is ContestStatus.DRAFT:
                raise Conflict(
                    "a DRAFT contest has no standings to pay out; it goes LIVE first",
                    details={"status": status.value},
                )
            now = utcnow()
            if status is ContestStatus.LIVE:
                contest.status = ContestStatus.ENDED.value
                contest.ended_at = now
                await session.flush()
                await announce_status(session, contest, status, now)
            awarded = list(prizes) if prizes is not None else list(contest.prizes or [])
            top = await repo.standings(session, contest.id, PODIUM)
            users = {user.id: user for _, user, _ in top}
            finishers = podium([(user.id, value) for _, user, value in top], awarded)
            celebrated = await self.broadcaster.contest_achievement(
                session,
                contest.name,
                [(users[f.user_id], f.placement, f.prize) for f in finishers],
            )
            winners = [
                {
                    "placement": f.placement,
                    "userId": users[f.user_id].external_id,
                    "userName": display_name(users[f.user_id]),
                    "value": f.value,
                    "prize": f.prize,
                    "title": payload["title"],
                }
                for f, payload in zip(finishers, celebrated.payloads, strict=True)
            ]
            contest.paid_out_at = now
            contest.payout = winners
            contest.updated_at = now
            await session.flush()
            answer = {
                "contestId": contest.id,
                "name": contest.name,
                "status": contest.status,
                "paidOutAt": iso(now),
                "winners": winners,
            }
            await audit.record(session, "contest.payout", _target(contest.id), after=answer)
        return answer

    # --- the scheduler's side ----------------------------------------------------------------

    async def run_due(self) -> tuple[int, datetime | None]:
        """Start the DRAFT contests whose start is due and end the LIVE ones whose end is due,
        each in a transaction of its own. Returns how many changed here (of nodes racing for
        the same contest, the others change nothing: see `storage.contests.start_due`) and the
        next time something is due. With nothing due, that is one short read."""
        changed = 0
        for _ in range(MAX_PASSES):
            async with self.database.transaction() as session:
                starting, ending = await repo.due(session, utcnow())
                if not starting and not ending:
                    return changed, await repo.next_due(session)
            for contest_id in starting:
                changed += await self._advance(contest_id, ContestStatus.DRAFT)
            for contest_id in ending:
                changed += await self._advance(contest_id, ContestStatus.LIVE)
        return changed, utcnow()  # more is due: look again at once

    async def _advance(self, contest_id: int, current: ContestStatus) -> int:
        async with self.database.transaction() as session:
            now = utcnow()
            move = repo.start_due if current is ContestStatus.DRAFT else repo.end_due
            if not await move(session, contest_id, now):
                return 0
            contest = await self._get(session, contest_id)
            await announce_status(session, contest, current, now)
        return 1


async def _viewer(session: AsyncSession, principal: Principal | None) -> int | str | None:
    """Who reads, as `repo.listing` takes it: EVERYONE (admin, service), a user's internal id,
    or None (anonymous, display, or a user never seen)."""
    if principal is not None and principal.role in (Role.ADMIN, Role.SERVICE):
        return repo.EVERYONE
    if principal is None or principal.role is not Role.USER:
        return None
    user = await users_repo.get(session, principal.subject)
    return user.id if user is not None else None


def _check_times(start_at: datetime | None, end_at: datetime | None) -> None:
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise InvalidInput(
            "`endAt` must be after `startAt`",
            details=[{"field": "endAt", "message": "must be after startAt"}],
        )
