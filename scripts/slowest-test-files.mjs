// A node:test reporter that prints, after the run, the test files that took longest (from when the runner
// started each file to its last result), so that whoever keeps the suite under CI's 30 minutes sees where the
// time goes without timing files by hand. Used by scripts/run-tests.mjs beside the spec reporter.
const shown = 15;

export default async function* slowestTestFiles(source) {
  const spans = new Map();
  for await (const event of source) {
    const file = event.data?.file;
    if (!file) continue;
    const now = Date.now();
    const span = spans.get(file);
    if (event.type === 'test:dequeue' && event.data.name === file) spans.set(file, { start: now, end: now });
    else if (span) span.end = now;
  }
  const root = new URL('..', import.meta.url).pathname;
  const slowest = [...spans].map(([file, { start, end }]) => ({ file: file.startsWith(root) ? file.slice(root.length) : file, ms: end - start })).sort((a, b) => b.ms - a.ms);
  if (slowest.length < 2) return;
  yield `\nslowest test files (wall time, files run side by side):\n`;
  for (const { file, ms } of slowest.slice(0, shown)) yield `${(ms / 1000).toFixed(1).padStart(7)} s  ${file}\n`;
  yield `${(slowest.reduce((sum, { ms }) => sum + ms, 0) / 1000).toFixed(0).padStart(7)} s  in all ${slowest.length} files\n`;
}
