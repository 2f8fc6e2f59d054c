/** A worker thread of the lifetime sweep (lifetime-sweep.ts): one life per message, its cell back. */
import { parentPort } from 'node:worker_threads';
import { simulateLifetime } from './lifetime.js';
import { toCell, type SweepJob, type SweepReply } from './lifetime-sweep.js';

const port = parentPort;
if (port === null) throw new Error('lifetime-worker.ts runs as a worker thread of lifetime-sweep.ts');
port.on('message', (job: SweepJob) => {
  let reply: SweepReply;
  try {
    reply = { index: job.index, cell: toCell(job.life, simulateLifetime(job.life)) };
  } catch (e) {
    reply = { index: job.index, error: (e as Error).message };
  }
  port.postMessage(reply);
});
