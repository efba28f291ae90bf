// The demo's long-lived servers, kept between demo runs so the warehouse survives into "the next hour":
// an sshd for the central inbox, one for Glassbeam, and the MongoDB-wire stand-in (unless MONGODB_URI
// is set). Writes their addresses to <demo dir>/services.json and runs until SIGTERM.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSshd } from '../../test/support/sshd.js';
import { startMongo } from '../../test/support/mongo.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: services.ts <demo dir>');
const [central, glassbeam, mongo] = await Promise.all([startSshd(), startSshd(), startMongo()]);
const describe = (server: typeof central) => ({ port: server.port, user: server.username, keyFile: server.privateKeyPath, root: server.root, localRoot: server.localPath('.') });
// Written aside and renamed: demo/run.ts polls for the file and would otherwise read it half-written.
writeFileSync(join(dir, 'services.json.tmp'), JSON.stringify({ pid: process.pid, central: describe(central), glassbeam: describe(glassbeam), mongoUri: mongo.uri, mongoStandIn: mongo.standIn }, null, 2));
renameSync(join(dir, 'services.json.tmp'), join(dir, 'services.json'));
const stop = async () => {
  await Promise.all([central.stop(), glassbeam.stop(), mongo.stop()]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
setInterval(() => undefined, 60_000);
