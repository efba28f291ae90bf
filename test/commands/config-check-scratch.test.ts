// `config check` on a central host says whether what loads GEO deliveries could reach the Ganymede database:
// a scratch user with rights on it fails the check, the user README documents passes, and a host with no
// scratch user of its own is told so on the Ganymede row.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { runConfigCheck } from '../../src/commands/config/check.js';
import { mysqlPasswordForTests, mysqlUrlFor, testDatabases, testMysqlUrl, type TestDatabases } from '../support/mysql.js';
import { runDbMigrate } from '../../src/commands/db/migrate.js';
import { tempDir, writePrivateFile } from '../support/ganymede.js';

let databases: TestDatabases;
let ganymede: string;
const work = tempDir('cfgscratch');
// Only its presence matters here: it makes the config a central host's.
const privateKeyFile = writePrivateFile(`${work.path}/centre.key.asc`, 'not read by config check');

before(async () => {
  databases = await testDatabases();
  ganymede = await databases.create('cfgscratch');
  await runDbMigrate({ loaded: configWith({}) });
});
after(async () => {
  await databases?.dropAll();
  work.remove();
});

function configWith(overrides: Record<string, unknown>, env: Record<string, string> = {}) {
  const password = mysqlPasswordForTests();
  return loadConfig({
    configPath: null,
    env: { ...(password ? { GANYMEDE_MYSQL_PASSWORD: password } : {}), ...env },
    overrides: { 'mysql.url': mysqlUrlFor(ganymede), 'centre.private_key_file': privateKeyFile, ...overrides },
  });
}

const row = (result: Awaited<ReturnType<typeof runConfigCheck>>, target: string) => result.rows.find((candidate) => candidate.target === target);

test('a scratch user with rights on the Ganymede database fails the check, saying what to do', async () => {
  const root = new URL(testMysqlUrl);
  const result = await runConfigCheck({
    loaded: configWith({ 'centre.scratch_mysql_url': `mysql://${root.username || 'root'}@${root.host}/gmd` }, root.password ? { GANYMEDE_CENTRE_SCRATCH_MYSQL_PASSWORD: decodeURIComponent(root.password) } : {}),
  });
  const scratch = row(result, 'scratch mysql');
  assert.equal(scratch?.ok, false);
  assert.match(scratch!.error, new RegExp(`rights on the Ganymede database ${ganymede}: give loads a user of their own .*Least privilege`));
  assert.equal(result.ok, false);
});

test('the scratch user README documents passes', async () => {
  const user = await databases.createScratchUser();
  const result = await runConfigCheck({ loaded: configWith({ 'centre.scratch_mysql_url': user.url }, { GANYMEDE_CENTRE_SCRATCH_MYSQL_PASSWORD: user.password }) });
  assert.equal(row(result, 'scratch mysql')?.ok, true, row(result, 'scratch mysql')?.error);
  assert.match(row(result, 'scratch mysql')!.note, /no rights on the Ganymede database/);
  assert.doesNotMatch(row(result, 'ganymede mysql')!.note, /loads run as this user/);
});

test('a central host without a scratch user is told that loads run as the Ganymede user', async () => {
  const result = await runConfigCheck({ loaded: configWith({}) });
  assert.equal(row(result, 'scratch mysql'), undefined);
  assert.match(row(result, 'ganymede mysql')!.note, /loads run as this user too \(set centre\.scratch_mysql_url/);
});
