// A second `ganymede api` over an agent fixture's database, on a port of the test's choosing, that the test
// stops and starts again on the same port: the status API going away and coming back, as a deploy does.
import { runApiServe } from '../../src/commands/api/serve.js';
import type { AgentFixture } from '../support/agent-fixture.js';
import { testConfig } from '../support/ganymede.js';
import { mysqlUrlFor } from '../support/mysql.js';

export interface ApiInstance {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The API over the fixture's database on `port` (0: any free one), once it listens. */
export async function startApiOn(fixture: AgentFixture, port: number): Promise<ApiInstance> {
  const loaded = testConfig({ 'mysql.url': mysqlUrlFor(fixture.api.database), 'api.listen': `127.0.0.1:${port}`, 'logging.level': 'error' }, { 'api.admin_token': fixture.api.adminToken });
  let stop!: () => void;
  const stopSignal = new Promise((resolve) => (stop = () => resolve('test')));
  let listening!: (port: number) => void;
  const ready = new Promise<number>((resolve) => (listening = resolve));
  const served = runApiServe({ loaded, stopSignal, onListening: (address) => listening(address.port) });
  const bound = await Promise.race([ready, served.then(() => Promise.reject(new Error('the API stopped before listening')))]);
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    async stop() {
      stop();
      await served;
    },
  };
}
