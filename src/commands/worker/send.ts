// `worker send --cycle C`: the cycle's feed onto Glassbeam's SFTP server under <cycle>/, each file under a
// .part name renamed once complete and its size checked, the manifest last; each file recorded. Files
// already sent with the same content are not sent again, so a retry after a crash finishes the rest.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { requireSettings } from '../../config/load.js';
import { failedError } from '../../errors.js';
import { listFeedFiles, recordFeedFile } from '../../state/cycles.js';
import type { StepOutcome } from '../../state/steps.js';
import type { CycleStepContext } from '../../worker/runtime.js';
import { hostKeyPin, openTransport } from '../../transport/location.js';
import { withRetry } from '../../transport/retry.js';
import { feedDir } from './feed.js';

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export async function sendStep(context: CycleStepContext): Promise<StepOutcome> {
  requireSettings(context.loaded, ['glassbeam.url', 'glassbeam.key_file'], '`worker send`');
  const { config } = context.loaded;
  const dir = feedDir(config, context.cycle);
  const names = await readdir(dir).catch(() => {
    throw failedError(`the feed of ${context.cycle} is not in ${dir}`, `run \`ganymede worker feed --cycle ${context.cycle}\` first`);
  });
  // The manifest goes last: a reader that sees it may trust every file it lists to be there.
  const ordered = [...names.filter((name) => name !== 'manifest.json').sort(), 'manifest.json'];
  const sent = new Map((await listFeedFiles(context.db, context.cycleStart)).map((file) => [file.name, file]));
  const transport = withRetry(await openTransport(config.glassbeam.url!, { privateKey: config.glassbeam.key_file, ...hostKeyPin(config.glassbeam.host_key) }), {
    onRetry: (line) => context.log.warn(line),
  });
  let bytes = 0;
  let files = 0;
  try {
    for (const name of ordered) {
      const path = join(dir, name);
      const size = (await stat(path)).size;
      const sha256 = await sha256Of(path);
      if (!context.force && sent.get(name)?.sha256 === sha256) continue;
      const remotePath = `${context.cycle}/${name}`;
      await transport.put(remotePath, () => createReadStream(path, { highWaterMark: 1024 * 1024 }), { expectedSize: size });
      await recordFeedFile(context.db, context.cycleStart, { name, size, sha256, remotePath });
      context.log.info(`sent ${remotePath} (${size} bytes) to ${transport.describe()}`);
      bytes += size;
      files++;
    }
  } finally {
    await transport.close();
  }
  await context.event({ phase: 'send', bytes, message: `${files} files to ${transport.describe()}` });
  return { rows: files, bytes };
}
