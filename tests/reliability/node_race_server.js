// Peer for tests/reliability/race.py: Node's `http` server answering "Hello, World!" on keep-alive
// connections, stopped the way Node documents a graceful shutdown: on SIGTERM, server.close() (stop
// accepting; since Node 19 it also closes idle connections) and server.closeIdleConnections(); the process
// exits once the last connection has closed.
// Usage: node node_race_server.js PORT   (listens on 127.0.0.1 only)
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node node_race_server.js PORT');
  process.exit(2);
}

const server = http.createServer((req, res) => {
  res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': '13'});
  res.end('Hello, World!');
});
server.keepAliveTimeout = 65000;  // as waitless and nginx: a keep-alive connection is not closed for idling
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
