// Differential peer for tests/adversarial: Node's own `http` server, default (non-lenient) parser.
// Answers every request 200 "ok" after reading the whole body, so body framing is exercised.
// Usage: node node_server.js PORT  (listens on 127.0.0.1 only; prints "listening PORT" when ready)
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node node_server.js PORT');
  process.exit(2);
}

const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': '2'});
    res.end('ok');
  });
  req.on('error', () => res.destroy());
});
// Keep the defaults that matter for parsing (insecureHTTPParser false, requireHostHeader true,
// maxHeaderSize 16 KiB); only stop idle keep-alive connections from outliving the test.
server.keepAliveTimeout = 5000;
// No 'clientError' listener: Node's default handler (400/431/413 + close) is the behaviour compared.
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
