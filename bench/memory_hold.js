// Memory benchmark client for bench/memory.sh: holds N idle Socket.IO connections (the official
// socket.io-client, websocket transport), each joined to tv-display on /leaderboard, like
// ../shared/bench/idle_connections.js, but opens them at most CONCURRENCY at a time so that 10,000
// do not overrun the server's listen backlog. Prints "joined N" once all have joined; holds them
// until killed. Prints "failed K" and exits 1 if any connection fails.
// Usage: node memory_hold.js URL N [TOKEN] [CONCURRENCY]
const { io } = require('socket.io-client');

const [url, N, token, concurrency] = [process.argv[2], Number(process.argv[3] || 1000), process.argv[4] || undefined, Number(process.argv[5] || 200)];
let started = 0;
let pending = 0;
let joined = 0;
const sockets = [];

function openMore() {
  while (pending < concurrency && started < N) {
    started++;
    pending++;
    const s = io(url + '/leaderboard', { transports: ['websocket'], forceNew: true, reconnection: false,
                                         auth: token ? { token } : undefined });
    s.on('connect', () => s.emit('join:tv-display'));
    s.once('joined', () => {
      pending--;
      if (++joined === N) console.log('joined', N);
      openMore();
    });
    s.on('connect_error', (e) => { console.log('failed', e.message); process.exit(1); });
    sockets.push(s);
  }
}
openMore();
