import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cycleOf, formatCycle, parseCycle } from '../../src/cycle.js';

test('cycles are UTC hours written YYYY-MM-DDTHH', () => {
  assert.equal(formatCycle(cycleOf(new Date('2026-11-24T20:59:59.999Z'))), '2026-11-24T20');
  assert.equal(parseCycle('2026-11-24T20')?.toISOString(), '2026-11-24T20:00:00.000Z');
  assert.equal(parseCycle('2026-11-24T20:00Z')?.toISOString(), '2026-11-24T20:00:00.000Z');
  for (const bad of ['2026-02-30T01', '2026-11-24T24', '2026-11-24', 'yesterday', '2026-11-24T2', '', '0099-01-01T00', '1999-12-31T23']) {
    assert.equal(parseCycle(bad), undefined, bad);
  }
});
