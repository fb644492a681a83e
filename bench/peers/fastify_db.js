// Fastify 5 + `pg` peer of bench/db_http_bench.sh (both installed by scripts/deps.sh WITH_NPM=1): the same
// routes as `db_http_bench serve`. /queries runs its N queries with Promise.all over the pool (pg runs one
// query per connection at a time), each a named prepared statement.
'use strict';
const fastify = require('fastify')({ logger: false });
const { Pool } = require('pg');
const port = +process.argv[2] || 8084;
const pool = new Pool({ connectionString: process.env.WAITLESS_PG_URL, max: 32 });
const query = { name: 'world', text: 'SELECT id, randomnumber FROM world WHERE id = $1' };
const randomId = () => 1 + Math.floor(Math.random() * 10000);
async function world() {
  const r = await pool.query({ ...query, values: [randomId()] });
  const row = r.rows[0];
  return { id: row.id, randomNumber: row.randomnumber };
}
fastify.get('/plaintext', (req, reply) => { reply.type('text/plain').send('Hello, World!'); });
fastify.get('/db', async () => world());
fastify.get('/queries', async (req) => {
  const n = Math.min(500, Math.max(1, parseInt(req.query.n ?? req.query.queries, 10) || 1));
  return Promise.all(Array.from({ length: n }, world));
});
fastify.listen({ port, host: '127.0.0.1' });
