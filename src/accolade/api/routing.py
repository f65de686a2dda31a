"""Routes whose path parameters may hold an encoded `/` (`%2F`), such as a user id `team/ada`."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi.routing import APIRoute
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.routing import Match
from starlette.types import Scope

# Never part of a path parameter here (every id pattern refuses NUL), so it can stand for an
# encoded `/` while the route's pattern is matched.
_SLASH = "\x00"


class SegmentRoute(APIRoute):
    """An `APIRoute` matched segment by segment on the raw path.

    Servers hand routes the decoded path, where `/api/users/a%2Fb/profile` has become
    `/api/users/a/b/profile`: no `{user_id}` can match it, and `/api/users/x%2Fprofile` would be
    user `x`'s profile. Splitting the raw path on its literal slashes first keeps each segment
    whole, so `{user_id}` is `a/b` and `x/profile` as the client encoded them."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw: bytes | None = scope.get("raw_path")
        if scope["type"] != "http" or not raw or b"%2f" not in raw.lower() or b"%00" in raw:
            return super().matches(scope)
        segments = raw.decode("latin-1").split("/")
        path = "/".join(unquote(segment).replace("/", _SLASH) for segment in segments)
        match, child = super().matches({**scope, "path": path})
        if match is not Match.NONE:
            child["path_params"] = {
                name: value.replace(_SLASH, "/") if isinstance(value, str) else value
                for name, value in child["path_params"].items()
            }
        return match, child


class AchievementIdConvertor(StringConvertor):
    """`{achievement_id:achievement}`: any segment but `simulate`.

    `/api/achievements/simulate` is the what-if route for every method: a PATCH or GET there is
    405 with `Allow: POST`, not a 422 for an achievement id "simulate". The segment stays a
    string; the endpoint's own type (an integer id) still validates it."""

    regex = "(?!simulate$)[^/]+"


register_url_convertor("achievement", AchievementIdConvertor())
# The path of one achievement, for the routes under `/api/achievements`.
ONE_ACHIEVEMENT = "/{achievement_id:achievement}"
