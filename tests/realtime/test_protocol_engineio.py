"""Engine.IO v4 conformance: raw packets on both transports, Accolade answering as Node does.

Each exchange runs against Accolade and against the Node Socket.IO 4.8 server
(tests/node/reference_server.js, with Accolade's ping interval, ping timeout and maxPayload)
in the same test, and the two answers must be the same once session ids are normalised
(`protocol_peers`). The exchanges follow the protocol document and the official test suite
(socketio/engine.io-protocol, test-suite/test-suite.js): the handshake on long-polling and on
websocket, refused requests (`400 {"code", "message"}`), messages, the close packet, the upgrade
from long-polling (`2probe`, `3probe`, the noop that ends the pending poll, `5`), heartbeats, and
malformed packets. Where Accolade follows the protocol document and Node does not, the test says
so and asserts both. The fast path does not touch the database: these run on SQLite only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from tests.realtime.protocol_peers import (
    MAX_PAYLOAD_BYTES,
    QUICK_PING_S,
    HttpAnswer,
    Peer,
    RawSocket,
    Servers,
    exchange,
    get_raw,
    handshake_refused,
    http,
    normalise,
    open_polling,
    sentinel,
)


@pytest.fixture(scope="module")
async def servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Servers]:
    async with contextlib.AsyncExitStack() as stack:
        yield Servers(stack, tmp_path_factory.mktemp("engineio"))


@pytest.fixture
async def peers(servers: Servers, fast_path: str) -> tuple[Peer, Peer]:
    """(Node, Accolade) with the default heartbeat (25 s interval, 20 s timeout)."""
    return await servers.pair(fast_path)


@pytest.fixture
async def quick_peers(servers: Servers, fast_path: str) -> tuple[Peer, Peer]:
    """(Node, Accolade) pinging every second, closing one second after an unanswered ping."""
    return await servers.pair(fast_path, "quick")


async def both(peers: tuple[Peer, Peer], run: Any) -> tuple[Any, Any]:
    """`run(peer)` on Node and on Accolade at once; (Node's answer, Accolade's)."""
    node, ours = peers
    node_answer, our_answer = await asyncio.gather(run(node), run(ours))
    return node_answer, our_answer


def error(code: int, message: str) -> HttpAnswer:
    return HttpAnswer(400, "application/json", {"code": code, "message": message})


# --- handshake ----------------------------------------------------------------------------------


async def test_polling_handshake_opens_a_session_with_the_announced_heartbeat_and_payload(
    peers: tuple[Peer, Peer],
) -> None:
    async def handshake(peer: Peer) -> tuple[int, str | None, dict[str, Any]]:
        async with httpx.AsyncClient(base_url=peer.url) as client:
            response = await client.get("/socket.io/", params=peer.query())
        assert response.text.startswith("0{"), response.text
        opened: dict[str, Any] = json.loads(response.text[1:])
        assert isinstance(opened.pop("sid"), str)
        return response.status_code, response.headers.get("content-type"), opened

    node, ours = await both(peers, handshake)
    assert ours == node
    assert ours == (
        200,
        "text/plain; charset=UTF-8",
        {
            "upgrades": ["websocket"],
            "pingInterval": 25000,
            "pingTimeout": 20000,
            "maxPayload": MAX_PAYLOAD_BYTES,
        },
    )


async def test_websocket_handshake_opens_a_session_with_no_upgrades(
    peers: tuple[Peer, Peer],
) -> None:
    async def handshake(peer: Peer) -> dict[str, Any]:
        async with RawSocket.open(peer) as raw:
            opened = await raw.handshake()
        assert isinstance(opened.pop("sid"), str)
        return opened

    node, ours = await both(peers, handshake)
    assert ours == node
    assert ours["upgrades"] == []


BAD_REQUESTS = [
    pytest.param("GET", "transport=polling", error(5, "Unsupported protocol version"), id="no-EIO"),
    pytest.param(
        "GET", "EIO=abc&transport=polling", error(5, "Unsupported protocol version"), id="EIO-abc"
    ),
    pytest.param(
        "GET", "EIO=3&transport=polling", error(5, "Unsupported protocol version"), id="EIO-3"
    ),
    pytest.param("GET", "EIO=4", error(0, "Transport unknown"), id="no-transport"),
    pytest.param("GET", "EIO=4&transport=abc", error(0, "Transport unknown"), id="transport-abc"),
    pytest.param("POST", "EIO=4&transport=polling", error(2, "Bad handshake method"), id="POST"),
    pytest.param("PUT", "EIO=4&transport=polling", error(2, "Bad handshake method"), id="PUT"),
    pytest.param(
        "GET",
        "EIO=4&transport=websocket",
        error(3, "Bad request"),
        id="websocket-without-upgrade",
    ),
    pytest.param(
        "GET", "EIO=4&transport=polling&sid=nope", error(1, "Session ID unknown"), id="GET-bad-sid"
    ),
    pytest.param(
        "POST",
        "EIO=4&transport=polling&sid=nope",
        error(1, "Session ID unknown"),
        id="POST-bad-sid",
    ),
]


@pytest.mark.parametrize(("method", "query", "expected"), BAD_REQUESTS)
async def test_a_bad_handshake_or_session_answers_400_with_the_engineio_error_code(
    peers: tuple[Peer, Peer], method: str, query: str, expected: HttpAnswer
) -> None:
    async def request(peer: Peer) -> HttpAnswer | str:
        return await http(peer, method, query, "40" if method == "POST" else None)

    node, ours = await both(peers, request)
    assert ours == node
    assert ours == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("EIO=4&transport=websocket&sid=nope", "Session ID unknown", id="bad-sid"),
        pytest.param("EIO=4&transport=abc", "Transport unknown", id="transport-abc"),
    ],
)
async def test_a_refused_websocket_handshake_answers_400_with_the_reason(
    peers: tuple[Peer, Peer], query: str, message: str
) -> None:
    async def refused(peer: Peer) -> tuple[int, str]:
        with pytest.raises(websockets.InvalidStatus) as raised:
            async with websockets.connect(peer.ws_url + query):
                pass
        response = raised.value.response
        return response.status_code, bytes(response.body or b"").decode()

    node, ours = await both(peers, refused)
    assert ours == node
    assert ours == (400, message)


# --- long-polling -------------------------------------------------------------------------------


async def test_polling_carries_packets_both_ways_in_one_payload_each(
    peers: tuple[Peer, Peer],
) -> None:
    async def messages(peer: Peer) -> list[Any]:
        sid = await open_polling(peer)
        posted = await http(peer, "POST", peer.query(sid), "40/leaderboard,")
        connected = await get_raw(peer, peer.query(sid))
        # Two packets in one payload, separated by the record separator.
        batch = '42/leaderboard,["join:tv-display"]\x1e42/leaderboard,5["join:tv-display"]'
        posted_batch = await http(peer, "POST", peer.query(sid), batch)
        answers = await get_raw(peer, peer.query(sid))
        return [posted, normalise(connected), posted_batch, answers]

    node, ours = await both(peers, messages)
    assert ours == node
    ok = HttpAnswer(200, "text/html", "ok")
    joined = '42/leaderboard,["joined",{"room":"tv-display"}]'
    assert ours[0] == ok and ours[2] == ok
    assert ours[3] == f"{joined}\x1e{joined}\x1e43/leaderboard,5[]"


async def test_a_close_packet_ends_the_pending_poll_with_a_noop_and_the_session(
    peers: tuple[Peer, Peer],
) -> None:
    async def close(peer: Peer) -> list[Any]:
        sid = await open_polling(peer)
        pending = asyncio.create_task(http(peer, "GET", peer.query(sid)))
        await asyncio.sleep(0.2)  # the poll is waiting on the server
        posted = await http(peer, "POST", peer.query(sid), "1")
        return [posted, await pending, await http(peer, "GET", peer.query(sid))]

    node, ours = await both(peers, close)
    assert ours == node
    assert ours[1:] == [
        HttpAnswer(200, "text/plain; charset=UTF-8", "6"),
        error(1, "Session ID unknown"),
    ]


async def test_a_second_poll_while_one_waits_closes_the_session(peers: tuple[Peer, Peer]) -> None:
    async def overlap(peer: Peer) -> list[Any]:
        sid = await open_polling(peer)
        first = asyncio.create_task(http(peer, "GET", peer.query(sid)))
        await asyncio.sleep(0.2)  # the first poll is waiting on the server
        second = await http(peer, "GET", peer.query(sid))
        status = second.status if isinstance(second, HttpAnswer) else second
        return [await first, status, await http(peer, "GET", peer.query(sid))]

    node, ours = await both(peers, overlap)
    assert ours == node
    assert ours == [
        HttpAnswer(200, "text/plain; charset=UTF-8", "1"),
        400,
        error(1, "Session ID unknown"),
    ]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("abc", id="not-a-packet"),
        pytest.param("9", id="unknown-packet-type"),
        pytest.param("2", id="ping-from-the-client"),
        pytest.param("3\x1eabc", id="second-packet-not-a-packet"),
    ],
)
async def test_a_payload_that_is_not_engineio_closes_the_polling_session(
    peers: tuple[Peer, Peer], payload: str
) -> None:
    async def garbage(peer: Peer) -> list[Any]:
        sid = await open_polling(peer)
        posted = await http(peer, "POST", peer.query(sid), payload)
        return [posted, await http(peer, "GET", peer.query(sid))]

    node, ours = await both(peers, garbage)
    assert ours == node
    assert ours[1] == error(1, "Session ID unknown")


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("4abc", id="unknown-socketio-packet-type"),
        pytest.param("4", id="empty-message"),
        pytest.param('42/leaderboard,["join:tv-display"]', id="event-before-connect"),
    ],
)
async def test_a_socketio_packet_out_of_protocol_closes_the_polling_session_with_close(
    peers: tuple[Peer, Peer], payload: str
) -> None:
    async def out_of_protocol(peer: Peer) -> list[Any]:
        sid = await open_polling(peer)
        posted = await http(peer, "POST", peer.query(sid), payload)
        return [
            posted,
            await http(peer, "GET", peer.query(sid)),
            await http(peer, "GET", peer.query(sid)),
        ]

    node, ours = await both(peers, out_of_protocol)
    assert ours == node
    assert ours[1:] == [
        HttpAnswer(200, "text/plain; charset=UTF-8", "6\x1e1"),
        error(1, "Session ID unknown"),
    ]


@pytest.mark.parametrize("packet", ["0", "5", "6"], ids=["open", "upgrade", "noop"])
async def test_packets_that_mean_nothing_after_the_handshake_are_ignored_on_polling(
    peers: tuple[Peer, Peer], packet: str
) -> None:
    async def ignored(peer: Peer) -> list[Any]:
        sid = await open_polling(peer)
        posted = await http(peer, "POST", peer.query(sid), f"{packet}\x1e40/leaderboard,")
        return [posted, normalise(await get_raw(peer, peer.query(sid)))]

    node, ours = await both(peers, ignored)
    assert ours == node
    assert ours == [HttpAnswer(200, "text/html", "ok"), '40/leaderboard,{"sid":"<sid>"}']


async def test_a_post_over_max_payload_answers_413_and_closes_the_session(
    peers: tuple[Peer, Peer],
) -> None:
    async def too_large(peer: Peer) -> list[Any]:
        sid = await open_polling(peer)
        body = "4" + "x" * MAX_PAYLOAD_BYTES
        posted = await http(peer, "POST", peer.query(sid), body)
        status = posted.status if isinstance(posted, HttpAnswer) else posted
        return [status, await http(peer, "GET", peer.query(sid))]

    node, ours = await both(peers, too_large)
    assert ours == node
    assert ours == [413, error(1, "Session ID unknown")]


async def test_a_post_to_a_websocket_session_answers_400_bad_request(
    peers: tuple[Peer, Peer],
) -> None:
    async def post(peer: Peer) -> list[Any]:
        async with RawSocket.open(peer) as raw:
            sid = (await raw.handshake())["sid"]
            answers: list[Any] = [
                await http(peer, "POST", peer.query(sid), "40/leaderboard,"),
                await http(peer, "GET", peer.query(sid)),
            ]
            await raw.send(sentinel(connect=True)[0])
            answers.append(await raw.recv())
        return answers

    node, ours = await both(peers, post)
    assert ours == node
    assert ours == [
        error(3, "Bad request"),
        error(3, "Bad request"),
        '40/leaderboard,{"sid":"<sid>"}',  # the websocket session is untouched
    ]


# --- upgrade ------------------------------------------------------------------------------------


async def test_upgrade_from_polling_probes_ends_the_pending_poll_and_moves_to_websocket(
    peers: tuple[Peer, Peer],
) -> None:
    async def upgrade(peer: Peer) -> list[Any]:
        sid = await open_polling(peer)
        await http(peer, "POST", peer.query(sid), "40/leaderboard,")
        connected = await get_raw(peer, peer.query(sid))
        async with RawSocket.open(peer, peer.query(sid, "websocket")) as raw:
            pending = asyncio.create_task(http(peer, "GET", peer.query(sid)))
            await asyncio.sleep(0.2)  # the poll is waiting on the server
            await raw.send("2probe")
            probe = await raw.recv()
            noop = await pending
            await raw.send("5")
            for packet in sentinel():
                await raw.send(packet)
            after = [await raw.recv(), await raw.recv()]
            # Once upgraded, the session no longer takes HTTP requests...
            refused = [
                await http(peer, "GET", peer.query(sid)),
                await http(peer, "POST", peer.query(sid), "3"),
            ]
            # ...nor a second websocket with its sid; the first one goes on.
            second_answer = await handshake_refused(peer, peer.query(sid, "websocket"))
            await raw.send('42/leaderboard,["join:tv-display"]')
            still = await raw.recv()
        return [normalise(connected), probe, noop, after, refused, second_answer, still]

    node, ours = await both(peers, upgrade)
    assert ours == node
    joined = '42/leaderboard,["joined",{"room":"tv-display"}]'
    assert ours[1:5] == [
        "3probe",
        HttpAnswer(200, "text/plain; charset=UTF-8", "6"),
        [joined, "43/leaderboard,9999[]"],  # nothing else came over the websocket
        [error(3, "Bad request"), error(3, "Bad request")],
    ]
    assert ours[5] == "refused" and ours[6] == joined


async def test_a_websocket_that_does_not_probe_is_closed_and_polling_goes_on(
    peers: tuple[Peer, Peer],
) -> None:
    async def bad_probe(peer: Peer) -> list[Any]:
        sid = await open_polling(peer)
        async with RawSocket.open(peer, peer.query(sid, "websocket")) as raw:
            await raw.send("2notprobe")
            closed = await raw.recv()
        await http(peer, "POST", peer.query(sid), "40/leaderboard,")
        return [closed, normalise(await get_raw(peer, peer.query(sid)))]

    node, ours = await both(peers, bad_probe)
    assert ours == node
    assert ours[0] == "close"


# --- websocket ----------------------------------------------------------------------------------

MALFORMED = [
    pytest.param(["abc"], ["close"], id="not-a-packet"),
    pytest.param([""], ["close"], id="empty"),
    pytest.param(["9"], ["close"], id="unknown-packet-type"),
    pytest.param([b"\x01\x02\x03"], ["close"], id="binary-outside-a-binary-packet"),
    pytest.param(["4hello"], ["close"], id="message-not-socketio"),
    pytest.param(["4" + "x" * MAX_PAYLOAD_BYTES], ["close 1009"], id="over-max-payload"),
    pytest.param(["2"], ["close"], id="ping-from-the-client"),
    pytest.param(["3"], ["open"], id="unsolicited-pong"),
    pytest.param(["0"], ["open"], id="open-ignored"),
    pytest.param(["5"], ["open"], id="upgrade-outside-an-upgrade-ignored"),
    pytest.param(["6"], ["open"], id="noop-ignored"),
]


@pytest.mark.parametrize(("steps", "expected"), MALFORMED)
async def test_malformed_websocket_packets_are_answered_as_node_answers_them(
    peers: tuple[Peer, Peer], steps: list[str | bytes], expected: list[str]
) -> None:
    async def run(peer: Peer) -> list[Any]:
        return await exchange(peer, steps, sentinel(connect=True))

    node, ours = await both(peers, run)
    assert ours == node
    assert ours[-1:] == expected


async def test_a_close_packet_closes_the_websocket_as_the_protocol_says_though_node_ignores_it(
    peers: tuple[Peer, Peer],
) -> None:
    """The protocol document and the official test suite ("forcefully closes the session"):
    `1` closes the session. Node's engine.io 6 only honours it on long-polling."""

    async def run(peer: Peer) -> list[Any]:
        return await exchange(peer, ["1"], sentinel(connect=True))

    node, ours = await both(peers, run)
    assert ours == ["close"]
    assert node == ['40/leaderboard,{"sid":"<sid>"}', "open"]


# --- heartbeat ----------------------------------------------------------------------------------


async def websocket_heartbeat(peer: Peer) -> list[Any]:
    """Answer one ping, see the next come, leave it unanswered: the session closes."""
    seen: list[Any] = []
    async with RawSocket.open(peer, answer_pings=False) as raw:
        opened = await raw.handshake()
        seen.append((opened["pingInterval"], opened["pingTimeout"]))
        seen.append(await raw.recv(timeout_s=QUICK_PING_S + 3))
        await raw.send("3")
        seen.append(await raw.recv(timeout_s=QUICK_PING_S + 3))  # left unanswered
        seen.append(await raw.recv(timeout_s=QUICK_PING_S + 5))
    return seen


async def polling_heartbeat(peer: Peer) -> list[Any]:
    """The same over long-polling: each poll brings the ping, a POST carries the pong."""
    sid = await open_polling(peer)
    seen: list[Any] = [
        await http(peer, "GET", peer.query(sid)),
        await http(peer, "POST", peer.query(sid), "3"),
        await http(peer, "GET", peer.query(sid)),  # left unanswered
    ]
    # The session ends a timeout later: a poll waiting meanwhile is ended (Node: CLOSE, Accolade:
    # a noop), and the poll after that is refused.
    for _ in range(3):
        answer = await http(peer, "GET", peer.query(sid))
        if isinstance(answer, HttpAnswer) and answer.status == 400:
            break
    seen.append(answer)
    return seen


async def test_pings_answered_keep_the_session_and_a_ping_unanswered_closes_it(
    quick_peers: tuple[Peer, Peer],
) -> None:
    async def heartbeat(peer: Peer) -> list[Any]:
        return list(await asyncio.gather(websocket_heartbeat(peer), polling_heartbeat(peer)))

    node, ours = await both(quick_peers, heartbeat)
    assert ours == node
    ping = HttpAnswer(200, "text/plain; charset=UTF-8", "2")
    ok = HttpAnswer(200, "text/html", "ok")
    assert ours == [
        [(1000, 1000), "2", "2", "close"],
        [ping, ok, ping, error(1, "Session ID unknown")],
    ]
