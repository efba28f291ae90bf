// CRC-32 (the zlib/PNG polynomial) of a byte range, in JavaScript. zlib's crc32() is faster per byte,
// but the dump takes one per row (3M rows an hour): each call crosses into C++ and needs a Buffer view
// of the row, which cost more than the CRC itself. Slicing-by-8: eight table lookups per eight bytes.
const tables = (() => {
  const table = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) table[k * 256 + n] = (table[(k - 1) * 256 + n]! >>> 8) ^ table[table[(k - 1) * 256 + n]! & 0xff]!;
  }
  return table;
})();

/** The CRC-32 of `bytes[start, end)`, continuing from `crc` (what zlib's crc32(data, crc) computes). */
export function crc32Range(bytes: Uint8Array, start: number, end: number, crc = 0): number {
  const t = tables;
  let c = ~crc;
  let i = start;
  for (; end - i >= 8; i += 8) {
    const a = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
