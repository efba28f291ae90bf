// Loaded into every test file's process by scripts/run-tests.mjs (--import): at exit it appends the file's wall
// time and the CPU it and its children (the CLI processes and servers it started and waited for) used, to the
// file named by TEST_FILE_SPANS. The runner reports files in order, so a reporter cannot time them; and on two
// shared cores, CPU is what the suite's 30 minutes are made of.
import { appendFileSync, readFileSync } from 'node:fs';

const file = process.argv[1];
const out = process.env.TEST_FILE_SPANS;
if (out && file?.endsWith('.test.ts')) {
  process.on('exit', () => {
    try {
      // /proc/self/stat fields 14-17: utime, stime, cutime, cstime, in clock ticks (100 a second on Linux).
      const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
      const ticks = (index) => Number(fields[index - 3]);
      const ownMs = (ticks(14) + ticks(15)) * 10;
      const childrenMs = (ticks(16) + ticks(17)) * 10;
      appendFileSync(out, `${JSON.stringify({ file, wallMs: Math.round(performance.now()), ownMs, childrenMs })}\n`);
    } catch {
      // timing is a diagnostic: never fail a test file over it
    }
  });
}
