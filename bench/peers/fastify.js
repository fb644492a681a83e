// Fastify 5 peer (installed by scripts/deps.sh into $WAITLESS_PEERS, outside the repo).
const fastify = require('fastify')({logger: false});
const port = +process.argv[2] || 8083;
fastify.get('/plaintext', (req, reply) => { reply.type('text/plain').send('Hello, World!'); });
fastify.get('/json', (req, reply) => { reply.send({message: 'Hello, World!'}); });
fastify.listen({port, host: '127.0.0.1'});
