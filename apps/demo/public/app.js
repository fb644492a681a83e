// The live dashboard: reads /events (one "stats" sample a second, from the server's counters), keeps the
// last 120 seconds and draws each series on a canvas; the buttons fire the demo's scenarios against the
// real API and log what came back. No framework, no build step.
'use strict';

const WINDOW = 120;  // seconds kept on the charts
const samples = [];
window.demo = { samples, scenarios: [] };  // read by the headless-browser test

const COLORS = ['#2563eb', '#dc2626', '#059669'];

function drawChart(id, series, opts = {}) {
  const canvas = document.getElementById(id);
  const ctx = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height, left = 44, bottom = 18, top = 8, right = 8;
  ctx.clearRect(0, 0, w, h);
  let max = opts.min || 1;
  for (const s of series) for (const v of s) if (v > max) max = v;
  max = niceCeil(max);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#5b6478';
  ctx.strokeStyle = '#e3e7ef';
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + (h - top - bottom) * (1 - i / 4);
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w - right, y); ctx.stroke();
    ctx.fillText(fmt(max * i / 4), 2, y + 4);
  }
  ctx.fillText(`-${WINDOW}s`, left, h - 4);
  ctx.fillText('now', w - right - 22, h - 4);
  const step = (w - left - right) / (WINDOW - 1);
  series.forEach((s, k) => {
    ctx.strokeStyle = COLORS[k];
    ctx.lineWidth = 2;
    ctx.beginPath();
    const offset = WINDOW - s.length;
    s.forEach((v, i) => {
      const x = left + (offset + i) * step;
      const y = top + (h - top - bottom) * (1 - v / max);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
function fmt(v) {
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + 'k';
  if (v >= 10 || v === 0) return v.toFixed(0);
  return v.toFixed(v >= 1 ? 1 : 2);
}

function render() {
  const col = (k) => samples.map((s) => s[k]);
  drawChart('c-rps', [col('rps')]);
  drawChart('c-lat', [col('p50_ms'), col('p99_ms')]);
  drawChart('c-loop', [col('loop_lag_ms'), samples.map((s) => s.loop_utilization * 100)]);
  drawChart('c-pool', [col('cpu_queue'), col('cpu_busy')], { min: 2 });
  drawChart('c-conn', [col('connections'), col('websockets'), col('sse_clients')], { min: 2 });
  const s = samples[samples.length - 1];
  if (!s) return;
  document.getElementById('n-rps').textContent = fmt(s.rps);
  document.getElementById('n-lat').textContent = `${s.p50_ms.toFixed(2)} / ${s.p99_ms.toFixed(2)} ms`;
  document.getElementById('n-lag').textContent = `${s.loop_lag_ms.toFixed(1)} ms`;
  document.getElementById('n-elu').textContent = `${(s.loop_utilization * 100).toFixed(1)} %`;
  document.getElementById('n-cpu').textContent = `${s.cpu_queue} / ${s.cpu_busy} of ${s.cpu_threads}`;
  document.getElementById('n-conn').textContent = `${s.connections} / ${s.websockets} / ${s.sse_clients}`;
}

function connect() {
  const status = document.getElementById('status');
  const es = new EventSource('/events');
  es.addEventListener('open', () => { status.textContent = 'live'; status.className = 'status on'; });
  es.addEventListener('error', () => { status.textContent = 'reconnecting…'; status.className = 'status off'; });
  es.addEventListener('stats', (e) => {
    samples.push(JSON.parse(e.data));
    while (samples.length > WINDOW) samples.shift();
    render();
  });
}

function log(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  const ol = document.getElementById('log');
  ol.insertBefore(li, ol.firstChild);
  window.demo.scenarios.push(text);
}

async function timed(fn) {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

async function burst() {
  const n = 200;
  const [results, ms] = await timed(() => Promise.all(Array.from({ length: n }, (_, i) =>
    fetch(`/api/dashboard/${1 + (i % 200)}`).then((r) => r.status).catch(() => 0))));
  const ok = results.filter((s) => s === 200).length;
  log(`burst: ${ok}/${n} dashboard calls answered 200 in ${ms.toFixed(0)} ms`);
}

async function cpuJob() {
  const n = 8;
  const [results, ms] = await timed(() => Promise.all(Array.from({ length: n }, () =>
    fetch('/api/hash', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ password: 'correct horse battery staple' }) })
      .then((r) => r.json()).catch(() => null))));
  const ok = results.filter((r) => r && r.key);
  const cpu = ok.reduce((a, r) => a + r.cpu_ms, 0);
  log(`cpu job: ${ok.length}/${n} PBKDF2 hashes in ${ms.toFixed(0)} ms (${cpu.toFixed(0)} ms of CPU on the pool)`);
}

async function broadcast() {
  const r = await fetch('/api/broadcast', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text: `hello from the dashboard at ${new Date().toLocaleTimeString()}` }) });
  const body = await r.json();
  log(`broadcast: delivered to ${body.delivered} chat client(s)`);
}

async function service(mode) {
  const r = await fetch(`/api/services/recommendations/${mode}`, { method: 'POST' });
  const g = await (await fetch('/api/gateway/1')).json();
  log(`recommendations service ${mode} (${r.status}); gateway now degraded: [${g.degraded.join(', ')}]`);
}

function button(id, fn) {
  const b = document.getElementById(id);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await fn(); } catch (e) { log(`${id} failed: ${e}`); }
    b.disabled = false;
  });
}

button('burst', burst);
button('cpu', cpuJob);
button('broadcast', broadcast);
button('svc-down', () => service('down'));
button('svc-up', () => service('up'));
render();
connect();
