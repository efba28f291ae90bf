// A node:test reporter that records when each test file started and gave its last result, for
// scripts/run-tests.mjs to print the slowest files after the run: where the suite's time goes, to keep it under
// CI's 30 minutes. It writes the file named by TEST_FILE_SPANS as it goes, because --test-force-exit ends the
// process before a reporter's output at the end of the stream would be written.
import { writeFileSync } from 'node:fs';

export default async function* testFileSpans(source) {
  const spans = {};
  const out = process.env.TEST_FILE_SPANS;
  for await (const event of source) {
    const file = event.data?.file;
    if (!file || !out) continue;
    if (event.type === 'test:dequeue' && event.data.name === file) spans[file] = [Date.now(), Date.now()];
    else if (spans[file] && (event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0) {
      spans[file][1] = Date.now();
      writeFileSync(out, JSON.stringify(spans));
    }
  }
}
