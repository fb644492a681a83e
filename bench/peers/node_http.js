// Node.js `http` peer: the same two routes as `waitless hello`.
const http = require('http');
const port = +process.argv[2] || 8081;
const body = 'Hello, World!';
http.createServer((req, res) => {
  if (req.url === '/plaintext') {
    res.writeHead(200, {'Content-Type': 'text/plain', 'Server': 'node'});
    res.end(body);
  } else if (req.url === '/json') {
    res.writeHead(200, {'Content-Type': 'application/json', 'Server': 'node'});
    res.end(JSON.stringify({message: body}));
  } else {
    res.writeHead(404); res.end();
  }
}).listen(port, '127.0.0.1');
