"""The audit log's vocabulary: every action it may hold, `<thing>.<verb>`, and what each records.

`storage.audit.record` refuses any other name, so this list (shown in the README and on
`GET /api/admin/audit`) stays complete.
"""

from __future__ import annotations

ACTIONS: dict[str, str] = {
    "achievement.create": "an achievement was created (both APIs); `after`",
    "achievement.update": "fields of an achievement changed (PATCH, seed 004 PUT); `before`, "
    "`after`",
    "achievement.delete": "an achievement (and its progress rows) was deleted; `before`",
    "achievement.recompute": "users were re-evaluated against an achievement's rule (`POST "
    "/api/achievements/{id}/recompute`, or a PATCH of its requirements), one entry per chunk of "
    "users that changed: `unlocked`, `revoked`, `kept` (counts)",
    "achievement.unlock": "an achievement was unlocked for a user by hand (seed 004 "
    "`PUT .../progress/unlock`); `userId`, `before`, `after` (the progress row)",
    "achievement.progress.delete": "a user's progress row was removed; `userId`, `before`",
    "quest.create": "a quest was created; `after`",
    "contest.create": "a contest was created; `after`",
    "contest.update": "a DRAFT contest's fields changed; `before`, `after`",
    "contest.start": "a contest was put LIVE by hand (PATCH status); `before`, `after`",
    "contest.end": "a contest was ENDED by hand (PATCH status); `before`, `after`",
    "contest.invite": "users were invited to a private contest; `userIds` (those not invited "
    "before)",
    "contest.payout": "a contest was paid out; `after` (the winners)",
    "team.create": "a team was created; `after`",
    "team.delete": "a team was deleted; `before`",
    "team.member.add": "a user joined a team; `after` (the membership)",
    "team.member.remove": "a user left a team; `before` (the membership)",
    "user.create": "a user was created by `POST /api/users`; `after`",
    "user.update": "an existing user's name or time zone changed by `POST /api/users`; "
    "`before`, `after`",
    "user.delete": "a user and everything of theirs was deleted; `before`",
    "reward.revoke": "a pending reward was revoked; `before`, `after`",
    "event.reverse": "a stored event was reversed; `userId`, `reason`, `after` (the reversal "
    "as answered)",
    "admin.broadcast": "an event was broadcast to a room; `namespace`, `room`, `event`, `repeat`",
}
