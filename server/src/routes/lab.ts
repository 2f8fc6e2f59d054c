/**
 * The device lab (emulator/src/lab, built by scripts/build-lab.js) as static files at /lab/, from
 * the directory KODEVISER_LAB_DIR names: the server serves the bundle, it never imports the
 * emulator. With KODEVISER_LAB_DEVICE, /lab/device.json is that device file as it is now (npm
 * start names the demo device), which the page loads when it has none of its own; 204 when none.
 *
 * The page runs everything itself, so it needs nothing but its own files: a Content-Security-Policy
 * that allows only those, no inline script or style, no frames, no other origin.
 */
import { readFile } from 'node:fs/promises';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

export const LAB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface LabRoutesOptions {
  /** The built lab: index.html, lab.js, lab.css. */
  dir: string;
  /** A device file to offer at /lab/device.json, or null. */
  device: string | null;
}

const secure = (reply: { header(name: string, value: string): unknown }): void => {
  reply.header('content-security-policy', LAB_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
};

export async function labRoutes(app: FastifyInstance, { dir, device }: LabRoutesOptions): Promise<void> {
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/lab/',
    index: ['index.html'],
    decorateReply: false,
    // A rebuilt lab is seen at the next load.
    cacheControl: false,
    setHeaders: (res) => {
      secure(res);
      res.header('cache-control', 'no-cache');
    },
  });
  app.get('/lab', { schema: { hide: true } }, (_request, reply: FastifyReply) => reply.redirect('/lab/'));
  app.get('/lab/device.json', { schema: { hide: true } }, async (_request, reply) => {
    secure(reply);
    // Nothing offered (or not made yet: npm start makes the demo device after it listens) is
    // 204, not 404, which the browser would report as an error on the page's console.
    let text: string | null = null;
    if (device !== null) {
      try {
        // Read at each request: the CLI presses the same file meanwhile.
        text = await readFile(device, 'utf8');
      } catch {
        text = null;
      }
    }
    if (text === null) return reply.header('cache-control', 'no-store').code(204).send();
    return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(text);
  });
}
