// A Node `ws` client through the proxy (tests/proxy_e2e.sh): text, binary and a 1 MiB message must come
// back intact from the echo upstream, then a close handshake with 1000 must complete.
// Usage: node ws_client.js URL [CA_FILE]   prints "ws ok ..." or "ws FAIL ..." (exit 1). A wss:// URL's
// certificate is verified against CA_FILE.
'use strict';
const WebSocket = require('ws');
const crypto = require('crypto');
const fs = require('fs');

const url = process.argv[2];
const big = crypto.randomBytes(1 << 20);
const sent = [
  { data: 'hello through the proxy', binary: false },
  { data: Buffer.from([0, 1, 2, 255, 254]), binary: true },
  { data: big, binary: true },
  { data: 'x'.repeat(70000), binary: false },
];
const fail = (why) => {
  console.log('ws FAIL ' + why);
  process.exit(1);
};
setTimeout(() => fail('timed out'), 20000).unref();

const options = { perMessageDeflate: false };
if (process.argv[3]) options.ca = fs.readFileSync(process.argv[3]);
const ws = new WebSocket(url, options);
let got = 0;
ws.on('open', () => {
  for (const m of sent) ws.send(m.data, { binary: m.binary });
});
ws.on('message', (data, isBinary) => {
  const want = sent[got];
  if (!want) return fail('an unexpected message');
  if (isBinary !== want.binary) return fail(`message ${got}: binary ${isBinary}`);
  const expected = Buffer.isBuffer(want.data) ? want.data : Buffer.from(want.data);
  if (!Buffer.from(data).equals(expected)) return fail(`message ${got}: ${data.length} bytes differ`);
  if (++got === sent.length) ws.close(1000, 'done');
});
ws.on('close', (code, reason) => {
  if (got !== sent.length) return fail(`closed after ${got} messages (${code})`);
  if (code !== 1000) return fail(`close code ${code} ${reason}`);
  console.log(`ws ok ${got} messages, ${big.length} bytes echoed, close ${code}`);
  process.exit(0);
});
ws.on('error', (e) => fail(e.message));
