// The output boundary's escaping, as pure functions: what a value from outside becomes, what of our own
// layout survives, and that --json stays the same data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable, printableLayout, printableValues, terminalSafeJson } from '../../src/render/printable.js';

test('printable shows every C0, DEL, C1, bidi and line-separator character as an escape and leaves the rest', () => {
  assert.equal(printable('\u001b[2J\u0007\u0000\r\n\t\u007f\u0085\u009b'), '\\x1b[2J\\x07\\x00\\r\\n\\t\\x7f\\x85\\x9b');
  assert.equal(printable('a\u202eb\u202ac\u2066d\u2069e\u200ff\u061cg\u2028h'), 'a\\u202eb\\u202ac\\u2066d\\u2069e\\u200ff\\u061cg\\u2028h');
  assert.equal(printable('Zürich, 東京, C:\\temp, "quoted" — 100 %'), 'Zürich, 東京, C:\\temp, "quoted" — 100 %');
});

test('printableLayout keeps our line breaks and colour codes, and escapes any other control', () => {
  const green = '\u001b[32mdone\u001b[39m';
  assert.equal(printableLayout(`${green}\nnext line`), `${green}\nnext line`);
  assert.equal(printableLayout('a\u001b[2Jb\rc\u0007'), 'a\\x1b[2Jb\\rc\\x07');
});

test('printableValues escapes every string of a result, keeps numbers, dates and nulls, and does not change the result', () => {
  const at = new Date('2026-01-01T00:00:00Z');
  const result = { id: 7, at, host: 'evil\u001b[2J', events: [{ message: 'ok\rFAKE', rows: null }], nested: { list: ['\u202e'] } };
  const shown = printableValues(result);
  assert.deepEqual(shown, { id: 7, at, host: 'evil\\x1b[2J', events: [{ message: 'ok\\rFAKE', rows: null }], nested: { list: ['\\u202e'] } });
  assert.equal(shown.at, at);
  assert.equal(result.host, 'evil\u001b[2J', 'the original is untouched');
});

test('terminalSafeJson escapes what JSON.stringify leaves raw, and parses back to the same value', () => {
  const value = { text: 'a\u007fb\u0085c\u202ed\u2066e\u001b' };
  const json = terminalSafeJson(JSON.stringify(value));
  assert.doesNotMatch(json, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  assert.deepEqual(JSON.parse(json), value);
});
