// The dashboard of `waitless demo` in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core), for tests/demo_e2e.sh: the page loads, its charts receive live samples over SSE (at
// least three, with values from the server), the "burst" button fires 200 dashboard calls that all answer
// 200 and the next samples count them; a screenshot is kept. Prints PASS/FAIL lines; exit 1 on failure.
// Usage: node tests/demo_browser.js URL SCREENSHOT.png
const { chromium } = require('playwright-core');
const [url, shot] = process.argv.slice(2);
let failed = false;
function check(name, ok, detail) {
  console.log(`${ok ? 'PASS' : 'FAIL'} browser: ${name}${ok ? '' : ': ' + detail}`);
  if (!ok) failed = true;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url, { waitUntil: 'load', timeout: 10000 });
    await page.waitForFunction(() => window.demo && window.demo.samples.length >= 3, null, { timeout: 8000 });
    const first = await page.evaluate(() => window.demo.samples.slice());
    check('live samples arrive over SSE', first.length >= 3, `${first.length} samples`);
    const last = first[first.length - 1];
    check('samples carry server counters',
      first.every((s) => typeof s.rps === 'number' && s.cpu_threads >= 1) && last.sse_clients >= 1 &&
      last.connections >= 1 && last.requests_total > 0, JSON.stringify(last));
    const status = await page.textContent('#status');
    check('feed status says live', status === 'live', status);
    const rps = await page.textContent('#n-rps');
    check('numbers are filled in', rps !== '–', rps);
    // The charts are drawn: some pixels of the requests/s canvas are not blank.
    const drawn = await page.evaluate(() => {
      const c = document.getElementById('c-rps');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
      return n;
    });
    check('charts are drawn', drawn > 500, `${drawn} painted pixels`);
    const before = first[first.length - 1].requests_total;
    await page.click('#burst');
    await page.waitForFunction(() => window.demo.scenarios.some((s) => s.startsWith('burst:')), null, { timeout: 15000 });
    const log = await page.evaluate(() => window.demo.scenarios.find((s) => s.startsWith('burst:')));
    check('burst button fires 200 dashboard calls', /burst: 200\/200 dashboard calls answered 200/.test(log), log);
    await page.waitForFunction((b) => {
      const s = window.demo.samples;
      return s.length && s[s.length - 1].requests_total >= b + 200;
    }, before, { timeout: 5000 });
    const after = await page.evaluate(() => window.demo.samples[window.demo.samples.length - 1]);
    check('the feed counts the burst', after.requests_total >= before + 200, `${before} -> ${after.requests_total}`);
    check('no script errors', errors.length === 0, errors.join('; '));
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.log(`FAIL browser: ${e.message}`); process.exit(1); });
