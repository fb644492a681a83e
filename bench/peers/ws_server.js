// Node `ws` peer of bench/websocket_bench.sh: the same routes as `websocket_bench serve`.
//   GET /  -> "Hello, World!" (the peer check);  /echo echoes;  /room joins the room;
//   /pub   -> each message is sent to every member of the room (ws frames it for each send, as an
//             application iterating over its clients does; no permessage-deflate, as the waitless side).
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');
const port = +process.argv[2] || 8080;
const room = new Set();
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('Hello, World!');
});
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws, req) => {
  if (req.url === '/echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else if (req.url === '/room') {
    room.add(ws);
    ws.on('close', () => room.delete(ws));
  } else if (req.url === '/pub') {
    ws.on('message', (data, isBinary) => {
      for (const member of room) member.send(data, { binary: isBinary });
    });
  } else {
    ws.close(1008, 'unknown route');
  }
});
server.listen(port, '127.0.0.1');
