import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createProgress } from '../../src/progress.js';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const stream = new Writable({ write(chunk, _encoding, done) { (stream as unknown as { text: string }).text += String(chunk); done(); } }) as unknown as NodeJS.WriteStream & { text: string };
  stream.text = '';
  Object.assign(stream, { isTTY, columns: 100 });
  return stream;
}

test('on a terminal a redrawn bar with percentage, rate and ETA; elsewhere plain time-stamped lines', async () => {
  const tty = fakeStream(true);
  const progress = createProgress({ label: 'extracting', total: 1000, unit: 'rows', stream: tty });
  await new Promise((resolve) => setTimeout(resolve, 250));
  progress.update(250, 'table accounts');
  assert.match(tty.text, /^\r\u001b\[2Kextracting: \[#####\.{15}\]  25% 250 rows, \d+ rows\/s ETA \d+:\d\d table accounts$/);
  progress.finish('done');
  assert.ok(tty.text.endsWith('\r\u001b[2Kdone\n'));

  const plain = fakeStream(false);
  const quiet = createProgress({ label: 'loading', unit: 'tables', stream: plain, plainEveryMs: 0 });
  await new Promise((resolve) => setTimeout(resolve, 5));
  quiet.update(3);
  assert.match(plain.text, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  loading: 3 tables, \d+ tables\/s\n$/);
  assert.ok(!plain.text.includes('\r'), 'no carriage returns in a cron mail');
});

test('off a terminal no line until work has lasted an interval, and then figures without a bar', async () => {
  const plain = fakeStream(false);
  const short = createProgress({ label: 'extracting', total: 100, unit: 'rows', stream: plain, plainEveryMs: 60 });
  short.update(0);
  short.update(50);
  short.finish();
  assert.equal(plain.text, '', 'work shorter than the interval leaves nothing in the log');

  const long = createProgress({ label: 'extracting', total: 100, unit: 'rows', stream: plain, plainEveryMs: 60 });
  long.update(0);
  await new Promise((resolve) => setTimeout(resolve, 80));
  long.update(40);
  assert.match(plain.text, /^\S+ INFO  extracting: 40% 40 rows, \d+ rows\/s ETA \d+:\d\d\n$/);
  assert.ok(!plain.text.includes('['), 'no bar in a log');
});
