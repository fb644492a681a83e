// Node's `ws` as the real peer of the waitless WebSocket server (tests/websocket_e2e.sh starts both).
// Each case prints PASS/FAIL; the process exits non-zero if any failed. Every case has a time bound.
// usage: node websocket_e2e.js PORT ROOM_CLIENTS
'use strict';
const WebSocket = require('ws');
const port = Number(process.argv[2]);
const roomClients = Number(process.argv[3] || 1000);
const base = `ws://127.0.0.1:${port}`;
let failures = 0;

function pass(name, extra) { console.log(`PASS ${name}${extra ? ' (' + extra + ')' : ''}`); }
function fail(name, why) { console.log(`FAIL ${name}: ${why}`); failures++; }

function withTimeout(ms, what, promise) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

function open(path, options) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path, options);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// Collects the next n messages (as [data, isBinary]).
function nextMessages(ws, n) {
  return new Promise((resolve) => {
    const got = [];
    const on = (data, isBinary) => {
      got.push([data, isBinary]);
      if (got.length === n) { ws.off('message', on); resolve(got); }
    };
    ws.on('message', on);
  });
}

function closed(ws) { return new Promise((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()]))); }

async function echo() {
  const ws = await open('/echo');
  const msgs = [['hello', false], ['', false], [Buffer.alloc(70000, 7), true], ['h\u00e9llo \u20ac \ud83d\ude00', false], [Buffer.from([0, 255, 1]), true]];
  const p = nextMessages(ws, msgs.length);
  for (const [m, binary] of msgs) ws.send(m, { binary });
  const got = await p;
  for (let i = 0; i < msgs.length; i++) {
    const want = Buffer.from(msgs[i][0]);
    if (!got[i][0].equals(want) || got[i][1] !== msgs[i][1]) throw new Error(`message ${i} differs`);
  }
  const c = closed(ws);
  ws.close(1000, 'done');
  const [code] = await c;
  if (code !== 1000) throw new Error(`close code ${code}`);
}

async function fragmentation() {
  const ws = await open('/echo');
  const p = nextMessages(ws, 2);
  ws.send('frag', { fin: false });
  ws.ping('between');   // a control frame between fragments
  ws.send('men', { fin: false });
  ws.send('ted', { fin: true });
  ws.send(Buffer.alloc(1000, 1), { binary: true, fin: false });
  ws.send(Buffer.alloc(1000, 2), { binary: true, fin: true });
  const got = await p;
  if (got[0][0].toString() !== 'fragmented') throw new Error(`text: ${got[0][0]}`);
  if (got[1][0].length !== 2000 || got[1][0][0] !== 1 || got[1][0][1999] !== 2) throw new Error('binary fragments');
  ws.terminate();
}

async function pingPong() {
  const ws = await open('/echo');
  const pong = new Promise((resolve) => ws.once('pong', (d) => resolve(d.toString())));
  ws.ping('are you there');
  if ((await pong) !== 'are you there') throw new Error('pong payload');
  // The server's idle ping: answered automatically by ws (its pong keeps the connection open).
  const idle = await open('/idle');
  const ping = new Promise((resolve) => idle.once('ping', () => resolve()));
  await ping;
  ws.close(); idle.close();
}

async function idleClose() {
  // A peer that does not answer pings is closed with 1001.
  const ws = await open('/idle', { autoPong: false });
  const [code] = await closed(ws);
  if (code !== 1001) throw new Error(`close code ${code}`);
}

async function closeCodes() {
  for (const code of [1000, 1001, 1011, 4000, 4999]) {
    const ws = await open(`/close?${code}`);
    const [got, reason] = await closed(ws);
    if (got !== code || reason !== 'bye') throw new Error(`server close ${code}: got ${got} '${reason}'`);
  }
  // Client-initiated: our code comes back.
  const ws = await open('/echo');
  const c = closed(ws);
  ws.close(3456, 'client bye');
  const [code] = await c;
  if (code !== 3456) throw new Error(`echoed close ${code}`);
  // Invalid UTF-8 in a text frame: 1007 from the server.
  const bad = await open('/echo');
  const b = closed(bad);
  bad.send(Buffer.from([0x68, 0xff, 0x69]), { binary: false });
  const [badCode] = await b;
  if (badCode !== 1007) throw new Error(`invalid UTF-8: ${badCode}`);
}

async function deflate() {
  const ws = await open('/echo', { perMessageDeflate: { threshold: 0 } });
  if (!ws.extensions.includes('permessage-deflate')) throw new Error(`not negotiated: '${ws.extensions}'`);
  const text = Array.from({ length: 3000 }, (_, i) => `line ${i % 17} of a compressible text`).join('\n');
  const msgs = [text, 'tiny', Buffer.alloc(300000, 9), text.slice(0, 100)];
  const p = nextMessages(ws, msgs.length);
  for (const m of msgs) ws.send(m, { binary: Buffer.isBuffer(m) });
  const got = await p;
  for (let i = 0; i < msgs.length; i++) if (!got[i][0].equals(Buffer.from(msgs[i]))) throw new Error(`message ${i}`);
  // The server compressed its echo of the large text: the bytes received are far fewer than sent.
  const received = ws._socket.bytesRead;
  if (received > 200000) throw new Error(`server did not compress (${received} bytes read)`);
  ws.close();
  return `${received} bytes on the wire for ${text.length * 2 + 300104} of messages`;
}

async function room() {
  // Each client counts as joined once the server's "welcome" (sent after its subscription) arrived.
  // (The listener is attached before 'open': the welcome may arrive in the same segment as the 101.)
  const join = () => new Promise((resolve, reject) => {
    const ws = new WebSocket(base + '/room');
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
  });
  const clients = [];
  for (let i = 0; i < roomClients; i += 50) {
    const batch = [];
    for (let k = i; k < Math.min(roomClients, i + 50); k++) batch.push(join());
    clients.push(...await Promise.all(batch));
  }
  // One publisher (a member): every subscriber, whichever loop holds it, gets m0..m(N-1) in that order,
  // the publisher included.
  const N = 100;
  const received = clients.map((ws) => nextMessages(ws, N));
  const t0 = Date.now();
  for (let i = 0; i < N; i++) clients[0].send(`m${i}`);
  const all = await Promise.all(received);
  const ms = Date.now() - t0;
  for (const got of all) {
    for (let i = 0; i < N; i++) {
      if (got[i][0].toString() !== `m${i}`) throw new Error(`message ${i} is '${got[i][0]}'`);
    }
  }
  for (const ws of clients) ws.terminate();
  return `${roomClients} clients x ${N} messages in ${ms} ms`;
}

(async () => {
  const cases = [['echo', echo, 10000], ['fragmentation', fragmentation, 10000], ['ping/pong', pingPong, 10000],
                 ['idle close 1001', idleClose, 10000], ['close codes', closeCodes, 10000],
                 ['permessage-deflate (ws client <-> waitless server, both directions)', deflate, 10000],
                 [`room broadcast`, room, 40000]];
  for (const [name, fn, ms] of cases) {
    try { pass(name, await withTimeout(ms, name, fn())); } catch (e) { fail(name, e.message); }
  }
  process.exit(failures ? 1 : 0);
})();
