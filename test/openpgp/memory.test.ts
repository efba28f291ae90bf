// Memory, not time: seal and open must stream. A file of its own, so the process's peak RSS is this test's.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { openStream } from '../../src/openpgp/open.js';
import { sealStream } from '../../src/openpgp/seal.js';
import { hashingSink, makeParty, randomChunks } from './fixtures.js';

const payloadBytes = 384 * 1024 * 1024;
// Half the payload: buffering the message would grow RSS by at least the payload, streaming stays near 100-130 MB.
const maxGrowthBytes = 192 * 1024 * 1024;
const sampleEveryMs = 25;

test(`seal + open of ${payloadBytes >> 20} MB from a generator grows RSS by less than ${maxGrowthBytes >> 20} MB`, async () => {
  const [centre, geo] = await Promise.all([makeParty('Centre'), makeParty('GEO one')]);
  const sourceHash = createHash('sha256');
  async function* source() {
    for await (const chunk of randomChunks(payloadBytes)) {
      sourceHash.update(chunk);
      yield chunk;
    }
  }

  const baselineBytes = process.memoryUsage.rss();
  const maxRssBeforeBytes = process.resourceUsage().maxRSS * 1024;
  let sampledPeakBytes = baselineBytes;
  const sampler = setInterval(() => (sampledPeakBytes = Math.max(sampledPeakBytes, process.memoryUsage.rss())), sampleEveryMs);
  const opened = hashingSink();
  let verified: Promise<unknown> | undefined;
  try {
    await pipeline(
      source(),
      (plain) => sealStream(plain, { encryptionKeys: centre.publicKey, signingKey: geo.privateKey }),
      (sealed) => {
        const stream = openStream(sealed, { decryptionKeys: centre.privateKey, expectedSigningKeys: geo.publicKey });
        verified = stream.verified;
        return stream;
      },
      opened.sink,
    );
  } finally {
    clearInterval(sampler);
  }
  // maxRSS catches a peak between samples, but only counts if this test raised it above what came before.
  const maxRssAfterBytes = process.resourceUsage().maxRSS * 1024;
  const peakBytes = Math.max(sampledPeakBytes, maxRssAfterBytes > maxRssBeforeBytes ? maxRssAfterBytes : 0);
  const growthBytes = peakBytes - baselineBytes;

  assert.deepEqual(await verified, { signerFingerprint: geo.pair.fingerprint });
  assert.deepEqual(opened.result(), { sha256: sourceHash.digest('hex'), bytes: payloadBytes });
  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;
  console.log(`# memory: baseline ${mb(baselineBytes)}, peak ${mb(peakBytes)}, growth ${mb(growthBytes)} for ${mb(payloadBytes)}`);
  assert.ok(growthBytes < maxGrowthBytes, `RSS grew by ${mb(growthBytes)} (limit ${mb(maxGrowthBytes)})`);
});
