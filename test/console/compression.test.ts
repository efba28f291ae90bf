// The console's pages go out compressed to a client that takes it, as a browser does over a slow link: the
// 200-GEO grid is a megabyte of HTML and some tens of KB on the wire. Asked of a real `ganymede api` over a
// real Ganymede database, with the raw bytes read off the socket (no client that decodes on its own).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { chooseContentCoding } from '../../src/console/reply.js';
import { addGeo } from '../api/support.js';
import { ConsoleBrowser } from '../support/console.js';
import { startTestApi, type TestApi } from '../support/ganymede.js';

let api: TestApi;
let admin: ConsoleBrowser;

before(async () => {
  api = await startTestApi();
  // Enough GEOs that the grid is worth compressing (48 hours each).
  for (const name of ['amer', 'apac', 'emea', 'india']) await addGeo(api.url, api.adminToken, name);
  admin = new ConsoleBrowser(api.url);
  assert.equal((await admin.signIn(api.adminToken)).status, 303);
});
after(async () => {
  await api?.stop();
});

/** GET with the session's cookie and this Accept-Encoding; the body as the bytes that came over the wire. */
function getRaw(path: string, acceptEncoding: string | undefined): Promise<{ status: number; headers: Record<string, unknown>; bytes: Buffer }> {
  const headers: Record<string, string> = { cookie: [...admin.cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  if (acceptEncoding !== undefined) headers['accept-encoding'] = acceptEncoding;
  return new Promise((resolve, reject) => {
    request(new URL(path, api.url), { headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, bytes: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

test("the grid goes out as brotli to a browser that takes it, gzip to a client that takes only gzip, as it is to one that says nothing", async () => {
  const plain = await getRaw('/console', undefined);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.match(plain.bytes.toString('utf8'), /<table class=grid id=grid/);
  assert.equal(plain.headers.vary, 'Accept-Encoding', 'a cache keeps the codings apart');

  const decoders: Record<string, (bytes: Buffer) => Buffer> = { br: brotliDecompressSync, gzip: gunzipSync };
  for (const [accept, coding] of [
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip', 'gzip'],
    ['br;q=0, gzip', 'gzip'],
    ['identity', undefined],
  ] as const) {
    const reply = await getRaw('/console', accept);
    assert.equal(reply.status, 200, accept);
    assert.equal(reply.headers['content-encoding'], coding, accept);
    assert.equal(Number(reply.headers['content-length']), reply.bytes.length, `${accept}: the length of what was sent`);
    const html = (coding ? decoders[coding]!(reply.bytes) : reply.bytes).toString('utf8');
    assert.match(html, /<tr data-g="india"><th scope=row>india<\/th>/, `${accept}: the page itself`);
    assert.ok(html.endsWith('</html>\n'), `${accept}: all of it`);
    if (coding) assert.ok(reply.bytes.length * 4 < plain.bytes.length, `${accept}: ${reply.bytes.length} bytes for ${plain.bytes.length}`);
  }
});

test('the coding chosen from Accept-Encoding: brotli first, gzip next, never one refused with q=0', () => {
  assert.equal(chooseContentCoding('gzip, deflate, br, zstd'), 'br');
  assert.equal(chooseContentCoding('br'), 'br');
  assert.equal(chooseContentCoding('gzip'), 'gzip');
  assert.equal(chooseContentCoding('GZIP;q=0.5'), 'gzip');
  assert.equal(chooseContentCoding('br;q=0, gzip'), 'gzip');
  assert.equal(chooseContentCoding('br;q=0.2, gzip;q=0.8'), 'gzip');
  assert.equal(chooseContentCoding('*'), 'br');
  assert.equal(chooseContentCoding('*, br;q=0'), 'gzip');
  assert.equal(chooseContentCoding('gzip;q=0, br;q=0'), undefined);
  assert.equal(chooseContentCoding('identity'), undefined);
  assert.equal(chooseContentCoding(''), undefined);
  assert.equal(chooseContentCoding(undefined), undefined);
});
