// A crash loses no acknowledged accept: a child process accepts codes through the SQLite store
// and is killed with SIGKILL (no close, no flush, no exit handlers) at an arbitrary moment; every
// accept it acknowledged must be in the database when it is opened again.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDbPath } from './helpers/db.js';

const child = fileURLToPath(new URL('./helpers/crash-child.ts', import.meta.url));

async function runAndKill(path: string, killAfterAcks: number): Promise<Map<string, number>> {
  const proc = spawn(process.execPath, ['--import=tsx', '--conditions=kodeviser-src', child, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked = new Map<string, number>();
  let acks = 0;
  let buffer = '';
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? ''; // a line cut by the kill is not an ack
    for (const line of lines) {
      const m = /^ack (\d+) (\d+)$/.exec(line);
      if (!m) continue;
      acked.set(m[1] as string, Math.max(acked.get(m[1] as string) ?? -1, Number(m[2])));
      if (++acks === killAfterAcks) proc.kill('SIGKILL');
    }
  });
  const signal = await exited;
  if (signal !== 'SIGKILL') throw new Error(`the child ended on its own (${String(signal)})`);
  return acked;
}

t.test('every acknowledged accept survives SIGKILL', async (t) => {
  for (const killAfter of [97, 1500]) {
    const path = tempDbPath(t, `crash-${killAfter}.db`);
    const acked = await runAndKill(path, killAfter);
    t.ok(acked.size > 0, `${killAfter}: the child acknowledged accepts before it died`);
    const store = openSqliteStore(path);
    let lost = 0;
    for (const [serial, movingFactor] of acked) {
      const token = await store.getToken(serial);
      if (!token || token.lastMovingFactor < movingFactor) lost++;
      const accepts = (await store.queryAudit({ serial, limit: 1000 })).filter((e) => e.type === 'accept');
      if (accepts.length < movingFactor + 1) lost++;
    }
    t.equal(lost, 0, `killed after ${killAfter} acks: nothing acknowledged was lost`);
    await store.close();
  }
});
