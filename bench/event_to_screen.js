// The screens of bench/event_to_screen.py: N official socket.io-client v4 clients on /leaderboard,
// joined to tv-display over the websocket transport, timing each matching achievement:celebration.
// The sender puts its send time in the user id (`s{seq}-{unix microseconds}`), so each frame's
// latency is measured where it lands, on the same machine's clock.
// Prints JSON lines: {"ready":...} once every client joined, {"progress":frames} every 500 ms,
// and the summary after "stop" arrives on stdin.
// Usage: node event_to_screen.js --url http://127.0.0.1:5000 --clients 1000 --title '🏅 X Badge Earned!'
const { io } = require('socket.io-client');
const { performance } = require('perf_hooks');
const readline = require('readline');

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), [])
);
const url = args.url || 'http://127.0.0.1:5000';
const N = Number(args.clients || 1000);
const title = args.title;
const wave = Number(args.wave || 50); // connections opened at once
const joinTimeoutMs = Number(args['join-timeout-ms'] || 120000);

const nowMs = () => performance.timeOrigin + performance.now();
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const sockets = [];
let latencies = new Float64Array(1 << 20);
let frames = 0;
let joined = 0;
let disconnects = 0;
let others = 0; // celebrations that are not the sender's (rank changes, warm-up)
const perEvent = new Map(); // user id -> [count, min latency, max latency]

function record(data) {
  const at = nowMs();
  if (!data || data.title !== title || typeof data.userId !== 'string' || data.userId[0] !== 's') {
    others += 1;
    return;
  }
  const sentUs = Number(data.userId.slice(data.userId.indexOf('-') + 1));
  const latency = at - sentUs / 1000;
  if (frames === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[frames++] = latency;
  const seen = perEvent.get(data.userId);
  if (seen === undefined) perEvent.set(data.userId, [1, latency, latency]);
  else {
    seen[0] += 1;
    if (latency < seen[1]) seen[1] = latency;
    if (latency > seen[2]) seen[2] = latency;
  }
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] * 10) / 10;
}

function summary() {
  const all = latencies.slice(0, frames).sort();
  const first = Float64Array.from([...perEvent.values()].map((v) => v[1])).sort();
  const last = Float64Array.from([...perEvent.values()].map((v) => v[2])).sort();
  const spread = (s) => ({ p50: pct(s, 0.5), p90: pct(s, 0.9), p99: pct(s, 0.99), max: pct(s, 1) });
  emit({
    summary: true,
    clients: N,
    joined,
    disconnects,
    frames,
    others,
    latency_ms: spread(all),
    first_client_ms: spread(first),
    last_client_ms: spread(last),
    per_event: Object.fromEntries([...perEvent.entries()].map(([id, v]) => [id, v[0]])),
  });
}

async function connectAll() {
  for (let i = 0; i < N; i += wave) {
    const opened = [];
    for (let j = i; j < Math.min(N, i + wave); j++) {
      const s = io(url + '/leaderboard', { transports: ['websocket'], forceNew: true, reconnection: false });
      sockets.push(s);
      s.on('achievement:celebration', record);
      s.on('disconnect', () => { disconnects += 1; });
      opened.push(new Promise((resolve, reject) => {
        s.on('joined', (data) => {
          if (data && data.room === 'tv-display') { joined += 1; resolve(); }
        });
        s.on('connect', () => s.emit('join:tv-display'));
        s.on('connect_error', (e) => reject(new Error(`client ${j}: ${e.message}`)));
      }));
    }
    await Promise.all(opened);
  }
}

const deadline = setTimeout(() => { emit({ error: `only ${joined} of ${N} joined` }); process.exit(1); }, joinTimeoutMs);
connectAll().then(
  () => {
    clearTimeout(deadline);
    emit({ ready: true, joined });
    setInterval(() => emit({ progress: frames }), 500).unref();
  },
  (e) => { emit({ error: String(e) }); process.exit(1); }
);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stop') return;
  summary();
  sockets.forEach((s) => s.close());
  setTimeout(() => process.exit(0), 100);
});
