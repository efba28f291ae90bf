// `npm run bench -- <name> [options]`: one benchmark per name, each printing its own summary lines on
// stdout (progress on stderr). Benchmarks that run the CLI build it first, so they time the code in src/.
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const usage = `usage: npm run bench -- <name> [options]
  agent   ganymede agent run vs mysqldump | gzip -1 | gpg, on a generated Cloud-Control-like database
          --scale N    data size: N × (10k accounts, 1.05M instances, 2.1M events), ≈755 MB of dump each (default 1)
          --repeat N   time both sides N times (default 1)
          --no-build   time the CLI already in dist/ instead of running npm run build first
          --no-verify  skip reading the agent's file back with gpg, gzip and tar
          --cpu-prof DIR  profile the agent (node --cpu-prof) into DIR; its time is then not comparable
          --bin PATH   time another build's bin/ganymede (e.g. a copy with a change), not this checkout's
  load    worker decrypt + worker load vs gpg -d | gunzip | mysql and myloader -t 2, on the same database
          --scale N    data size, as for agent (default 1: 3.16M rows, ≈755 MB of dump)
          --repeat N   time all three sides N times, in turn (default 1)
          --no-build   time the CLI already in dist/ instead of running npm run build first
          --cpu-prof DIR  profile the load worker (node --cpu-prof) into DIR; its time is then not comparable
          --bin PATH   time another build's bin/ganymede, not this checkout's
  stream-load  decrypt to files + loadDump vs verify + loadDelivery straight from the file (1 pass; 2 passes at once;
          1 pass on 2 connections), each step a child under GNU time, on the load bench's database
          --scale N    data size, as for agent (default 1: 3.16M rows, ≈650 MB of the agent's TSV)
          --repeat N   run every variant N times, in turn (default 1)
          --no-build   make the agent's file with the CLI already in dist/
  etl     warehouse writes of a first load and of an hour with 1% of the rows changed, counted on the wire too
          --rows N     source rows over three tables (default 40000; the MongoDB stand-in keeps all in memory)
          --change P   percent of the rows the second hour changes (default 1)
          --no-build   use the CLI already in dist/ (it must be current: the workers run it)
  tick    wall time of the built jupiter tick, idle and over 50 GEOs × 24 hours of history; the drain's hand-off
          --repeat N   timed runs of each tick (and of each part of the breakdown); medians are printed (default 9)
          --geos N --hours N   the history (default 50 × 24)
          --drains N   hours taken through a drain for the hand-off, by 3 GEOs each (default 2)
          --no-build   use the CLI already in dist/ (it must be current: the drain's workers run it)
  cluster one hour of small GEOs drained by 1, 2 and 3 central hosts ticking in loops; wall times and the ratio to 1 host
          --geos N     GEOs delivering each hour (default 12)
          --hosts N    time 1 … N hosts (default 3)
          --tick-ms N  each host starts a jupiter tick this often (default 500)
          --max-workers N  centre.max_workers in every host's config (default 1)
          --scale-workers  centre.max_workers × the host count instead (the limit counts every host's running steps)
          --no-build   use the CLI already in dist/ (it must be current: the ticks and workers run it)
  console the web console's grid (GET /console) for a big centre: server time and bytes, and its live poll
          --geos N --hours N   the history (default 200 × 48)
          --repeat N   timed requests of each (default 9); medians are printed
  bench/openpgp.ts runs on its own: tsx bench/openpgp.ts [MB]`;

const root = fileURLToPath(new URL('..', import.meta.url));

class UsageError extends Error {}

function wholeNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`--${flag} ${value}: expected a whole number ≥ 1`);
  return number;
}

async function build(): Promise<void> {
  process.stderr.write('bench: npm run build\n');
  const built = await execa('npm', ['run', '--silent', 'build'], { cwd: root, reject: false, all: true });
  if (built.exitCode !== 0) throw new Error(`npm run build failed; fix the build or pass --no-build:\n${String(built.all).slice(-4000)}`);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case 'agent': {
      const { values } = parseArgs({
        args: rest,
        options: {
          scale: { type: 'string' },
          repeat: { type: 'string' },
          'no-build': { type: 'boolean' },
          'no-verify': { type: 'boolean' },
          'cpu-prof': { type: 'string' },
          bin: { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
      });
      const options = {
        scale: wholeNumber('scale', values.scale, 1),
        repeat: wholeNumber('repeat', values.repeat, 1),
        verify: !values['no-verify'],
        cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
        bin: values.bin === undefined ? undefined : resolve(values.bin),
      };
      // Another build is the caller's to build.
      if (!values['no-build'] && options.bin === undefined) await build();
      const { runAgentBench } = await import('./agent.js');
      await runAgentBench(options);
      return 0;
    }
    case 'load': {
      const { values } = parseArgs({
        args: rest,
        options: {
          scale: { type: 'string' },
          repeat: { type: 'string' },
          'no-build': { type: 'boolean' },
          'cpu-prof': { type: 'string' },
          bin: { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
      });
      const options = {
        scale: wholeNumber('scale', values.scale, 1),
        repeat: wholeNumber('repeat', values.repeat, 1),
        cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
        bin: values.bin === undefined ? undefined : resolve(values.bin),
      };
      if (!values['no-build'] && options.bin === undefined) await build();
      const { runLoadBench } = await import('./load.js');
      await runLoadBench(options);
      return 0;
    }
    case 'stream-load': {
      const { values } = parseArgs({
        args: rest,
        options: { scale: { type: 'string' }, repeat: { type: 'string' }, 'no-build': { type: 'boolean' } },
        strict: true,
        allowPositionals: false,
      });
      const options = { scale: wholeNumber('scale', values.scale, 1), repeat: wholeNumber('repeat', values.repeat, 1) };
      if (!values['no-build']) await build();
      const { runStreamLoadBench } = await import('./stream-load.js');
      await runStreamLoadBench(options);
      return 0;
    }
    case 'etl': {
      const { values } = parseArgs({
        args: rest,
        options: { rows: { type: 'string' }, change: { type: 'string' }, 'no-build': { type: 'boolean' } },
        strict: true,
        allowPositionals: false,
      });
      const change = values.change === undefined ? 1 : Number(values.change);
      if (!(change > 0 && change <= 20)) throw new UsageError(`--change ${values.change}: expected a percentage above 0 and at most 20`);
      const options = { rows: wholeNumber('rows', values.rows, 40_000), change: change / 100 };
      if (options.rows < 100) throw new UsageError(`--rows ${options.rows}: expected at least 100`);
      if (!values['no-build']) await build();
      const { runEtlBench } = await import('./etl.js');
      await runEtlBench(options);
      return 0;
    }
    case 'tick': {
      const { values } = parseArgs({
        args: rest,
        options: { repeat: { type: 'string' }, geos: { type: 'string' }, hours: { type: 'string' }, drains: { type: 'string' }, 'no-build': { type: 'boolean' } },
        strict: true,
        allowPositionals: false,
      });
      const options = {
        repeat: wholeNumber('repeat', values.repeat, 9),
        geos: wholeNumber('geos', values.geos, 50),
        hours: wholeNumber('hours', values.hours, 24),
        drains: wholeNumber('drains', values.drains, 2),
        drainGeos: 3,
      };
      if (!values['no-build']) await build();
      const { runTickBench } = await import('./tick.js');
      await runTickBench(options);
      return 0;
    }
    case 'cluster': {
      const { values } = parseArgs({
        args: rest,
        options: { geos: { type: 'string' }, hosts: { type: 'string' }, 'tick-ms': { type: 'string' }, 'max-workers': { type: 'string' }, 'scale-workers': { type: 'boolean' }, 'no-build': { type: 'boolean' } },
        strict: true,
        allowPositionals: false,
      });
      const hosts = wholeNumber('hosts', values.hosts, 3);
      const options = {
        geos: wholeNumber('geos', values.geos, 12),
        hosts: Array.from({ length: hosts }, (_, i) => i + 1),
        tickMs: wholeNumber('tick-ms', values['tick-ms'], 500),
        maxWorkers: wholeNumber('max-workers', values['max-workers'], 1),
        scaleWorkers: values['scale-workers'] === true,
      };
      if (!values['no-build']) await build();
      const { runClusterBench } = await import('./cluster.js');
      await runClusterBench(options);
      return 0;
    }
    case 'console': {
      const { values } = parseArgs({
        args: rest,
        options: { geos: { type: 'string' }, hours: { type: 'string' }, repeat: { type: 'string' } },
        strict: true,
        allowPositionals: false,
      });
      const options = { geos: wholeNumber('geos', values.geos, 200), hours: wholeNumber('hours', values.hours, 48), repeat: wholeNumber('repeat', values.repeat, 9) };
      if (options.hours > 24 * 7) throw new UsageError(`--hours ${options.hours}: the grid shows at most a week (168)`);
      // The API runs in this process from src/ (tsx): nothing to build.
      const { runConsoleBench } = await import('./console.js');
      await runConsoleBench(options);
      return 0;
    }
    default:
      process.stderr.write(`bench: ${name === undefined ? 'which benchmark?' : `unknown benchmark "${name}"`}\n${usage}\n`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const usageProblem = error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`bench: ${(error as Error).message}\n${usageProblem ? `${usage}\n` : ''}`);
  process.exitCode = usageProblem ? 2 : 1;
}
