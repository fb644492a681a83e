// Fastify 5 side of bench/web_framework_bench.sh: the app of bench/framework_app_bench.cpp. 50 GET routes
// (GET /json the 26th), @fastify/cors with an origin allow-list, and an access log to a file: Fastify's
// own logger (pino, asynchronous destination), one line per request (onResponse) like morgan and waitless,
// rather than its default two (incoming / completed).
//   node fastify_app.js PORT LOGFILE      (fastify, @fastify/cors from scripts/deps.sh WITH_NPM=1)
const fs = require('fs');
const pino = require('pino');
const [port, logFile] = [+process.argv[2], process.argv[3]];
fs.writeFileSync(logFile, '');  // a fresh log per run
const fastify = require('fastify')({
  loggerInstance: pino(pino.destination({dest: logFile, sync: false})),
  disableRequestLogging: true,
});
fastify.addHook('onResponse', (request, reply, done) => {
  request.log.info({method: request.method, url: request.url, statusCode: reply.statusCode,
                    responseTime: reply.elapsedTime, userAgent: request.headers['user-agent']}, 'request');
  done();
});
fastify.register(require('@fastify/cors'), {origin: ['https://app.example.com']});
for (let i = 0; i < 50; i++) {
  if (i === 25) {
    fastify.get('/json', (request, reply) => { reply.send({message: 'Hello, World!'}); });
  } else if (i % 2 === 0) {
    fastify.get(`/api/v1/resource${i}/:id`, (request, reply) => { reply.send({resource: i, id: +request.params.id}); });
  } else {
    fastify.get(`/api/v1/resource${i}`, (request, reply) => { reply.send({resource: i}); });
  }
}
fastify.listen({port, host: '127.0.0.1'});
