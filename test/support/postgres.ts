/**
 * A real, throwaway PostgreSQL cluster for tests: initdb into a temp dir, listen on 127.0.0.1 at a
 * free port, and remove it all on stop() or when this process exits.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePorts } from '../../src/regtest/index.js';

export interface PostgresCluster {
  /** postgres://user:password@127.0.0.1:port/database */
  url: string;
  /** The same cluster's maintenance database, for tests that create more databases. */
  adminUrl: string;
  stop(): Promise<void>;
}

const USER = 'lightproof';
const DATABASE = 'lightproof_test';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The directory holding initdb and pg_ctl: the newest Debian cluster version, else PATH. */
function findBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions[0]) return join(root, versions[0], 'bin');
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error(
    'PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin or on PATH). Run .ci/run, or: apt-get install postgresql',
  );
}

/** initdb refuses to run as root, so as root every server command runs as the postgres user. */
function asServerUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'Running as root, but there is no "postgres" user to run the server as. Run .ci/run, or: apt-get install postgresql',
    );
  }
}

export async function startPostgres(opts: { dir?: string } = {}): Promise<PostgresCluster> {
  const bin = findBinDir();
  const owner = asServerUser();
  // As root the temp dir's parent must be enterable by the postgres user, so default to the OS temp dir.
  const dir = mkdtempSync(join(opts.dir ?? tmpdir(), 'lightproof-pg-'));
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = owner
      ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]]
      : [join(bin, tool), args];
    const r = spawnSync(cmd, argv, { cwd: dir, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    if (r.status !== 0) {
      throw new Error(`${tool} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}${r.stdout}`);
    }
  };
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const password = randomBytes(16).toString('hex');
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    stopSync();
    // Our listener replaced the default action; with no other listener left, die of the signal as usual.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const stopSync = () => {
    process.off('exit', stopSync);
    for (const s of SIGNALS) process.off(s, onSignal);
    if (started) {
      try {
        run('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w']);
      } catch {
        // Already stopped; the directory still goes.
      }
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stopSync);
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner) {
      chownSync(dir, owner.uid, owner.gid);
      chownSync(pwfile, owner.uid, owner.gid);
    }
    run('initdb', [
      '-D',
      data,
      '-U',
      USER,
      `--pwfile=${pwfile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
      '--no-instructions',
    ]);
    rmSync(pwfile);
    const port = await startServer(run, data, dir, log);
    started = true;
    const base = `postgres://${USER}:${password}@127.0.0.1:${port}`;
    const admin = new pg.Client({ connectionString: `${base}/postgres` });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await admin.end();
    }
    return {
      url: `${base}/${DATABASE}`,
      adminUrl: `${base}/postgres`,
      stop: async () => stopSync(),
    };
  } catch (err) {
    const tail = existsSync(log) ? `\n--- ${log} ---\n${readFileSync(log, 'utf8').slice(-2000)}` : '';
    stopSync();
    throw new Error(`Could not start a test PostgreSQL in ${dir}: ${(err as Error).message}${tail}`);
  }
}

/** Starts the server on a free port, trying another when something grabbed the port first. */
async function startServer(
  run: (tool: string, args: string[]) => void,
  data: string,
  dir: string,
  log: string,
): Promise<number> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [port] = await freePorts(1);
    try {
      run('pg_ctl', [
        'start',
        '-D',
        data,
        '-l',
        log,
        '-w',
        '-t',
        '60',
        '-o',
        `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`,
      ]);
      return port!;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/**
 * One cluster per test file, started on first use, plus fresh empty databases on it so each test
 * starts from nothing. Call `stop` from the file's `after`.
 */
export function sharedCluster(): {
  cluster(): Promise<PostgresCluster>;
  freshDatabase(prefix: string): Promise<string>;
  stop(): Promise<void>;
} {
  let started: Promise<PostgresCluster> | undefined;
  const cluster = (): Promise<PostgresCluster> => {
    started ??= startPostgres();
    return started;
  };
  return {
    cluster,
    async freshDatabase(prefix) {
      const { adminUrl, url } = await cluster();
      const name = `${prefix}_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.toString();
    },
    async stop() {
      await (await started)?.stop();
    },
  };
}
