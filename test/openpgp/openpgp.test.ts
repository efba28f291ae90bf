import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { before, describe, test } from 'node:test';
import * as openpgp from 'openpgp';
import { fingerprintOf } from '../../src/openpgp/keys.js';
import { openStream, OpenPgpRefusal, type RefusalReason } from '../../src/openpgp/open.js';
import { sealStream } from '../../src/openpgp/seal.js';
import { chunksOf, hashingSink, makeParty, openAll, randomChunks, sha256, type TestParty } from './fixtures.js';

let centre: TestParty;
let geo: TestParty;
let otherGeo: TestParty;
let payload: Buffer;
let sealed: Buffer;

before(async () => {
  [centre, geo, otherGeo] = await Promise.all([
    makeParty('Centre', 'centre@example.test'),
    makeParty('GEO one'),
    makeParty('GEO two'),
  ]);
  payload = randomBytes(3 * 1024 * 1024 + 123);
  sealed = await buffer(sealStream(chunksOf(payload), { encryptionKeys: centre.publicKey, signingKey: geo.privateKey }));
});

const openOptions = () => ({ decryptionKeys: centre.privateKey, expectedSigningKeys: geo.publicKey, label: 'inbox/geo-1.pgp' });

async function assertRefused(bytes: Uint8Array, reason: RefusalReason, options = openOptions()): Promise<OpenPgpRefusal> {
  const outcome = await openAll(bytes, options);
  assert.ok(outcome.error instanceof OpenPgpRefusal, `expected a refusal (${reason}), got ${String(outcome.error ?? 'success')}`);
  assert.equal(outcome.error.reason, reason, outcome.error.message);
  assert.equal(outcome.ended, false, 'a refused stream must not end');
  assert.ok(outcome.error.message.startsWith(`${options.label}: `), outcome.error.message);
  assert.doesNotMatch(outcome.error.message, /\n/);
  return outcome.error;
}

describe('keys generated for GnuPG 2.2', () => {
  test('are v4 EdDSA with a cv25519 ECDH subkey and an upper-case fingerprint', () => {
    assert.match(geo.pair.fingerprint, /^[0-9A-F]{40}$/);
    assert.equal(fingerprintOf(geo.publicKey), geo.pair.fingerprint);
    assert.equal(geo.publicKey.keyPacket.version, 4);
    assert.deepEqual(geo.publicKey.getAlgorithmInfo(), { algorithm: 'eddsaLegacy', curve: 'ed25519Legacy' });
    assert.deepEqual(geo.publicKey.subkeys[0]?.getAlgorithmInfo(), { algorithm: 'ecdh', curve: 'curve25519Legacy' });
  });
});

describe('seal then open', () => {
  test('round-trips a multi-megabyte payload streamed from a generator, inside pipeline()', async () => {
    const totalBytes = 8 * 1024 * 1024 + 5;
    const source = hashingSink();
    const opened = hashingSink();
    let sealedBytes = 0;
    let verified: Promise<unknown> | undefined;
    await pipeline(
      randomChunks(totalBytes),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          source.sink.write(chunk);
          yield chunk;
        }
      },
      // The way the agent composes it: a function stage between the compressor and the file.
      (plain) => sealStream(plain, { encryptionKeys: centre.publicKey, signingKey: geo.privateKey }),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          sealedBytes += chunk.length;
          yield chunk;
        }
      },
      (sealedChunks) => {
        const stream = openStream(sealedChunks, { ...openOptions(), label: 'round-trip' });
        verified = stream.verified;
        return stream;
      },
      opened.sink,
    );
    assert.deepEqual(await verified, { signerFingerprint: geo.pair.fingerprint });
    const expected = source.result();
    assert.equal(expected.bytes, totalBytes);
    assert.deepEqual(opened.result(), expected);
    assert.ok(sealedBytes > totalBytes && sealedBytes < totalBytes + 4096, `sealed size ${sealedBytes}`);
  });

  test('writes SEIPDv1 with MDC and no compression layer, as GnuPG 2.2 reads', async () => {
    // The packet tags, not the bytes: PKESK (1) then SEIPD (18) version 1; no AEAD (20) anywhere.
    const message = await openpgp.readMessage({ binaryMessage: sealed });
    const tags = [...message.packets].map((packet) => (packet.constructor as unknown as { tag: number }).tag);
    assert.deepEqual(tags, [1, 18]);
    assert.equal((message.packets[1] as unknown as { version: number }).version, 1);
    const decrypted = await openpgp.decrypt({ message, decryptionKeys: centre.privateKey, format: 'binary' });
    assert.equal(sha256(decrypted.data as Uint8Array), sha256(payload));
    const inner = await openpgp.readMessage({ binaryMessage: sealed });
    const unwrapped = await inner.decrypt([centre.privateKey]);
    // One-pass signature first; a compression layer would show as a compressed data packet (8) here.
    assert.equal((unwrapped.packets[0]?.constructor as unknown as { tag: number }).tag, 4);
  });

  test('accepts a signature by any of several expected keys and names the one that signed', async () => {
    const outcome = await openAll(sealed, { ...openOptions(), expectedSigningKeys: [otherGeo.publicKey, geo.publicKey] });
    assert.equal(outcome.error, undefined);
    assert.equal(sha256(outcome.plaintext), sha256(payload));
    assert.deepEqual(outcome.verification, { signerFingerprint: geo.pair.fingerprint });
  });

  test('a failing source fails the sealed stream with its own error', async () => {
    async function* failing() {
      yield randomBytes(100_000);
      throw new Error('compressor died');
    }
    await assert.rejects(
      pipeline(sealStream(failing(), { encryptionKeys: centre.publicKey, signingKey: geo.privateKey }), hashingSink().sink),
      /compressor died/,
    );
  });

  test('a consumer that stops early gets no verification', async () => {
    const opened = openStream(chunksOf(sealed), openOptions());
    for await (const chunk of opened) {
      assert.ok(chunk.length > 0);
      break;
    }
    await assert.rejects(opened.verified, /closed before the end of the message.*; nothing was verified/);
  });
});

describe('open refuses', () => {
  test('a flipped byte in the middle: tampered', async () => {
    const bad = Buffer.from(sealed);
    bad[bad.length >> 1]! ^= 0x40;
    const refusal = await assertRefused(bad, 'tampered');
    assert.match(refusal.message, /integrity check failed/);
  });

  test('a file cut short anywhere: truncated', async () => {
    for (const cut of [10, 60, 100, 200, 64 * 1024 + 7, sealed.length >> 1, sealed.length - 100, sealed.length - 1]) {
      const refusal = await assertRefused(sealed.subarray(0, cut), 'truncated');
      assert.match(refusal.message, new RegExp(`after ${cut} bytes`));
    }
  });

  test('a message for another key: wrong-key, before decrypting anything', async () => {
    const refusal = await assertRefused(sealed, 'wrong-key', { ...openOptions(), decryptionKeys: otherGeo.privateKey });
    assert.match(refusal.message, new RegExp(`not to key ${otherGeo.pair.fingerprint}`));
  });

  test('an encrypted but unsigned message: unsigned', async () => {
    const unsigned = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: new Uint8Array(randomBytes(50_000)) }),
      encryptionKeys: centre.publicKey,
      format: 'binary',
    });
    const refusal = await assertRefused(unsigned, 'unsigned');
    assert.match(refusal.message, new RegExp(`signature by key ${geo.pair.fingerprint} is required`));
  });

  test("another GEO's signature: unexpected-signer, naming its fingerprint", async () => {
    const byOther = await buffer(sealStream(chunksOf(randomBytes(70_000)), { encryptionKeys: centre.publicKey, signingKey: otherGeo.privateKey }));
    const refusal = await assertRefused(byOther, 'unexpected-signer');
    assert.match(refusal.message, new RegExp(`signed by key ${otherGeo.pair.fingerprint}, not by the expected key ${geo.pair.fingerprint}`));
  });

  test("a signature by the expected key that does not match the data: bad-signature", async () => {
    // A valid MDC around a wrong signature: sign one text, put another after the signature packet.
    const signature = await openpgp.sign({
      message: await openpgp.createMessage({ binary: new TextEncoder().encode('what was signed') }),
      signingKeys: geo.privateKey,
      detached: true,
      format: 'object',
    });
    const swapped = await openpgp.createMessage({ binary: new TextEncoder().encode('what was sent instead') });
    const packets = new openpgp.PacketList<openpgp.AnyPacket>();
    packets.push(...signature.packets, ...swapped.packets);
    const forged = await openpgp.encrypt({ message: new openpgp.Message(packets), encryptionKeys: centre.publicKey, format: 'binary' });
    const refusal = await assertRefused(forged, 'bad-signature');
    assert.match(refusal.message, new RegExp(`bad signature by ${geo.pair.fingerprint}`));
  });

  test('random bytes, text and an empty file: not-openpgp', async () => {
    // Noise whose first octet has bit 7 clear, which no OpenPGP packet's has (RFC 4880 4.2): wholly random
    // bytes began as a valid packet header once in a suite run, and were rightly taken for an unencrypted message.
    const noise = randomBytes(200_000);
    noise[0] = noise[0]! & 0x7f;
    await assertRefused(noise, 'not-openpgp');
    await assertRefused(Buffer.from('-- MariaDB dump 10.19\nCREATE TABLE t (id int);\n'.repeat(100)), 'not-openpgp');
    const refusal = await assertRefused(Buffer.alloc(0), 'not-openpgp');
    assert.match(refusal.message, /empty/);
  });

  test('a signed but unencrypted message: not-encrypted', async () => {
    const signedOnly = await openpgp.sign({
      message: await openpgp.createMessage({ binary: new Uint8Array(randomBytes(1000)) }),
      signingKeys: geo.privateKey,
      format: 'binary',
    });
    await assertRefused(signedOnly, 'not-encrypted');
  });

  test('closes its source when it refuses before reading it all', async () => {
    const source = chunksOf(sealed);
    const opened = openStream(source, { ...openOptions(), decryptionKeys: otherGeo.privateKey });
    await assert.rejects(pipeline(opened, new Writable({ write: (_c, _e, cb) => cb() })), { reason: 'wrong-key' });
    assert.equal((source as Readable).destroyed, true);
  });
});
