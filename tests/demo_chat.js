// The chat round trip of tests/demo_e2e.sh: two Node `ws` clients join room "e2e" of `waitless demo`;
// one sends a message, the other must receive it (and the sender its own echo), then a broadcast from
// POST /api/broadcast must reach both. Prints PASS/FAIL lines; exits 1 on failure or after 10 s.
// Usage: node tests/demo_chat.js PORT
const WebSocket = require('ws');
const http = require('http');
const port = process.argv[2];
const base = `ws://127.0.0.1:${port}/ws/chat?room=e2e&name=`;
let failed = false;
const timer = setTimeout(() => { console.log('FAIL chat: timed out'); process.exit(1); }, 10000);

function open(name) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + name);
    ws.messages = [];
    ws.on('message', (m) => ws.messages.push(JSON.parse(m.toString())));
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}
function waitFor(ws, pred) {
  return new Promise((resolve) => {
    const check = () => {
      const m = ws.messages.find(pred);
      if (m) return resolve(m);
      setTimeout(check, 20);
    };
    check();
  });
}
function check(name, ok, detail) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok ? '' : ': ' + detail}`);
  if (!ok) failed = true;
}
function post(path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST',
      headers: { 'Content-Type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

(async () => {
  const alice = await open('alice');
  const bob = await open('bob');
  await waitFor(alice, (m) => m.type === 'join' && m.from === 'bob');
  alice.send(JSON.stringify({ text: 'hello from alice' }));
  const got = await waitFor(bob, (m) => m.type === 'message');
  check('chat message reaches the room', got.from === 'alice' && got.text === 'hello from alice' && got.room === 'e2e',
    JSON.stringify(got));
  const echo = await waitFor(alice, (m) => m.type === 'message');
  check('sender gets its own message', echo.text === 'hello from alice', JSON.stringify(echo));
  const r = await post('/api/broadcast', { text: 'maintenance at noon' });
  check('broadcast accepted', r.status === 200 && JSON.parse(r.body).delivered >= 2, `${r.status} ${r.body}`);
  const b1 = await waitFor(alice, (m) => m.type === 'broadcast');
  const b2 = await waitFor(bob, (m) => m.type === 'broadcast');
  check('broadcast reaches every client', b1.text === 'maintenance at noon' && b2.text === 'maintenance at noon',
    JSON.stringify([b1, b2]));
  alice.close();
  bob.close();
  clearTimeout(timer);
  setTimeout(() => process.exit(failed ? 1 : 0), 100);
})().catch((e) => { console.log('FAIL chat: ' + e.message); process.exit(1); });
