"""Socket.IO v5 conformance: raw packets over Engine.IO, Accolade answering as Node does.

Each exchange runs on a new websocket session against Accolade and against the Node Socket.IO
4.8 server (tests/node/reference_server.js, which speaks the same namespaces and answers
`join:*` with `joined` and acknowledges what asks for it, as Accolade's handlers do), and the
two transcripts must be the same (`protocol_peers.exchange`: session ids normalised; a transcript
ends with `open` when the session still answers, or with how it was closed). The exchanges
follow socketio/socket.io-protocol and its test suite: CONNECT to Accolade's namespaces with
and without auth and to one that does not exist, EVENT with acknowledgements, BINARY_EVENT with
attachments, DISCONNECT, and packets malformed or out of order.

Accolade's intended differences are asserted explicitly, with what Node answers beside them:
`/` needs a token and a refused token is told why (`error`, then DISCONNECT), and a malformed
request in a connected namespace answers `error validation_error` and keeps the connection
(CONTRACT.md, "Real time") where Node closes it. The official `engine.io-client` and
`socket.io-client` run against both servers too (tests/node/protocol_peer.js, client.js).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from accolade.auth import issue_token
from accolade.domain.identity import Role
from tests.conftest import TEST_SECRET
from tests.realtime.node_client import ensure_node_modules
from tests.realtime.protocol_peers import (
    QUICK_CONNECT_S,
    SENTINEL_ACK_ID,
    Peer,
    RawSocket,
    Servers,
    Step,
    exchange,
    sentinel,
)

JOINED = '42/leaderboard,["joined",{"room":"tv-display"}]'
CONNECTED = '40/leaderboard,{"sid":"<sid>"}'
ATTACHMENT = b"\x01\x02\x03"
BINARY_JOIN = '["join:tv-display",{"_placeholder":true,"num":0}]'


def user_token(subject: str = "123") -> str:
    return issue_token(TEST_SECRET, subject, Role.USER, 3600)


@pytest.fixture(scope="module")
async def servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Servers]:
    async with contextlib.AsyncExitStack() as stack:
        yield Servers(stack, tmp_path_factory.mktemp("socketio"))


@pytest.fixture
async def peers(servers: Servers, fast_path: str) -> tuple[Peer, Peer]:
    return await servers.pair(fast_path)


async def transcripts(
    peers: tuple[Peer, Peer], steps: list[Step], end: list[str]
) -> tuple[list[Any], list[Any]]:
    """(Node's transcript, Accolade's) of the same exchange."""
    node, ours = peers
    node_transcript, our_transcript = await asyncio.gather(
        exchange(node, steps, end), exchange(ours, steps, end)
    )
    return node_transcript, our_transcript


# --- the same answers ---------------------------------------------------------------------------

SAME = [
    pytest.param(["40/leaderboard,", None], sentinel(), [CONNECTED, "open"], id="connect"),
    pytest.param(
        ["40/training,", None],
        sentinel(connect=True),
        ['40/training,{"sid":"<sid>"}', CONNECTED, "open"],
        id="connect-training",
    ),
    pytest.param(
        [f'40/leaderboard,{{"token":"{user_token()}"}}', None],
        sentinel(),
        [CONNECTED, "open"],
        id="connect-with-auth",
    ),
    pytest.param(
        [f'40{{"token":"{user_token()}"}}', None],
        sentinel(connect=True),
        ['40{"sid":"<sid>"}', CONNECTED, "open"],
        id="connect-root-with-auth",
    ),
    pytest.param(
        ["40/nope,", None],
        sentinel(connect=True),
        ['44/nope,{"message":"Invalid namespace"}', CONNECTED, "open"],
        id="connect-unknown-namespace",
    ),
    pytest.param(
        ["40/random", None],
        sentinel(connect=True),
        ['44/random,{"message":"Invalid namespace"}', CONNECTED, "open"],
        id="connect-unknown-namespace-no-comma",
    ),
    pytest.param(
        ["40/leaderboard,", None, '42/leaderboard,7["join:tv-display"]', None, None],
        sentinel(),
        [CONNECTED, JOINED, "43/leaderboard,7[]", "open"],
        id="event-with-ack",
    ),
    pytest.param(
        ["40/leaderboard,", None, f"451-/leaderboard,{BINARY_JOIN}", ATTACHMENT, None],
        sentinel(),
        [CONNECTED, JOINED, "open"],
        id="binary-event",
    ),
    pytest.param(
        ["40/leaderboard,", None, f"451-/leaderboard,8{BINARY_JOIN}", ATTACHMENT, None, None],
        sentinel(),
        [CONNECTED, JOINED, "43/leaderboard,8[]", "open"],
        id="binary-event-with-ack",
    ),
    pytest.param(
        ["40/leaderboard,", None, "43/leaderboard,5[]"],
        sentinel(),
        [CONNECTED, "open"],
        id="ack-for-nothing-is-ignored",
    ),
    pytest.param(
        ["40/leaderboard,", None, "41/leaderboard,", "40/leaderboard,", None],
        sentinel(),
        [CONNECTED, CONNECTED, "open"],
        id="disconnect-then-connect-again",
    ),
    # Out of protocol: Node closes the connection, and so does Accolade.
    pytest.param(["4abc"], sentinel(connect=True), ["close"], id="unknown-packet-type"),
    pytest.param(["47"], sentinel(connect=True), ["close"], id="packet-type-7"),
    pytest.param(
        ['42/leaderboard,["join:tv-display"]'],
        sentinel(connect=True),
        ["close"],
        id="event-before-connect",
    ),
    pytest.param(
        [f"451-/leaderboard,{BINARY_JOIN}", ATTACHMENT],
        sentinel(connect=True),
        ["close"],
        id="binary-event-before-connect",
    ),
    pytest.param(
        ["40/leaderboard,", None, "40/leaderboard,"],
        sentinel(),
        [CONNECTED, "close"],
        id="second-connect",
    ),
    pytest.param(
        ["40/leaderboard,", None, '44/leaderboard,{"message":"x"}'],
        sentinel(),
        [CONNECTED, "close"],
        id="connect-error-from-the-client",
    ),
    pytest.param(
        ["40/leaderboard,", None, "41/leaderboard,", '42/leaderboard,["join:tv-display"]'],
        sentinel(),
        [CONNECTED, "close"],
        id="event-after-disconnect",
    ),
    pytest.param(
        ["40/leaderboard,", None, ATTACHMENT],
        sentinel(),
        [CONNECTED, "close"],
        id="attachment-without-a-binary-packet",
    ),
]


@pytest.mark.parametrize(("steps", "end", "expected"), SAME)
async def test_socketio_packets_are_answered_as_node_answers_them(
    peers: tuple[Peer, Peer], steps: list[Step], end: list[str], expected: list[Any]
) -> None:
    node, ours = await transcripts(peers, steps, end)
    assert ours == node
    assert ours == expected


# --- Accolade's intended differences ------------------------------------------------------------


async def test_root_without_a_token_is_told_unauthorized_and_disconnected_where_node_connects(
    peers: tuple[Peer, Peer],
) -> None:
    node_peer, our_peer = peers
    node = await exchange(node_peer, ["40", None], sentinel(connect=True))
    ours = await exchange(our_peer, ["40", None, None, None], sentinel(connect=True))
    assert node == ['40{"sid":"<sid>"}', CONNECTED, "open"]
    assert ours[0] == '40{"sid":"<sid>"}'
    assert ours[1].startswith('42["error",{"code":"unauthorized","message":'), ours
    assert ours[2:] == ["41", CONNECTED, "open"]  # the session goes on: /leaderboard connects


async def test_a_refused_token_is_told_why_and_the_namespace_disconnected_where_node_connects(
    peers: tuple[Peer, Peer],
) -> None:
    node_peer, our_peer = peers
    connect = '40/leaderboard,{"token":"not-a-jwt"}'
    node = await exchange(node_peer, [connect, None], sentinel())
    ours = await exchange(our_peer, [connect, None, None, None], sentinel(connect=True))
    assert node == [CONNECTED, "open"]
    assert ours[0] == CONNECTED
    assert ours[1].startswith('42/leaderboard,["error",{"code":"unauthorized","message":'), ours
    assert ours[2:] == ["41/leaderboard,", CONNECTED, "open"]


MALFORMED_EVENTS = [
    pytest.param("42/leaderboard,{}", id="payload-an-object"),
    pytest.param("42/leaderboard,[]", id="payload-empty"),
    pytest.param('42/leaderboard,"join:tv-display"', id="payload-a-string"),
    pytest.param("42/leaderboard,[not json", id="payload-not-json"),
    pytest.param('42/leaderboard,abc["join:tv-display"]', id="ack-id-not-a-number"),
    pytest.param('42/leaderboard,["connect"]', id="reserved-event-name"),
]


@pytest.mark.parametrize("packet", MALFORMED_EVENTS)
async def test_a_malformed_event_answers_validation_error_and_keeps_the_session_where_node_closes(
    peers: tuple[Peer, Peer], packet: str
) -> None:
    node, ours = await transcripts(peers, ["40/leaderboard,", None, packet, None], sentinel())
    assert node == [CONNECTED, "close"]
    assert ours[0] == CONNECTED
    assert ours[1].startswith('42/leaderboard,["error",{"code":"validation_error","message":')
    assert ours[2:] == ["open"]


async def test_a_connection_that_connects_to_no_namespace_in_time_is_closed(
    servers: Servers, fast_path: str
) -> None:
    """Node's `connectTimeout` (here one second): a session that has connected to no namespace
    by then is closed; one that has goes on."""

    async def run(peer: Peer) -> list[Any]:
        async with RawSocket.open(peer) as idle, RawSocket.open(peer) as connected:
            await idle.handshake()
            await connected.handshake()
            await connected.send("40/leaderboard,")
            answers = [await connected.recv(), await idle.recv(timeout_s=QUICK_CONNECT_S + 5)]
            for packet in sentinel():  # after the idle one was closed: still answered
                await connected.send(packet)
            answers += [await connected.recv(), await connected.recv()]
        return answers

    node_peer, our_peer = await servers.pair(fast_path, "connect")
    node, ours = await asyncio.gather(run(node_peer), run(our_peer))
    assert ours == node
    assert ours == [CONNECTED, "close", JOINED, f"43/leaderboard,{SENTINEL_ACK_ID}[]"]


# --- the official clients as peers --------------------------------------------------------------


async def official_clients(peer: Peer, transports: list[str], pings: int) -> dict[str, Any]:
    """tests/node/protocol_peer.js against `peer`, the engine.io-client staying for `pings`
    heartbeats: its summary (see the script)."""
    node_dir = ensure_node_modules()
    node = shutil.which("node")
    assert node is not None  # ensure_node_modules checked it
    script = {"url": peer.url, "transports": transports, "pings": pings}
    process = await asyncio.create_subprocess_exec(
        node,
        str(node_dir / "protocol_peer.js"),
        json.dumps(script),
        cwd=node_dir,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 30)
    summary: dict[str, Any] = json.loads(stdout)
    assert process.returncode == 0, f"{peer.name}: {summary}"
    return summary


@pytest.mark.parametrize(
    ("transports", "pings"),
    [
        pytest.param(["polling", "websocket"], 1, id="polling-then-upgrade"),
        pytest.param(["websocket"], 2, id="websocket"),
        pytest.param(["polling"], 1, id="polling"),
    ],
)
async def test_the_official_engineio_and_socketio_clients_see_what_they_see_with_node(
    servers: Servers, fast_path: str, transports: list[str], pings: int
) -> None:
    """engine.io-client: CONNECT, a binary event and an event with acks, the upgrade, heartbeats
    (a ping every second: one late ping and the client gives up); socket.io-client: acknowledged
    and binary emits, and `connect_error` for a namespace that does not exist."""
    node_peer, our_peer = await servers.pair(fast_path, "quick")
    node, ours = await asyncio.gather(
        official_clients(node_peer, transports, pings),
        official_clients(our_peer, transports, pings),
    )
    assert ours == node
    joined = '2/leaderboard,["joined",{"room":"tv-display"}]'
    assert ours["engine"] == {
        "opened": transports[0],
        "upgradedTo": "websocket" if len(transports) == 2 else None,
        "received": [
            '0/leaderboard,{"sid":"<sid>"}',
            joined,
            "3/leaderboard,1[]",
            joined,
            "3/leaderboard,2[]",
        ],
        "pings": pings,
        "closed": "forced close",
    }
    assert ours["socket"] == {
        "ack": None,
        "binaryAck": None,
        "joined": [{"room": "tv-display"}, {"room": "tv-display"}],
        "invalidNamespace": "Invalid namespace",
    }
