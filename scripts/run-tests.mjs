#!/usr/bin/env node
// The one test command behind `npm test`: every test/**/*.test.ts through node:test with tsx.
// Node 20's --test cannot glob TypeScript files itself, so we list them here. --test-force-exit: a test
// file that leaks a handle (a pool left open by a failed assertion) must not hang the whole suite.
// Three files at a time on two cores: most of a file's time is spent waiting on the servers and the CLI
// processes it starts, and the suite has to fit CI's 30 minutes.
// Usage: node scripts/run-tests.mjs [substring …]  — only files whose path contains one of the substrings.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(relative(root, path));
  }
  return found;
}

const concurrency = 3;
const files = findTests(join(root, 'test')).filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)));
if (files.length === 0) {
  console.error(`run-tests: no test file matches ${filters.join(', ') || 'test/**/*.test.ts'}`);
  process.exit(2);
}
const spansDir = mkdtempSync(join(tmpdir(), 'test-spans-'));
const spansFile = join(spansDir, 'spans.json');
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--import', './scripts/test-file-clock.mjs', '--test', `--test-concurrency=${concurrency}`, '--test-force-exit', '--test-timeout=600000', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, TEST_FILE_SPANS: spansFile, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR } },
);
printSlowest();
process.exit(result.status ?? 1);

/** The files that took longest, and the CPU each used with the processes it started (test-file-clock.mjs). */
function printSlowest() {
  let lines;
  try {
    lines = readFileSync(spansFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    return;
  } finally {
    rmSync(spansDir, { recursive: true, force: true });
  }
  if (lines.length < 2) return;
  const seconds = (ms) => (ms / 1000).toFixed(1).padStart(7);
  const cpu = lines.reduce((sum, line) => sum + line.ownMs + line.childrenMs, 0);
  console.log(`\nslowest test files of ${lines.length}, ${concurrency} at a time (wall, CPU of the file, CPU of what it started); CPU in all ${seconds(cpu)} s:`);
  for (const line of lines.sort((a, b) => b.wallMs - a.wallMs).slice(0, 15)) {
    console.log(`${seconds(line.wallMs)} s ${seconds(line.ownMs)} s ${seconds(line.childrenMs)} s  ${relative(root, line.file)}`);
  }
}
