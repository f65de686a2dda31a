// The dashboard: leaderboards by metric and period with animated rank changes, contests with
// live standings, and, with a user token, that user's toasts, XP bar, level, tier, streak and
// achievements (locked ones greyed, secret ones hidden until unlocked, progress bars).
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
  recall,
  reducedMotion,
  showStatus,
  store,
  withoutEmoji,
} from "./live.js";

const $ = (id) => document.getElementById(id);
// Public reads use the display token (or, with public display off, the user's token).
let api = new Api(null);
const TOKEN_KEY = "accolade.userToken";
const BOARD_LIMIT = 20;
const TOAST_MS = 6000;
const TOASTS_MAX = 4;
const CONTEST_POLL_MS = 15000;
const HISTORY_LIMIT = 300;

// ---- who is looking -----------------------------------------------------------------------

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = part + "=".repeat((4 - (part.length % 4)) % 4);
    const json = decodeURIComponent(
      [...atob(padded)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""),
    );
    return JSON.parse(json);
  } catch (_) {
    return null;
  }
}

let userToken = query.get("token") || recall(TOKEN_KEY);
if (query.get("token")) {
  store(TOKEN_KEY, userToken);
  // Kept in this browser only; not left in the address bar, history or a screenshot.
  const url = new URL(location.href);
  url.searchParams.delete("token");
  history.replaceState(null, "", url);
}
let me = userToken ? claims(userToken) : null;
if (me) api = new Api(null, userToken);

// ---- leaderboard ------------------------------------------------------------------------------

let metric = query.get("metric") || recall("accolade.dashboard.metric") || "revenue";
let period = query.get("period") || recall("accolade.dashboard.period") || "month";
if (!(metric in METRICS)) {
  $("metric").append(element("option", null, metric));
  $("metric").lastElementChild.value = metric;
}
$("metric").value = metric;
$("period").value = period in PERIODS ? period : "month";
let board = newBoard();

function newBoard() {
  return new Board($("board"), {
    metric,
    highlight: me?.sub ?? null,
    empty: `No ${(METRICS[metric] || metric).toLowerCase()} yet ${PERIODS[period] || ""}`.trim(),
  });
}

async function loadBoard() {
  const body = await api.get(
    `/api/leaderboards/${encodeURIComponent(metric)}?period=${encodeURIComponent(period)}` +
      `&limit=${BOARD_LIMIT}`,
  );
  if (body === null && board.loaded) return;
  board.render(entriesOf(body));
}

$("board-controls").addEventListener("change", () => {
  metric = $("metric").value;
  period = $("period").value;
  store("accolade.dashboard.metric", metric);
  store("accolade.dashboard.period", period);
  const url = new URL(location.href);
  url.searchParams.set("metric", metric);
  url.searchParams.set("period", period);
  history.replaceState(null, "", url);
  board = newBoard();
  loadBoard();
});

// ---- contests ---------------------------------------------------------------------------------

const joinedContests = new Set();
const STATUS_ORDER = { LIVE: 0, DRAFT: 1, ENDED: 2 };

async function loadContests() {
  const body = await api.get("/api/contests");
  if (body === null && $("contests").children.length) return;
  const contests = contestsOf(body)
    .map((c) => ({ ...c, status: String(c.status || "").toUpperCase() }))
    .sort(
      (a, b) =>
        (STATUS_ORDER[a.status] ?? 3) - (STATUS_ORDER[b.status] ?? 3) ||
        (a.status === "ENDED"
          ? (contestEnd(b) ?? 0) - (contestEnd(a) ?? 0)
          : (contestEnd(a) ?? Infinity) - (contestEnd(b) ?? Infinity)),
    );
  const shown = [
    ...contests.filter((c) => c.status !== "ENDED"),
    ...contests.filter((c) => c.status === "ENDED").slice(0, 3),
  ];
  const standings = await Promise.all(
    shown.map((c) =>
      c.status === "DRAFT" ? null : api.get(`/api/contests/${c.id}/leaderboard`),
    ),
  );
  const list = $("contests");
  // Entrants who have not scored yet are not "in third place".
  const scored = (i) => entriesOf(standings[i]).filter((e) => Number(e.value) > 0);
  list.replaceChildren(...shown.map((c, i) => contestCard(c, scored(i))));
  $("contests-empty").hidden = shown.length > 0;
  for (const c of shown) {
    if (c.status === "LIVE" && !joinedContests.has(c.id)) {
      joinedContests.add(c.id);
      publicChannel.join({ type: "join:contest", contestId: c.id });
    }
  }
  tick();
}

function contestCard(contest, entries) {
  const card = element("li", `contest status-${contest.status.toLowerCase()}`);
  const head = element("div", "contest-head");
  head.append(element("h3", "contest-name", contest.name || `Contest ${contest.id}`));
  head.append(element("span", `chip chip-${contest.status.toLowerCase()}`, contest.status));
  card.append(head);
  const contestMetric = contest.metric || "revenue";
  const meta = element("p", "contest-meta");
  meta.append(element("span", null, METRICS[contestMetric] || contestMetric));
  const clock = element("span", "contest-clock");
  if (contest.status === "LIVE" && contestEnd(contest)) {
    clock.dataset.until = contestEnd(contest);
    clock.dataset.prefix = "ends in ";
  } else if (contest.status === "DRAFT" && contestStart(contest)) {
    clock.dataset.until = contestStart(contest);
    clock.dataset.prefix = "starts in ";
  } else if (contest.status === "ENDED") {
    clock.textContent = "ended";
  }
  meta.append(clock);
  card.append(meta);
  if (!entries.length && contest.status === "LIVE") {
    card.append(element("p", "empty", `${contest.entrants ?? 0} entered · no score yet`));
  }
  if (entries.length) {
    const list = element("ol", "contest-standings");
    for (const entry of entries.slice(0, 5)) {
      const row = element("li");
      if (me && String(entry.userId) === String(me.sub)) row.classList.add("me");
      row.append(element("span", "contest-rank", `#${entry.rank}`));
      row.append(element("span", "contest-user", entry.userName || String(entry.userId)));
      row.append(element("span", "contest-value", formatValue(contestMetric, entry.value)));
      list.append(row);
    }
    card.append(list);
  }
  return card;
}

function tick() {
  for (const clock of document.querySelectorAll(".contest-clock[data-until]")) {
    clock.textContent = clock.dataset.prefix + countdown(Number(clock.dataset.until));
  }
}

// ---- the signed-in user -----------------------------------------------------------------------

const progress = new Map(); // achievementId -> {current, target}
let unlocked = new Map(); // achievementId -> unlocked achievement

async function personal(path) {
  try {
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${userToken}` },
      cache: "no-store",
    });
    return { status: response.status, body: response.ok ? await response.json() : null };
  } catch (_) {
    return { status: 0, body: null };
  }
}

function note(text) {
  $("me-note").textContent = text;
  $("me-note").hidden = !text;
}

async function loadProfile() {
  if (!me) return;
  const { status, body } = await personal(`/api/users/${encodeURIComponent(me.sub)}/profile`);
  if (status === 0) return; // offline: keep what is shown
  if (status === 401) {
    note("This token is not accepted (expired or from another server). Paste a new one.");
    $("me-body").hidden = true;
    return;
  }
  if (status === 404) {
    note(`No activity yet for ${me.sub}. It appears here with their first event.`);
    $("me-body").hidden = true;
    return;
  }
  if (!body) return;
  note("");
  $("me-body").hidden = false;
  $("me").dataset.state = "signed-in";
  const name = body.userName || String(body.userId);
  $("me-name").textContent = name;
  $("me-avatar").textContent = initials(name);
  $("me-avatar").style.setProperty("--hue", hue(body.userId));
  $("me-level").textContent = `Level ${body.level}`;
  $("me-tier").textContent = body.tier;
  const streak = body.streak || { current: 0, best: 0 };
  $("me-streak").textContent = `🔥 ${streak.current}-day streak (best ${streak.best})`;
  const bar = body.levelProgress || {};
  const span = Math.max(1, (bar.nextLevelXp ?? 1) - (bar.currentLevelXp ?? 0));
  const percent = Math.round(Math.min(1, Math.max(0, bar.fraction ?? 0)) * 100);
  $("xp-total").textContent = `${formatValue("xp", body.xp)}`;
  $("xp-next").textContent = `${formatValue("xp", bar.xpToNextLevel ?? 0)} to level ${body.level + 1}`;
  $("xp-fill").style.width = `${percent}%`;
  $("xp-bar").setAttribute("aria-valuenow", String(percent));
  $("xp-bar").setAttribute("aria-label", `${bar.xpIntoLevel ?? 0} of ${span} XP into level ${body.level}`);
  unlocked = new Map((body.achievements || []).map((a) => [a.achievementId, a]));
  await loadAchievements();
}

async function loadAchievements() {
  const { body } = await personal("/api/achievements?enabled=true");
  if (!Array.isArray(body)) return;
  const list = $("achievements");
  const items = body.map((a) => achievementItem(a));
  items.sort((a, b) => Number(b.dataset.unlocked) - Number(a.dataset.unlocked));
  list.replaceChildren(...items);
  const count = body.filter((a) => unlocked.has(a.id)).length;
  $("achievements-count").textContent = `${count} of ${body.length} unlocked`;
}

function achievementItem(achievement) {
  const won = unlocked.get(achievement.id);
  const item = element("li", `achievement ${won ? "unlocked" : "locked"}`);
  item.dataset.id = achievement.id;
  item.dataset.unlocked = won ? "1" : "0";
  item.append(element("span", "achievement-icon", achievement.icon || "🏅"));
  const text = element("div", "achievement-text");
  text.append(element("span", "achievement-name", achievement.name));
  text.append(element("span", "achievement-description", achievement.description || ""));
  if (won) {
    const when = new Date(won.unlockedAt).toLocaleDateString();
    text.append(element("span", "achievement-state", `Unlocked ${when}`));
  } else {
    const bar = progress.get(achievement.id);
    if (bar) text.append(progressBar(bar));
    else text.append(element("span", "achievement-state", "Locked"));
  }
  item.append(text);
  const side = element("span", "achievement-side");
  side.append(element("span", `rarity rarity-${achievement.rarity}`, achievement.rarity));
  const share = shareText(achievement);
  side.append(element("span", "achievement-share", share));
  item.append(side);
  item.setAttribute(
    "aria-label",
    `${achievement.name}: ${won ? "unlocked" : "locked"}, ${share.toLowerCase()}`,
  );
  return item;
}

// How many hold it, as the API counts it (holders of the users with an event).
function shareText({ unlockedCount, rarityPercent }) {
  if (!unlockedCount) return "Nobody yet";
  if (typeof rarityPercent !== "number") return `${unlockedCount} have this`;
  const shown = Number.isInteger(rarityPercent) ? String(rarityPercent) : rarityPercent.toFixed(1);
  return `${rarityPercent < 0.1 ? "<0.1" : shown}% have this`;
}

function progressBar({ current, target }) {
  const wrap = element("span", "achievement-progress");
  const share = target > 0 ? Math.min(1, Math.max(0, current / target)) : 0;
  const bar = element("span", "mini-bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", String(target));
  bar.setAttribute("aria-valuenow", String(current));
  const fill = element("span", "mini-fill");
  fill.style.width = `${Math.round(share * 100)}%`;
  bar.append(fill);
  const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  wrap.append(bar, element("span", "mini-text", `${number.format(current)} / ${number.format(target)}`));
  return wrap;
}

function applyProgress(data) {
  for (const bar of data.achievements || []) {
    progress.set(bar.achievementId, { current: bar.current, target: bar.target });
    const item = document.querySelector(`.achievement[data-id="${bar.achievementId}"]`);
    if (!item || item.dataset.unlocked === "1") continue;
    const text = item.querySelector(".achievement-text");
    text.querySelector(".achievement-progress, .achievement-state")?.remove();
    text.append(progressBar(bar));
  }
}

// The user's recent room events: the newest progress bars, and the id to catch up from.
async function loadUserHistory() {
  const room = encodeURIComponent(`user:${me.sub}`);
  const { body } = await personal(`/api/rooms/${room}/events?limit=${HISTORY_LIMIT}`);
  if (!body || !Array.isArray(body.events)) return;
  for (const event of body.events) {
    if (event.type === "progress:update") applyProgress(event.data);
  }
  // Even an empty room gives a starting point (0), so nothing sent during a drop is lost.
  userChannel.seen(body.events.reduce((most, e) => Math.max(most, e.id), 0));
}

// ---- the team feed (everyone's celebrations, as the TV shows them) ----------------------------

const FEED_MAX = 8;

function feedItem(data) {
  const item = element("li", "feed-item");
  item.dataset.timestamp = data.timestamp || "";
  item.append(element("span", "feed-icon", data.icon || "🏅"));
  const text = element("div", "feed-text");
  text.append(element("span", "feed-title", withoutEmoji(data.title || "Achievement")));
  const meta = element("span", "feed-meta");
  meta.append(element("strong", null, data.userName || String(data.userId ?? "")));
  meta.append(element("span", "feed-time", ago(data.timestamp)));
  text.append(meta);
  item.append(text);
  return item;
}

function addToFeed(data, { arriving = false } = {}) {
  const list = $("feed");
  const item = feedItem(data);
  if (arriving && !reducedMotion()) item.classList.add("arriving");
  list.prepend(item);
  while (list.children.length > FEED_MAX) list.lastElementChild.remove();
  $("feed-empty").hidden = true;
}

async function loadFeed() {
  const body = await api.get("/api/rooms/tv-display/events?limit=200");
  if (!body || !Array.isArray(body.events)) return;
  $("feed").replaceChildren();
  const celebrations = body.events.filter((e) => e.type === "achievement:celebration");
  for (const event of celebrations.slice(-FEED_MAX)) addToFeed(event.data);
  // The socket goes on from there: what happens between this read and the join is replayed.
  publicChannel.seen(body.events.reduce((most, e) => Math.max(most, e.id), 0));
}

function refreshTimes() {
  for (const item of document.querySelectorAll(".feed-item")) {
    item.querySelector(".feed-time").textContent = ago(item.dataset.timestamp);
  }
}

// ---- toasts -----------------------------------------------------------------------------------

function toast({ icon, title, body, kind = "achievement" }) {
  const stack = $("toasts");
  const node = element("div", `toast toast-${kind}`);
  node.append(element("span", "toast-icon", icon || "🏅"));
  const text = element("div", "toast-text");
  text.append(element("strong", "toast-title", withoutEmoji(title)));
  if (body) text.append(element("span", "toast-body", body));
  node.append(text);
  stack.prepend(node);
  while (stack.children.length > TOASTS_MAX) stack.lastElementChild.remove();
  announce(`${title}. ${body || ""}`);
  setTimeout(() => {
    node.classList.add("leaving");
    setTimeout(() => node.remove(), reducedMotion() ? 0 : 400);
  }, TOAST_MS);
}

const refreshProfile = debounce(loadProfile, 400);
const refreshAchievements = debounce(loadAchievements, 800);

function onUserEvent(type, data) {
  if (type === "achievement:earned") {
    toast({ icon: data.icon, title: data.title, body: data.description });
    refreshProfile();
  } else if (type === "xp:gained") {
    toast({ icon: "✨", title: `+${data.amount} XP`, body: data.source || "", kind: "xp" });
    refreshProfile();
  } else if (type === "progress:update") {
    applyProgress(data);
  } else if (
    type === "level:up" ||
    type === "streak:update" ||
    type === "achievement:unlocked" ||
    type === "player:tier-upgrade"
  ) {
    refreshProfile();
  } else if (type === "rankings:update") {
    refreshBoard();
  }
}

// ---- connections ------------------------------------------------------------------------------

const refreshBoard = debounce(loadBoard, 300);
const refreshContests = debounce(loadContests, 500);
const statuses = {};

function status(name, value) {
  statuses[name] = value;
  const all = Object.values(statuses);
  const combined = all.includes("offline")
    ? "offline"
    : all.every((s) => s === "live")
      ? "live"
      : "connecting";
  showStatus($("badge"), combined);
}

store("accolade.dashboard.lastEventId", null); // starts from the feed's REST read instead
const publicChannel = new Channel({
  path: "/leaderboard",
  storageKey: "accolade.dashboard.lastEventId",
  params: me ? { token: userToken } : {}, // any valid token may join public rooms
  joins: () => [
    { type: "join:tv-display" },
    ...[...joinedContests].map((id) => ({ type: "join:contest", contestId: id })),
  ],
  onStatus: (value) => {
    status("public", value);
    if (value === "live") {
      refreshBoard();
      refreshContests();
    }
  },
  onEvent: (type, data) => {
    if (type === "achievement:celebration") {
      addToFeed(data, { arriving: true });
      // Someone's badge: its share (and every other's, with one more active user) moved.
      if (me && typeof data.rarityPercent === "number") refreshAchievements();
    }
    else if (type === "rankings:update" || type === "leaderboard:refresh") refreshBoard();
    else if (type.startsWith("contest:")) refreshContests();
  },
});

const userChannel = me
  ? new Channel({
      path: "/game-events",
      storageKey: `accolade.dashboard.user.${me.sub}.lastEventId`,
      params: { token: userToken },
      onStatus: (value) => {
        status("user", value);
        if (value === "live") refreshProfile();
      },
      onJoined: (joined) => {
        if (joined.recovered === false) loadUserHistory().then(loadProfile);
      },
      onEvent: onUserEvent,
    })
  : null;

// ---- sign in and out --------------------------------------------------------------------------

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (!value) return;
  store(TOKEN_KEY, value);
  location.reload();
});

$("sign-out").addEventListener("click", () => {
  store(TOKEN_KEY, null);
  location.reload();
});

async function main() {
  await loadFeed(); // before the socket: live ones then come on top, none twice
  setInterval(tick, 1000);
  setInterval(refreshTimes, 30000);
  // Contests announce themselves only in their own rooms: a new one is found by asking.
  setInterval(loadContests, CONTEST_POLL_MS);
  publicChannel.start();
  if (me) {
    $("token-form").hidden = true;
    await loadUserHistory();
    userChannel.start();
    await loadProfile();
  } else if (userToken) {
    note("That does not look like a token from `accolade token`.");
  }
  await Promise.all([loadBoard(), loadContests()]);
}

main();
