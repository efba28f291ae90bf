// One GEO's hour as `ganymede status` and the web console show it: done, running, late, failed, missing or
// not due yet, with the symbol that reads without colour. Late and missing turn on centre.cycle_deadline_minutes.

export type CellState = 'done' | 'running' | 'late' | 'failed' | 'missing' | 'waiting';

export const cellSymbols: Record<CellState, string> = { done: '#', running: '>', late: '!', failed: 'x', missing: '.', waiting: '-' };

/** `txnState` is undefined when the GEO opened nothing for the hour; a cancelled hour counts as nothing opened. */
export function cellState(txnState: string | undefined, cycleStart: Date, deadlineMinutes: number, now: Date): CellState {
  if (txnState === 'done') return 'done';
  if (txnState === 'failed' || txnState === 'refused' || txnState === 'agent_failed') return 'failed';
  const pastDeadline = cycleStart.getTime() + deadlineMinutes * 60_000 < now.getTime();
  if (txnState && txnState !== 'cancelled') return pastDeadline ? 'late' : 'running';
  return pastDeadline ? 'missing' : 'waiting';
}

/** The symbol of a cell: a running hour shows its step's initial (d, l, e, c) when it has one. */
export function cellSymbol(state: CellState, step: string | null | undefined): string {
  return state === 'running' && step ? step[0]! : cellSymbols[state];
}
