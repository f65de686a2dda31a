// Shared by the TV display and the dashboard: REST reads, the plain WebSocket with catch-up by
// id and reconnects, the connection badge, the leaderboard and contest widgets, announcements.
// Plain ES module, no build step, nothing loaded from outside Accolade.

export const RETRY_MIN_MS = 1000;
export const RETRY_MAX_MS = 5000;
// After this many failed connects in a row the badge says Offline (it keeps retrying).
const OFFLINE_AFTER_FAILURES = 3;
// Close codes of a refused token (see the README's real-time section), and how long to wait then.
const TOKEN_REFUSED_CLOSE = 4401;
const TOKEN_FORBIDDEN_CLOSE = 4403;
const REFUSED_RETRY_MS = 60000;
// A ping this often; a socket silent for SILENT_MS is treated as dead and reconnected.
const PING_EVERY_MS = 15000;
const SILENT_MS = 40000;

export const reducedMotion = () =>
  window.matchMedia("(prefers-reduced-motion: reduce)").matches;

export const query = new URLSearchParams(location.search);

export function store(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, String(value));
  } catch (_) {
    /* private mode: catch-up then only lasts as long as the page */
  }
}

export function recall(key) {
  try {
    return localStorage.getItem(key);
  } catch (_) {
    return null;
  }
}

// ---- REST -------------------------------------------------------------------------------------

// Public reads use the page's `?token=` when given, else a short-lived display token that the
// server hands to anonymous screens while public display is on. Any failure answers null: a
// widget whose endpoint is missing or refused shows its empty state instead of breaking the page.
export class Api {
  // `token`: always used when given. `fallback`: used when there is no display token (public
  // display off), e.g. the dashboard's user token, which may read public data too.
  constructor(token, fallback = null) {
    this.explicit = token || null;
    this.fallback = fallback || null;
    this.display = null;
  }

  async displayToken(refresh = false) {
    if (this.display && !refresh) return this.display;
    try {
      const response = await fetch("/display-token", { cache: "no-store" });
      if (!response.ok) return null;
      this.display = (await response.json()).token;
    } catch (_) {
      this.display = null;
    }
    return this.display;
  }

  async get(path, { token } = {}) {
    const personal = token !== undefined;
    let bearer = personal ? token : this.explicit || (await this.displayToken()) || this.fallback;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      let response;
      try {
        response = await fetch(path, {
          headers: bearer ? { Authorization: `Bearer ${bearer}` } : {},
          cache: "no-store",
        });
      } catch (_) {
        return null; // offline: the caller keeps what it shows
      }
      if (response.ok) {
        try {
          return await response.json();
        } catch (_) {
          return null;
        }
      }
      if (response.status === 401 && !personal && !this.explicit && attempt === 0) {
        // Expired: one fresh display token, one retry.
        bearer = (await this.displayToken(true)) || this.fallback;
        continue;
      }
      return null;
    }
    return null;
  }
}

// ---- the plain WebSocket ------------------------------------------------------------------------

// One socket to one path. `joins()` lists the join frames to send on every (re)connect; each gets
// `since` = the last event id seen, so the server first replays what was missed. The id is kept in
// localStorage under `storageKey`, so a reload catches up too. Reconnects back off from 1 to 5 s.
export class Channel {
  constructor({
    path,
    storageKey,
    joins = () => [],
    params = {},
    onEvent,
    onStatus,
    onJoined,
    onError,
  }) {
    this.path = path;
    this.storageKey = storageKey;
    this.joins = joins;
    this.params = params;
    this.onEvent = onEvent || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onJoined = onJoined || (() => {});
    this.onError = onError || ((error) => console.warn("accolade:", error.message));
    const saved = Number.parseInt(recall(storageKey) ?? "", 10);
    this.lastId = Number.isFinite(saved) ? saved : null;
    this.failures = 0;
    this.socket = null;
    this.timer = null;
    this.pinger = null;
    this.heardAt = 0;
    this.status = null;
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.dropped());
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }

  // The newest id the page already shows (from REST); never moves backwards.
  seen(id) {
    if (typeof id !== "number") return;
    if (this.lastId === null || id > this.lastId) {
      this.lastId = id;
      store(this.storageKey, id);
    }
  }

  start() {
    this.connect();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const search = new URLSearchParams(this.params);
    if (this.path === "/game-events" && this.lastId !== null) search.set("since", this.lastId);
    const tail = search.toString();
    return `${scheme}//${location.host}${this.path}${tail ? `?${tail}` : ""}`;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.status !== "offline") this.setStatus("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch (_) {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.heardAt = Date.now();
      for (const frame of this.joins()) this.send(frame);
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.ping(), PING_EVERY_MS);
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.pinger);
      if (event.code === TOKEN_REFUSED_CLOSE || event.code === TOKEN_FORBIDDEN_CLOSE) {
        // The server refused the token (its `error` said why): trying again at once cannot
        // help, so only now and then (a new token may have been set meanwhile).
        this.setStatus("offline");
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.connect(), REFUSED_RETRY_MS);
        return;
      }
      this.retry();
    };
    socket.onerror = () => {
      /* onclose follows and retries */
    };
  }

  join(frame) {
    this.send(frame);
  }

  send(frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const withSince = frame.type.startsWith("join:") && this.lastId !== null
      ? { ...frame, since: this.lastId }
      : frame;
    this.socket.send(JSON.stringify(withSince));
  }

  ping() {
    if (Date.now() - this.heardAt > SILENT_MS) {
      this.socket?.close(); // half-open: nothing heard for too long
      return;
    }
    this.send({ type: "ping" });
  }

  receive(text) {
    this.heardAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (frame.type === "joined") {
      this.failures = 0;
      this.setStatus("live");
      this.onJoined(frame.data || {});
      return;
    }
    if (frame.type === "pong" || frame.type === "heartbeat" || frame.type === "left") return;
    if (frame.type === "error") {
      this.onError(frame.data || {});
      return;
    }
    if (typeof frame.id === "number") {
      if (this.lastId !== null && frame.id <= this.lastId) return; // already shown
      this.seen(frame.id);
    }
    try {
      this.onEvent(frame.type, frame.data || {}, frame);
    } catch (error) {
      console.warn("accolade: could not show", frame.type, error);
    }
  }

  retry() {
    this.failures += 1;
    const offline = this.failures >= OFFLINE_AFTER_FAILURES || navigator.onLine === false;
    this.setStatus(offline ? "offline" : "connecting");
    const backoff = RETRY_MIN_MS * 2 ** (this.failures - 1);
    const jitter = Math.random() * 250;
    const delay = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, backoff + jitter));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  // The browser says the network is gone: the socket is dead even if it has not noticed yet.
  dropped() {
    this.setStatus("offline");
    const socket = this.socket;
    this.socket = null;
    clearInterval(this.pinger);
    socket?.close();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), RETRY_MAX_MS);
  }

  reconnectNow() {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    this.connect();
  }
}

// ---- the connection badge --------------------------------------------------------------------

const BADGE_TEXT = { live: "Live", connecting: "Connecting", offline: "Offline" };

export function showStatus(badge, status) {
  badge.dataset.status = status;
  badge.querySelector(".badge-text").textContent = BADGE_TEXT[status] || status;
  badge.title = status === "live" ? "Receiving events as they happen" : "Reconnecting…";
}

// ---- announcements (screen readers) --------------------------------------------------------

export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A fresh node each time, so the same text twice is announced twice.
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

// ---- formatting ----------------------------------------------------------------------------------

const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const MONEY = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  maximumFractionDigits: 0,
});

export const METRICS = {
  revenue: "Revenue",
  xp: "XP",
  signups: "Signups",
  sales: "Deals",
};

export const PERIODS = {
  day: "today",
  week: "this week",
  month: "this month",
  year: "this year",
  all: "all time",
};

export function formatValue(metric, value) {
  const number = Number(value) || 0;
  if (metric === "revenue") return MONEY.format(number);
  if (metric === "xp") return `${NUMBER.format(number)} XP`;
  return NUMBER.format(number);
}

export function ago(timestamp) {
  const at = Date.parse(timestamp);
  if (!Number.isFinite(at)) return "";
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(at).toLocaleDateString();
}

export function countdown(untilMs) {
  const left = Math.max(0, Math.floor((untilMs - Date.now()) / 1000));
  const days = Math.floor(left / 86400);
  const hours = Math.floor((left % 86400) / 3600);
  const minutes = Math.floor((left % 3600) / 60);
  const seconds = left % 60;
  const two = (n) => String(n).padStart(2, "0");
  const clock = `${two(hours)}:${two(minutes)}:${two(seconds)}`;
  return days > 0 ? `${days}d ${clock}` : clock;
}

// A title without its leading emoji ("🔥 7-Day Streak!"): the screens show the icon on its own,
// large, next to it.
const LEADING_EMOJI = /^[\p{Extended_Pictographic}\p{Emoji_Presentation}\uFE0F\u200D\s]+/u;

export function withoutEmoji(title) {
  const text = String(title);
  return text.replace(LEADING_EMOJI, "") || text;
}

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/);
  return (parts[0][0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

// A stable hue per user, for avatars.
export function hue(key) {
  let hash = 2166136261; // FNV-1a: ids that differ in one character get far-apart hues
  for (const char of String(key)) {
    hash ^= char.codePointAt(0);
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  hash ^= hash >>> 16; // a final mix, so that "u-7" and "u-8" land far apart too
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % 360;
}

// Calls `fn` once, `waitMs` after the last of a burst of calls (a storm of rank changes
// becomes one refetch).
export function debounce(fn, waitMs) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), waitMs);
  };
}

// ---- leaderboard rows with animated rank changes ----------------------------------------------

const MOVE_MARK_MS = 20000;

// Renders entries `{rank, userId, userName, value}` into `list` (an <ol>), one <li> per user,
// reusing each user's row so that a rank change slides it from where it was (FLIP) and shows
// how many places it moved.
export class Board {
  constructor(list, { metric, highlight = null, empty = "No entries yet" }) {
    this.list = list;
    this.metric = metric;
    this.highlight = highlight;
    this.empty = empty;
    this.rows = new Map();
    this.ranks = new Map();
    this.values = new Map();
    this.loaded = false;
  }

  render(entries) {
    const before = new Map();
    for (const [key, row] of this.rows) before.set(key, row.getBoundingClientRect().top);
    const seen = new Set();
    const fragment = document.createDocumentFragment();
    for (const entry of entries) {
      const key = String(entry.userId);
      seen.add(key);
      let row = this.rows.get(key);
      if (!row) {
        row = this.makeRow(entry);
        this.rows.set(key, row);
        if (this.loaded && !reducedMotion()) row.classList.add("entering");
      }
      this.fill(row, entry, key);
      fragment.append(row);
    }
    for (const [key, row] of this.rows) {
      if (!seen.has(key)) {
        row.remove();
        this.rows.delete(key);
        this.ranks.delete(key);
        this.values.delete(key);
      }
    }
    this.list.replaceChildren(fragment);
    if (!entries.length) {
      const note = element("li", "board-empty", this.empty);
      this.list.append(note);
    }
    if (!reducedMotion()) {
      for (const [key, row] of this.rows) {
        const top = before.get(key);
        if (top === undefined) continue;
        const shift = top - row.getBoundingClientRect().top;
        if (Math.abs(shift) < 1) continue;
        row.animate(
          [{ transform: `translateY(${shift}px)` }, { transform: "translateY(0)" }],
          { duration: 700, easing: "cubic-bezier(.2,.8,.2,1)" },
        );
      }
    }
    this.loaded = true;
  }

  // A move marker says what just happened, so it fades after a while.
  mark(move, text, kind) {
    move.textContent = text;
    move.className = `board-move ${kind}`;
    clearTimeout(move.fade);
    move.fade = setTimeout(() => {
      move.textContent = "";
      move.className = "board-move";
      move.removeAttribute("aria-label");
    }, MOVE_MARK_MS);
  }

  makeRow(entry) {
    const row = element("li", "board-row");
    row.dataset.userId = String(entry.userId);
    const rank = element("span", "board-rank");
    const avatar = element("span", "avatar", initials(entry.userName));
    avatar.style.setProperty("--hue", hue(entry.userId));
    avatar.setAttribute("aria-hidden", "true");
    const name = element("span", "board-name");
    const move = element("span", "board-move");
    const value = element("span", "board-value");
    row.append(rank, avatar, name, move, value);
    return row;
  }

  fill(row, entry, key) {
    const previous = this.ranks.get(key);
    const oldValue = this.values.get(key);
    row.querySelector(".board-rank").textContent = entry.rank;
    row.querySelector(".board-name").textContent = entry.userName || key;
    row.querySelector(".board-value").textContent = formatValue(this.metric, entry.value);
    row.classList.toggle("podium", entry.rank <= 3);
    row.dataset.rank = entry.rank;
    row.classList.toggle("me", this.highlight !== null && key === String(this.highlight));
    const move = row.querySelector(".board-move");
    if (previous !== undefined && previous !== entry.rank) {
      const places = previous - entry.rank;
      this.mark(move, places > 0 ? `▲${places}` : `▼${-places}`, places > 0 ? "up" : "down");
      move.setAttribute("aria-label", places > 0 ? `up ${places}` : `down ${-places}`);
    } else if (previous === undefined && this.loaded) {
      this.mark(move, "new", "new");
    }
    if (oldValue !== undefined && oldValue !== entry.value && !reducedMotion()) {
      row.classList.remove("bumped");
      void row.offsetWidth; // restart the highlight animation
      row.classList.add("bumped");
    }
    this.ranks.set(key, entry.rank);
    this.values.set(key, entry.value);
  }
}

// ---- contests --------------------------------------------------------------------------------

export function contestEnd(contest) {
  const at = Date.parse(contest.endAt || contest.endsAt || "");
  return Number.isFinite(at) ? at : null;
}

export function contestStart(contest) {
  const at = Date.parse(contest.startAt || contest.startsAt || "");
  return Number.isFinite(at) ? at : null;
}

export function contestsOf(body) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body.contests)) return body.contests;
  if (body && Array.isArray(body.items)) return body.items;
  return [];
}

export function entriesOf(body) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body.entries)) return body.entries;
  if (body && Array.isArray(body.leaderboard)) return body.leaderboard;
  if (body && Array.isArray(body.standings)) return body.standings;
  return [];
}
