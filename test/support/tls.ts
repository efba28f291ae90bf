// Certificates for the HTTPS tests, made by the real openssl in a temp dir: a CA, and certificates it
// signs for the API (127.0.0.1 and localhost) and for clients (one per GEO, CN = the GEO name).
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const validDays = '2';
// P-256 keys: quick to make, and every TLS 1.2 stack takes them.
const keyOptions = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface CertificateFiles {
  certFile: string;
  /** 0600, as the config loader wants private files. */
  keyFile: string;
}

export interface TestCa extends CertificateFiles {
  name: string;
  /** A certificate for the API: CN and SANs 127.0.0.1 and localhost. */
  issueServer(name?: string): Promise<CertificateFiles>;
  /** A client certificate: CN = name, plus DNS SANs when given. */
  issueClient(name: string, dnsNames?: string[]): Promise<CertificateFiles>;
}

export interface TestPki {
  dir: string;
  createCa(name: string): Promise<TestCa>;
  remove(): Promise<void>;
}

export async function testPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'gmd-pki-'));
  let serial = 0;
  const file = (name: string) => join(dir, name.replace(/[^A-Za-z0-9_.-]/g, '_'));

  async function issue(ca: CertificateFiles & { name: string }, name: string, extensions: string[]): Promise<CertificateFiles> {
    const base = file(`${ca.name}-${name}-${++serial}`);
    const files = { certFile: `${base}.crt`, keyFile: `${base}.key` };
    await run('openssl', ['req', ...keyOptions, '-keyout', files.keyFile, '-out', `${base}.csr`, '-subj', `/CN=${name}`]);
    await writeFile(`${base}.ext`, `${extensions.join('\n')}\n`);
    await run('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(1000 + serial), '-days', validDays, '-extfile', `${base}.ext`, '-out', files.certFile]);
    await chmod(files.keyFile, 0o600);
    return files;
  }

  return {
    dir,
    async createCa(name) {
      const base = file(`ca-${name}`);
      const ca = { name, certFile: `${base}.crt`, keyFile: `${base}.key` };
      await run('openssl', [
        'req', '-x509', ...keyOptions, '-keyout', ca.keyFile, '-out', ca.certFile, '-days', validDays, '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      await chmod(ca.keyFile, 0o600);
      return {
        ...ca,
        issueServer: (serverName = '127.0.0.1') =>
          issue(ca, serverName, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost']),
        issueClient: (clientName, dnsNames = []) =>
          issue(ca, clientName, [
            'basicConstraints=CA:FALSE',
            'keyUsage=critical,digitalSignature',
            'extendedKeyUsage=clientAuth',
            ...(dnsNames.length ? [`subjectAltName=${dnsNames.map((dns) => `DNS:${dns}`).join(',')}`] : []),
          ]),
      };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
