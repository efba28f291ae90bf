// `ganymede status` as a person sees it: rendered in an 80-column tmux pane, captured, and read back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ganymedeBin } from '../support/cli.js';
import { tempDir, testCentre } from '../support/ganymede.js';
import { mysqlUrlFor } from '../support/mysql.js';
import { openStateDb } from '../../src/state/db.js';
import { addGeo } from '../../src/state/geos.js';
import { closeTransaction, openTransaction } from '../../src/state/transactions.js';

const centre = await testCentre('tmux', { 'logging.level': 'error' });
const dir = tempDir('tmux');
const session = `gmd-${randomBytes(4).toString('hex')}`;
after(async () => {
  try {
    execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  dir.remove();
  await centre.dispose();
});

test('status fits an 80-column pane for 10 GEOs and reads right: matrix, legend, failures with their reason', async () => {
  const db = await openStateDb(centre.loaded);
  const now = Date.now();
  const hour = now - (now % 3_600_000);
  for (let i = 0; i < 10; i++) {
    const geo = (await addGeo(db, { name: `geo-${String(i).padStart(2, '0')}-long`, publicKey: 'k', keyFingerprint: 'F'.repeat(40) }))!.geo;
    for (let h = 1; h <= 3; h++) {
      const opened = await openTransaction(db, geo.id, new Date(hour - h * 3_600_000));
      if (opened.kind !== 'opened') throw new Error('open failed');
      await closeTransaction(db, opened.txn.id, { name: 'f.gpg', size: 1, sha256: '0'.repeat(64) });
      const state = i === 3 && h === 1 ? 'failed' : 'done';
      await db.query('UPDATE transactions SET state = ?, error = ? WHERE id = ?', [state, state === 'failed' ? 'load failed 5 times; last: the scratch MySQL went away' : null, opened.txn.id]);
    }
  }
  await db.end();
  const script = join(dir.path, 'status.sh');
  writeFileSync(script, `#!/bin/sh\nGANYMEDE_MYSQL_URL='${mysqlUrlFor(centre.database)}' NO_COLOR=1 '${process.execPath}' '${ganymedeBin}' status\necho END-OF-STATUS\nsleep 30\n`, { mode: 0o700 });
  execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '80', '-y', '50', script]);
  let screen = '';
  for (let tries = 0; tries < 100 && !screen.includes('END-OF-STATUS'); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    screen = execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
  }
  const lines = screen.split('\n');
  assert.ok(lines.every((line) => line.length <= 80), 'nothing is wider than the pane');
  const rows = lines.filter((line) => /^geo-\d\d-long /.test(line));
  assert.equal(rows.length, 10, `each GEO on one line:\n${screen}`);
  // 24 hours, the last 3 before the current hour done (#), except geo-03's latest, which failed (x).
  const cells = (line: string) => line.slice(line.indexOf('  ') + 2).trim().split(' ');
  // The current hour is "not due yet" (-) before its deadline and "missing" (.) after it.
  assert.deepEqual(cells(rows[0]!).slice(-4, -1), ['#', '#', '#']);
  assert.deepEqual(cells(rows[3]!).slice(-4, -1), ['#', '#', 'x']);
  assert.match(cells(rows[0]!).at(-1)!, /^[-.]$/);
  // Every hour is labelled: its two digits stacked above its own cell.
  const tens = lines[lines.findIndex((line) => line.startsWith('UTC hours ')) + 1]!;
  const units = lines[lines.indexOf(tens) + 1]!;
  const column = rows[0]!.indexOf('  ') + 2;
  const labels = status24(tens, units, column);
  const expected = Array.from({ length: 24 }, (_, i) => String(new Date(hour - (23 - i) * 3_600_000).getUTCHours()).padStart(2, '0'));
  assert.deepEqual(labels, expected, `every hour labelled above its cell:\n${tens}\n${units}`);
  assert.match(screen, /legend: # done/);
  assert.match(screen, /failed or retrying:/);
  assert.match(screen, /geo-03-long .* failed/);
  assert.match(screen, /load failed 5 times; last: the scratch MySQL went away/);

  const json = execFileSync(process.execPath, [ganymedeBin, 'status', '--json'], { env: { ...process.env, GANYMEDE_MYSQL_URL: mysqlUrlFor(centre.database) }, encoding: 'utf8' });
  const status = JSON.parse(json) as { hours: string[]; geos: Array<{ name: string; cells: Array<{ state: string; txnId: number | null }> }>; failed: Array<{ geo: string; state: string; error: string }>; running: unknown[] };
  assert.equal(status.hours.length, 24);
  assert.equal(status.geos.length, 10);
  assert.deepEqual(status.geos[3]!.cells.slice(-4, -1).map((cell) => cell.state), ['done', 'done', 'failed'], 'the same picture for scripts');
  assert.deepEqual(status.failed.map((row) => [row.geo, row.state]), [['geo-03-long', 'failed']]);
  assert.deepEqual(status.running, []);
});

/** The hour labels of the status header: the digit above each cell (cells at column, column + 2, …). */
function status24(tens: string, units: string, column: number): string[] {
  return Array.from({ length: 24 }, (_, i) => `${tens[column + 2 * i]}${units[column + 2 * i]}`);
}
