/**
 * fdatasync on a thread of its own. Group commit (group-commit.ts) makes each batch durable with
 * an fdatasync of the write-ahead log before any caller hears back; on libuv's pool that sync
 * queued behind password hashes (scrypt runs there too, ~100 ms each), so a flood of logins held
 * every durable reply for seconds. One worker thread per process runs the syncs in turn: a file
 * descriptor is the process's, whichever thread uses it.
 */
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort } = require('node:worker_threads');
const { fdatasyncSync } = require('node:fs');
parentPort.on('message', ({ id, fd }) => {
  try {
    fdatasyncSync(fd);
    parentPort.postMessage({ id });
  } catch (e) {
    parentPort.postMessage({ id, error: { message: e.message, code: e.code } });
  }
});`;

type Reply = { id: number; error?: { message: string; code?: string } };

let worker: Worker | null = null;
let nextId = 0;
const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

function started(): Worker {
  if (worker !== null) return worker;
  const w = new Worker(WORKER, { eval: true });
  w.on('message', ({ id, error }: Reply) => {
    const p = waiting.get(id);
    waiting.delete(id);
    if (waiting.size === 0) w.unref();
    if (p === undefined) return;
    if (error === undefined) return p.resolve();
    p.reject(Object.assign(new Error(`fdatasync: ${error.message}`), { code: error.code }));
  });
  w.on('error', (e) => {
    for (const p of waiting.values()) p.reject(e);
    waiting.clear();
    worker = null;
  });
  // The thread keeps the process alive only while a sync is pending (a caller waits on it); idle,
  // it does not. (Unref'd after the listeners: adding one refs the port again.)
  w.unref();
  worker = w;
  return w;
}

/** fdatasync(`fd`) on the sync thread. */
export function fdatasyncOffPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    const w = started();
    if (waiting.size === 0) w.ref();
    waiting.set(id, { resolve, reject });
    w.postMessage({ id, fd });
  });
}
