// The TV display: celebrates each achievement, then files it under "Recent achievements";
// shows the live top 10 of one metric (?metric=revenue&period=month&team=&title=) and a live
// contest's countdown. Catches up by event id after a reload or a network drop.
import {
  Api,
  Board,
  Channel,
  METRICS,
  PERIODS,
  ago,
  announce,
  contestEnd,
  contestStart,
  contestsOf,
  countdown,
  debounce,
  element,
  entriesOf,
  formatValue,
  hue,
  initials,
  query,
  reducedMotion,
  showStatus,
  withoutEmoji,
} from "./live.js";

const metric = query.get("metric") || "revenue";
const period = query.get("period") || "month";
const RECENT_MAX = 8;
// How long a celebration card stays (?cardSeconds=, 1 to 30); less when others are waiting.
const CARD_MS = 1000 * Math.min(30, Math.max(1, Number(query.get("cardSeconds")) || 5.5));
const CARD_BUSY_MS = Math.min(CARD_MS, 2500);
// A rare badge (held by under RARE_PERCENT of active users) or a first unlock ever gets its own
// card, held this many times longer.
const RARE_PERCENT = 5;
const SPECIAL_HOLD = 2;
const QUEUE_MAX = 6; // beyond this, the oldest waiting go straight to the recent column
// A contest going LIVE or ENDED is announced on tv-display (`contest:status`, `contest:ended`);
// the slow poll only finds new upcoming (DRAFT) contests and covers a missed announcement.
const CONTEST_POLL_MS = 120000;
const HISTORY_LIMIT = 200;

const api = new Api(query.get("token"));
const $ = (id) => document.getElementById(id);
const board = new Board($("board"), {
  metric,
  empty: `No ${(METRICS[metric] || metric).toLowerCase()} yet ${PERIODS[period] || ""}`.trim(),
});

const team = query.get("team"); // one team's board (the API's `team`)
$("board-metric").textContent = `Top 10 · ${METRICS[metric] || metric}`;
$("board-period").textContent = PERIODS[period] || period;
if (query.get("title")) {
  $("tv-title").textContent = query.get("title");
  document.title = `${query.get("title")} · Accolade`;
}

// ---- recent achievements and celebrations ---------------------------------------------------

const DEFAULT_ICON = { streak: "🔥", rank: "📈", contest: "🏆", milestone: "🏅" };

function iconOf(data) {
  return data.icon || DEFAULT_ICON[data.achievementType] || "🏅";
}

const bareTitle = (data) => withoutEmoji(data.title || "Achievement");

function recentItem(data) {
  const item = element("li", `recent-item type-${data.achievementType || "milestone"}`);
  item.dataset.timestamp = data.timestamp || "";
  item.append(element("span", "recent-icon", iconOf(data)));
  const text = element("div", "recent-text");
  text.append(element("span", "recent-title", bareTitle(data)));
  const meta = element("span", "recent-meta");
  meta.append(element("strong", "recent-user", data.userName || String(data.userId ?? "")));
  meta.append(element("span", "recent-time", ago(data.timestamp)));
  text.append(meta);
  item.append(text);
  return item;
}

const recent = []; // newest first, at most RECENT_MAX

function addRecent(data, { animate = true } = {}) {
  recent.unshift(data);
  recent.length = Math.min(recent.length, RECENT_MAX);
  renderRecent(animate);
}

// As many as fit the column: a TV never scrolls and never shows half an item.
function renderRecent(animateFirst = false) {
  const list = $("recent");
  list.replaceChildren(...recent.map(recentItem));
  $("recent-empty").hidden = recent.length > 0;
  const bottom = $("recent").parentElement.getBoundingClientRect().bottom - 8;
  while (list.children.length > 1 && list.lastElementChild.getBoundingClientRect().bottom > bottom) {
    list.lastElementChild.remove();
  }
  if (animateFirst && !reducedMotion()) list.firstElementChild?.classList.add("arriving");
}

function refreshTimes() {
  for (const item of document.querySelectorAll(".recent-item")) {
    item.querySelector(".recent-time").textContent = ago(item.dataset.timestamp);
  }
}

const waiting = [];
let showing = false;

function celebrate(data) {
  waiting.push(data);
  while (waiting.length > QUEUE_MAX) addRecent(waiting.shift(), { animate: false });
  if (!showing) showNext();
}

// "First in the company!" for a badge's first unlock ever, "Only 3% have this" for a rare one;
// null for any other celebration.
function specialLine(data) {
  if (data.first === true) return "First in the company!";
  const percent = data.rarityPercent;
  if (typeof percent !== "number" || percent >= RARE_PERCENT) return null;
  if (percent < 0.1) return "Fewer than 0.1% have this";
  const shown = Number.isInteger(percent) ? String(percent) : percent.toFixed(1);
  return `Only ${shown}% have this`;
}

function holdMs(data) {
  const ms = waiting.length ? CARD_BUSY_MS : CARD_MS;
  return specialLine(data) ? ms * SPECIAL_HOLD : ms;
}

function card(data) {
  const node = element("article", `celebration type-${data.achievementType || "milestone"}`);
  if (data.rarity) node.classList.add(`rarity-${data.rarity}`);
  const special = specialLine(data);
  if (special) {
    node.classList.add("special", data.first === true ? "special-first" : "special-rare");
  }
  node.append(element("div", "burst"));
  node.append(element("div", "celebration-icon", iconOf(data)));
  const who = element("div", "celebration-user");
  const avatar = element("span", "avatar", initials(data.userName));
  avatar.style.setProperty("--hue", hue(data.userId));
  who.append(avatar, element("span", null, data.userName || String(data.userId ?? "")));
  node.append(who);
  if (special) node.append(element("p", "celebration-special", special));
  node.append(element("h2", "celebration-title", bareTitle(data)));
  if (data.description) node.append(element("p", "celebration-description", data.description));
  if (data.rarity) node.append(element("span", "celebration-rarity", data.rarity));
  if (!reducedMotion()) {
    const confetti = element("div", "confetti");
    for (let i = 0; i < 28; i += 1) {
      const piece = element("i");
      piece.style.setProperty("--x", `${Math.round(Math.random() * 100)}%`);
      piece.style.setProperty("--delay", `${(Math.random() * 0.6).toFixed(2)}s`);
      piece.style.setProperty("--spin", `${Math.round(Math.random() * 720 - 360)}deg`);
      piece.style.setProperty("--hue", `${Math.round(Math.random() * 360)}`);
      confetti.append(piece);
    }
    node.append(confetti);
  }
  return node;
}

async function showNext() {
  const data = waiting.shift();
  if (!data) {
    showing = false;
    return;
  }
  showing = true;
  const layer = $("celebration-layer");
  const node = card(data);
  placeLayer(layer);
  layer.replaceChildren(node);
  layer.classList.add("active");
  const special = specialLine(data);
  announce(
    `${data.userName || data.userId}: ${bareTitle(data)}. ${special ? `${special} ` : ""}` +
      `${data.description || ""}`,
  );
  const hold = holdMs(data);
  node.dataset.holdMs = String(hold); // for a person (and the tests) to see which card lasts
  await sleep(hold);
  node.classList.add("leaving");
  await sleep(reducedMotion() ? 0 : 450);
  layer.classList.remove("active");
  node.remove();
  addRecent(data);
  showNext();
}

// Over the recent column when the screen is wide (see tv.css), else over everything.
function placeLayer(layer) {
  const wide = window.matchMedia("(min-width: 901px)").matches;
  layer.classList.toggle("in-panel", wide);
  if (!wide) {
    layer.removeAttribute("style");
    return;
  }
  const rect = $("recent").parentElement.getBoundingClientRect();
  Object.assign(layer.style, {
    top: `${rect.top}px`,
    left: `${rect.left}px`,
    width: `${rect.width}px`,
    height: `${rect.height}px`,
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function loadRecent() {
  const body = await api.get(`/api/rooms/tv-display/events?limit=${HISTORY_LIMIT}`);
  if (!body || !Array.isArray(body.events)) return;
  const celebrations = body.events.filter((e) => e.type === "achievement:celebration");
  recent.length = 0;
  for (const event of celebrations.slice(-RECENT_MAX)) recent.unshift(event.data);
  renderRecent();
  // Even an empty room gives a starting point (0): the first events sent during a drop are
  // then replayed too.
  channel.seen(body.events.reduce((most, e) => Math.max(most, e.id), 0));
}

// ---- the top 10 -------------------------------------------------------------------------------

async function loadBoard() {
  const body = await api.get(
    `/api/leaderboards/${encodeURIComponent(metric)}?period=${encodeURIComponent(period)}` +
      `&limit=10${team ? `&team=${encodeURIComponent(team)}` : ""}`,
  );
  if (body === null && board.loaded) return; // keep what is shown while the server is away
  board.render(entriesOf(body).slice(0, 10));
}

// ---- the live contest -------------------------------------------------------------------------

let contest = null;
const joinedContests = new Set();

function pickContest(contests) {
  const live = contests.filter((c) => String(c.status).toUpperCase() === "LIVE");
  live.sort((a, b) => (contestEnd(a) ?? Infinity) - (contestEnd(b) ?? Infinity));
  if (live.length) return live[0];
  const upcoming = contests
    .filter((c) => String(c.status).toUpperCase() === "DRAFT" && contestStart(c) > Date.now())
    .sort((a, b) => contestStart(a) - contestStart(b));
  return upcoming[0] || null;
}

async function loadContest() {
  const body = await api.get("/api/contests");
  if (body === null && contest !== null) return;
  contest = pickContest(contestsOf(body));
  const panel = $("contest");
  if (!contest) {
    panel.dataset.state = "none";
    $("contest-name").textContent = "No live contest";
    $("contest-meta").textContent = "";
    $("contest-countdown").textContent = "";
    $("contest-standings").replaceChildren();
    return;
  }
  const live = String(contest.status).toUpperCase() === "LIVE";
  panel.dataset.state = live ? "live" : "upcoming";
  $("contest-name").textContent = contest.name || `Contest ${contest.id}`;
  const contestMetric = contest.metric || "revenue";
  $("contest-meta").textContent = live
    ? `${METRICS[contestMetric] || contestMetric} · ends in`
    : `${METRICS[contestMetric] || contestMetric} · starts in`;
  tick();
  if (!joinedContests.has(contest.id)) {
    joinedContests.add(contest.id);
    channel.join({ type: "join:contest", contestId: contest.id });
  }
  const standings = live ? await api.get(`/api/contests/${contest.id}/leaderboard`) : null;
  const list = $("contest-standings");
  list.replaceChildren();
  for (const entry of entriesOf(standings).filter(scored).slice(0, 3)) {
    const row = element("li", "contest-row");
    row.append(element("span", "contest-rank", `#${entry.rank}`));
    row.append(element("span", "contest-user", entry.userName || String(entry.userId)));
    row.append(element("span", "contest-value", formatValue(contestMetric, entry.value)));
    list.append(row);
  }
}

// Entrants who have not scored yet are not "in third place".
const scored = (entry) => Number(entry.value) > 0;

function tick() {
  if (!contest) return;
  const live = String(contest.status).toUpperCase() === "LIVE";
  const target = live ? contestEnd(contest) : contestStart(contest);
  $("contest-countdown").textContent = target ? countdown(target) : "";
  if (target && target <= Date.now() - 1000) refreshContest(); // it ended or began: ask again
}

// ---- the connection ---------------------------------------------------------------------------

const refreshBoard = debounce(loadBoard, 300);
const refreshContest = debounce(loadContest, 500);

const channel = new Channel({
  path: "/leaderboard",
  storageKey: "accolade.tv.lastEventId",
  params: query.get("token") ? { token: query.get("token") } : {}, // public display off
  joins: () => [
    { type: "join:tv-display" },
    ...[...joinedContests].map((id) => ({ type: "join:contest", contestId: id })),
  ],
  onStatus: (status) => {
    showStatus($("badge"), status);
    if (status === "live") {
      refreshBoard();
      refreshContest();
    }
  },
  onError: (error) => {
    if (error.code === "unauthorized") {
      // Public display is off (or the token is not valid): say so instead of a blank screen.
      $("notice").textContent = `${error.message}. Open this page as /tv?token=… with a display token.`;
      $("notice").hidden = false;
    }
  },
  onJoined: (joined) => {
    $("notice").hidden = true;
    if (joined.recovered === false) {
      loadRecent(); // the gap is older than the server keeps: start over from REST
      refreshBoard();
    }
  },
  onEvent: (type, data) => {
    if (type === "achievement:celebration") celebrate(data);
    else if (type === "rankings:update" || type === "leaderboard:refresh") refreshBoard();
    else if (type.startsWith("contest:")) refreshContest();
  },
});

function clock() {
  const now = new Date();
  $("clock").textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

async function main() {
  clock();
  setInterval(clock, 10000);
  setInterval(tick, 1000);
  setInterval(refreshTimes, 30000);
  // The column's height changes with the window and with the contest panel above it.
  const relayout = () => {
    renderRecent();
    if (showing) placeLayer($("celebration-layer")); // the card follows the column
  };
  new ResizeObserver(debounce(relayout, 100)).observe($("recent").parentElement);
  setInterval(loadContest, CONTEST_POLL_MS); // the fallback: status changes arrive as events
  await loadRecent();
  channel.start();
  await Promise.all([loadBoard(), loadContest()]);
}

window.accoladeTV = { channel };
main();
