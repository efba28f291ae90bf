// The rig's browser is a real Chromium that runs a page's scripts under its CSP, cannot reach past this
// machine, and reports what went wrong on the page: what the console tests will rely on.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { screenshot, startBrowser, type BrowserRig } from '../support/browser.js';
import { waitFor } from '../support/wait.js';

// Images and sockets to elsewhere are allowed by the CSP, so it is the rig that stops them; scripts are
// 'self' only, so the inline one is refused by Chromium.
const csp = [
  "default-src 'self'",
  "script-src 'self'",
  "img-src 'self' data: http://example.invalid http://192.0.2.1",
  "connect-src 'self' ws://192.0.2.1",
].join('; ');

const pages: Record<string, { type: string; body: string }> = {
  '/': {
    type: 'text/html; charset=utf-8',
    body: `<!doctype html><html><head><title>rig</title><link rel="icon" href="data:,"></head><body>
<h1>Ganymede browser rig</h1><p id="status">not run</p>
<img src="http://example.invalid/pixel.png" alt=""><img src="http://192.0.2.1/pixel.png" alt="">
<script src="/app.js"></script>
<script>document.getElementById('status').textContent = 'inline ran';</script>
</body></html>`,
  },
  '/app.js': {
    type: 'text/javascript',
    body: `document.getElementById('status').textContent = 'script ran';
new WebSocket('ws://192.0.2.1/live');`,
  },
  '/clean': {
    type: 'text/html; charset=utf-8',
    body: `<!doctype html><html><head><title>clean</title><link rel="icon" href="data:,"></head><body>
<p id="status">not run</p><script src="/clean.js"></script></body></html>`,
  },
  '/clean.js': { type: 'text/javascript', body: `document.getElementById('status').textContent = 'clean ran';` },
};

describe('test rig: browser', () => {
  const requested: string[] = [];
  let server: http.Server;
  let base: string;
  let rig: BrowserRig;

  before(async () => {
    server = http.createServer((request, response) => {
      requested.push(request.url ?? '');
      const page = pages[request.url ?? ''];
      if (!page) return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': page.type, 'content-security-policy': csp }).end(page.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    rig = await startBrowser();
  });

  after(async () => {
    await rig?.close();
    server?.close();
  });

  it('runs the page’s own script, blocks everything off this machine, and reports the CSP violation', async () => {
    const page = await rig.newPage();
    await page.goto(`${base}/`);
    assert.equal(await page.locator('#status').textContent(), 'script ran', 'the external script ran, the inline one did not');

    const blocked = await waitFor('the rig to block the WebSocket', () => {
      const urls = rig.problems(page, 'blocked-request').map((problem) => problem.text);
      return urls.some((url) => url.startsWith('ws://')) && urls;
    }, 10_000);
    assert.deepEqual([...blocked].sort(), ['http://192.0.2.1/pixel.png', 'http://example.invalid/pixel.png', 'ws://192.0.2.1/live']);
    assert.deepEqual(requested, ['/', '/app.js'], 'the local server saw the page and its script, nothing else');

    assert.deepEqual(
      rig.problems(page, 'csp-violation').map((problem) => problem.text),
      ['script-src-elem blocked inline'],
    );
    assert.ok(
      rig.problems(page, 'console-error').some((problem) => problem.text.includes('Content Security Policy')),
      'Chromium’s own console line about the refused inline script is collected too',
    );

    const file = await screenshot(page, 'rig page');
    assert.match(file, /test-output\/screenshots\/browser\/rig-page\.png$/);
    const png = await readFile(file);
    assert.ok(png.length > 1000, `the screenshot has ${png.length} bytes`);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  });

  it('reports nothing for a page that stays local and follows its CSP', async () => {
    const page = await rig.newPage();
    await page.goto(`${base}/clean`);
    assert.equal(await page.locator('#status').textContent(), 'clean ran');
    assert.deepEqual(rig.problems(page), []);
    await screenshot(page, 'clean page');
  });

  it('says in one line how to install Chromium when it is missing', async () => {
    await assert.rejects(startBrowser({ executablePath: '/nonexistent/chromium' }), {
      message: 'test rig: Chromium is missing (/nonexistent/chromium); install it: sudo scripts/install-system-deps.sh',
    });
  });
});
