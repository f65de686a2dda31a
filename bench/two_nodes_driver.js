// Two-node fan-out client: like ../shared/bench/fanout_driver.js (the official socket.io-client on
// the websocket transport, N clients join tv-display on /leaderboard, one POST broadcasts M events),
// but the clients are split evenly over several nodes and the broadcast is posted to the first, so
// the other nodes' members get every event through the bus (Redis).
// Usage: node two_nodes_driver.js --urls http://A,http://B --clients 1000 --messages 100 --token JWT
// Prints one JSON line: delivered_per_s (N*M / seconds from the POST to the last arrival), latency
// p50/p99 from each event's `sentAt`, and the same per node.
const { io } = require('socket.io-client');
const http = require('http');

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), [])
);
const urls = (args.urls || 'http://127.0.0.1:5000').split(',');
const N = Number(args.clients || 1000);
const M = Number(args.messages || 100);
const token = args.token;
const ns = '/leaderboard';
const eventName = 'achievement:celebration';

const sockets = [];
const latencies = urls.map(() => []);
const received = urls.map(() => 0);
let joined = 0;
let total = 0;
let t0 = 0;

const pct = (list, p) => {
  if (!list.length) return null;
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
};

function finish(extra) {
  const seconds = (Date.now() - t0) / 1000;
  const all = latencies.flat();
  console.log(JSON.stringify({
    urls, clients: N, messages: M, received: total, seconds,
    delivered_per_s: Math.round(total / seconds),
    latency_ms: { p50: pct(all, 0.5), p99: pct(all, 0.99) },
    nodes: urls.map((url, i) => ({ url, received: received[i], latency_ms: { p50: pct(latencies[i], 0.5), p99: pct(latencies[i], 0.99) } })),
    ...extra,
  }));
  sockets.forEach((s) => s.close());
  process.exit(extra && (extra.timeout || extra.error) ? 1 : 0);
}

function trigger() {
  t0 = Date.now();
  const body = JSON.stringify({
    namespace: ns, room: 'tv-display', event: eventName, repeat: M,
    data: { userId: 123, userName: 'John Doe', achievementType: 'milestone', title: 'Level 10 Achieved!',
            description: 'Reached level 10 with 5,000 total XP', icon: 'medal', timestamp: new Date().toISOString() },
  });
  const u = new URL('/api/admin/broadcast', urls[0]);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (token) headers.authorization = `Bearer ${token}`;
  const req = http.request({ hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers }, (res) => {
    res.resume();
    if (res.statusCode >= 300) finish({ error: `broadcast answered ${res.statusCode}` });
  });
  req.on('error', (e) => finish({ error: String(e) }));
  req.end(body);
}

for (let i = 0; i < N; i++) {
  const node = i % urls.length;
  const s = io(urls[node] + ns, { transports: ['websocket'], forceNew: true, reconnection: false, auth: token ? { token } : undefined });
  s.on('connect', () => s.emit('join:tv-display'));
  s.on('joined', () => { if (++joined === N) trigger(); });
  s.on(eventName, (data) => {
    if (data && data.sentAt) latencies[node].push(Date.now() - data.sentAt);
    received[node]++;
    if (++total === N * M) finish();
  });
  s.on('connect_error', (e) => finish({ error: `connect_error on ${urls[node]}: ${e.message}` }));
  sockets.push(s);
}
setTimeout(() => finish({ timeout: true, joined }), Number(args.timeout || 120) * 1000);
