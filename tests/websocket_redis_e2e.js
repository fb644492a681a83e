// Two waitless processes sharing the topic "room" through Redis (tests/websocket_redis_e2e.sh starts them):
// Node `ws` clients on both; one client on each process publishes a numbered series (its message is
// published to "room" by the server). Every client, on either process, must receive every message of
// both series exactly once, each series in order. Prints PASS/FAIL lines; exits non-zero on a failure.
// usage: node websocket_redis_e2e.js PORT_A PORT_B CLIENTS_PER_PROCESS MESSAGES
'use strict';
const WebSocket = require('ws');
const [portA, portB] = [Number(process.argv[2]), Number(process.argv[3])];
const perProcess = Number(process.argv[4] || 50);
const messages = Number(process.argv[5] || 200);

function openRoom(port) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/room`);
    ws.received = [];
    ws.once('error', reject);
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === 'welcome' && !ws.welcomed) { ws.welcomed = true; resolve(ws); return; }
      ws.received.push(text);
    });
  });
}

async function main() {
  const timer = setTimeout(() => { console.log('FAIL cross-process room: timed out after 30 s'); process.exit(1); }, 30000);
  const clients = [];
  for (const port of [portA, portB]) {
    for (let i = 0; i < perProcess; i++) clients.push(Object.assign(await openRoom(port), { port }));
  }
  const senderA = clients[0], senderB = clients[perProcess];
  const total = 2 * messages;
  for (let i = 0; i < messages; i++) { senderA.send(`A-${i}`); senderB.send(`B-${i}`); }
  while (clients.some((c) => c.received.length < total)) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));  // a duplicate would show up by now
  let bad = 0;
  for (const [k, c] of clients.entries()) {
    const a = c.received.filter((m) => m.startsWith('A-'));
    const b = c.received.filter((m) => m.startsWith('B-'));
    const inOrder = (list, tag) => list.length === messages && list.every((m, i) => m === `${tag}-${i}`);
    if (c.received.length !== total || !inOrder(a, 'A') || !inOrder(b, 'B')) {
      if (bad++ < 3) {
        console.log(`FAIL client ${k} on port ${c.port}: ${c.received.length} messages (want ${total}), ` +
          `A ${a.length} in order ${inOrder(a, 'A')}, B ${b.length} in order ${inOrder(b, 'B')}`);
      }
    }
  }
  clearTimeout(timer);
  for (const c of clients) c.close(1000);
  if (bad) {
    console.log(`FAIL cross-process room: ${bad} of ${clients.length} clients wrong`);
    process.exit(1);
  }
  console.log(`PASS cross-process room: ${clients.length} clients on 2 processes each got ${total} messages ` +
    'exactly once, each sender\'s in order');
}

main().catch((e) => { console.log(`FAIL cross-process room: ${e.message}`); process.exit(1); });
