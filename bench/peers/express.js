// Express 5 peer (installed by scripts/deps.sh into $WAITLESS_PEERS, outside the repo).
const express = require('express');
const port = +process.argv[2] || 8082;
const app = express();
app.get('/plaintext', (req, res) => res.type('text/plain').send('Hello, World!'));
app.get('/json', (req, res) => res.json({message: 'Hello, World!'}));
app.listen(port, '127.0.0.1');
