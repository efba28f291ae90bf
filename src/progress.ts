// Progress of long work run by hand: on a terminal, one line redrawn in place with a bar, the rate and an
// ETA; elsewhere (cron, pipes, NO_COLOR or not), a plain line every few seconds. Goes to stderr.

export interface Progress {
  update(done: number, detail?: string): void;
  finish(message?: string): void;
}

export interface ProgressOptions {
  label: string;
  /** Estimated total, for the bar and the ETA; unknown is fine. */
  total?: number;
  unit: string;
  stream?: NodeJS.WriteStream;
  plainEveryMs?: number;
  /** Only the terminal bar: where the caller logs its own lines anyway, plain progress lines would repeat them. */
  terminalOnly?: boolean;
}

const barWidth = 20;

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true && process.env.TERM !== 'dumb';
  const started = Date.now();
  // Off a terminal the first line waits a whole interval: work that ends sooner leaves no "0%" line in a log.
  let last = tty ? 0 : started;
  let done = 0;
  let detail = '';
  const render = () => {
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const total = options.total && options.total > 0 ? Math.max(options.total, done) : undefined;
    const share = total ? done / total : undefined;
    const percent = share === undefined ? '' : `${String(Math.floor(share * 100)).padStart(tty ? 3 : 0)}% `;
    // The bar is drawn for eyes on a terminal; a log gets the plain figures.
    const bar = share === undefined || !tty ? percent : `[${'#'.repeat(Math.round(share * barWidth)).padEnd(barWidth, '.')}] ${percent}`;
    const eta = total && rate > 0 ? ` ETA ${clock((total - done) / rate)}` : '';
    return `${options.label}: ${bar}${done} ${options.unit}, ${Math.round(rate)} ${options.unit}/s${eta}${detail ? ` ${detail}` : ''}`;
  };
  return {
    update(value, text) {
      done = value;
      if (text !== undefined) detail = text;
      const now = Date.now();
      if (!tty && options.terminalOnly) return;
      if (now - last < (tty ? 200 : options.plainEveryMs ?? 10_000)) return;
      last = now;
      const line = render();
      stream.write(tty ? `\r\u001b[2K${line.slice(0, (stream.columns ?? 100) - 1)}` : `${new Date().toISOString()} INFO  ${line}\n`);
    },
    finish(message) {
      if (tty) stream.write('\r\u001b[2K');
      if (message) stream.write(`${message}\n`);
    },
  };
}
