// Express 5 side of bench/web_framework_bench.sh: the app of bench/framework_app_bench.cpp. 50 GET routes
// (GET /json the 26th), morgan's combined access log to a file, cors with an origin allow-list.
//   node express_app.js PORT LOGFILE      (express, morgan, cors from scripts/deps.sh WITH_NPM=1)
const fs = require('fs');
const express = require('express');
const morgan = require('morgan');
const cors = require('cors');
const [port, logFile] = [+process.argv[2], process.argv[3]];
const app = express();
app.use(morgan('combined', {stream: fs.createWriteStream(logFile)}));  // truncates: a fresh log per run
app.use(cors({origin: ['https://app.example.com']}));
for (let i = 0; i < 50; i++) {
  if (i === 25) {
    app.get('/json', (req, res) => res.json({message: 'Hello, World!'}));
  } else if (i % 2 === 0) {
    app.get(`/api/v1/resource${i}/:id`, (req, res) => res.json({resource: i, id: +req.params.id}));
  } else {
    app.get(`/api/v1/resource${i}`, (req, res) => res.json({resource: i}));
  }
}
app.listen(port, '127.0.0.1');
