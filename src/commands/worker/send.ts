// `worker send --cycle C`: the cycle's feed from the feed store onto Glassbeam's SFTP server under <cycle>/,
// each file under a .part name renamed once complete, the manifest last; each file recorded. Only the files
// the manifest names are sent, each checked against the manifest's size and sha256 as it streams through,
// so any central host sends byte for byte what any other built. Files already sent with the same content
// are not sent again, so a retry after a crash finishes the rest.
import { Readable } from 'node:stream';
import { requireSettings } from '../../config/load.js';
import { failedError } from '../../errors.js';
import { feedManifestName, openFeedStore, readFeedFile, readFeedManifest } from '../../feed/store.js';
import { listFeedFiles, recordFeedFile } from '../../state/cycles.js';
import type { StepOutcome } from '../../state/step-outcomes.js';
import type { CycleStepContext } from '../../worker/runtime.js';
import { hostKeyPin, openTransport } from '../../transport/location.js';
import { withRetry } from '../../transport/retry.js';
import type { PutSource } from '../../transport/transport.js';

export async function sendStep(context: CycleStepContext): Promise<StepOutcome> {
  requireSettings(context.loaded, ['glassbeam.url', 'glassbeam.key_file'], '`worker send`');
  const { config } = context.loaded;
  const store = await openFeedStore(context.loaded, context.log);
  try {
    const feed = await readFeedManifest(store, context.cycle);
    if (!feed) {
      throw failedError(`the feed of ${context.cycle} is not in ${store.describe()} (no ${context.cycle}/${feedManifestName})`, `run \`ganymede worker feed --cycle ${context.cycle}\` first`);
    }
    // The manifest goes last: a reader that sees it may trust every file it lists to be there.
    const ordered: Array<{ name: string; size: number; sha256: string; rows?: number; source: PutSource }> = [
      ...[...feed.manifest.files]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((file) => ({ name: file.name, size: file.bytes, sha256: file.sha256, rows: file.rows, source: () => readFeedFile(store, context.cycle, file, context.signal) })),
      { name: feedManifestName, size: feed.bytes.length, sha256: feed.sha256, source: () => Readable.from([feed.bytes]) },
    ];
    const sent = new Map((await listFeedFiles(context.db, context.cycleStart)).map((file) => [file.name, file]));
    const transport = withRetry(await openTransport(config.glassbeam.url!, { privateKey: config.glassbeam.key_file, ...hostKeyPin(config.glassbeam.host_key) }), {
      onRetry: (line) => context.log.warn(line),
    });
    let bytes = 0;
    let files = 0;
    try {
      for (const { name, size, sha256, rows, source } of ordered) {
        if (!context.force && sent.get(name)?.sha256 === sha256) continue;
        const remotePath = `${context.cycle}/${name}`;
        await transport.put(remotePath, source, { expectedSize: size });
        await recordFeedFile(context.db, context.cycleStart, { name, size, sha256, remotePath, rows });
        context.log.info(`sent ${remotePath} (${size} bytes) to ${transport.describe()}`);
        bytes += size;
        files++;
      }
    } finally {
      await transport.close();
    }
    await context.event({ phase: 'send', bytes, message: `${files} files to ${transport.describe()}` });
    return { rows: files, bytes };
  } finally {
    await store.close();
  }
}
