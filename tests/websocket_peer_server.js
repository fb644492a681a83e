// Node's `ws` as an echo server for the waitless WebSocket client (tests/websocket_e2e.sh).
// usage: node websocket_peer_server.js   (prints "listening PORT")
'use strict';
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
wss.on('listening', () => console.log(`listening ${wss.address().port}`));
