/**
 * `kodeviser lifetime`: normal use (3 presses a day at 25 °C, the firmware's calibration) must
 * die at ten years ± 5 %, heavy use sooner; the plot is SVG with both curves.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { cli, tempDir } from './cli-helpers.js';

const died = (out: string): { years: number; days: number; date: string; codes: number } => {
  const m = /\ndied after (\d+\.\d\d) years \((\d+) days\), on (\d{4}-\d\d-\d\d): /.exec(out);
  const c = /\ncodes shown: (\d+)\n/.exec(out);
  if (m === null || c === null) throw new Error(`no death in ${out}`);
  return { years: Number(m[1]), days: Number(m[2]), date: m[3]!, codes: Number(c[1]) };
};

t.test('normal use lasts ten years (± 5 %), heavy use less; the plot draws both curves', async (t) => {
  const dir = tempDir(t);
  const plot = join(dir, 'life.svg');
  const normal = await cli(['lifetime', '--profile', 'totp-sha1', '--presses-per-day', '3', '--plot', plot]);
  t.equal(normal.code, 0, normal.stderr);
  t.match(normal.stdout, /^totp-sha1, 3 presses a day at 25 °C, from 2026-01-01\n/);
  const n = died(normal.stdout);
  t.ok(n.years >= 9.5 && n.years <= 10.5, `normal use died after ${n.years} years`);
  t.ok(Math.abs(n.days / 365.25 - n.years) < 0.01, 'years and days agree');
  t.equal(n.date.slice(0, 3), '203', 'a death date in the 2030s');
  t.ok(Math.abs(n.codes - 3 * n.days) <= 3, `one code per press: ${n.codes}`);
  t.match(normal.stdout, /\nlow-battery mark from \d+\.\d\d years/);

  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(plot, 'utf8'), true) as {
    svg: {
      text: Array<{ class: string; '#text': string }>;
      path: Array<{ d: string; 'data-label': string }>;
      g: Array<{ text: Array<{ class: string; '#text': string }> }>;
    };
  };
  t.match(doc.svg.text.find((x) => x.class === 'title')?.['#text'], /totp-sha1: 3 presses\/day at 25 °C/);
  const labels = doc.svg.g.flatMap((g) => g.text.filter((x) => x.class === 'label').map((x) => x['#text']));
  t.same(labels, ['years since manufacture', 'battery %']);
  t.same(
    doc.svg.path.map((p) => p['data-label']),
    ["firmware's estimate", 'true charge'],
  );
  const points = doc.svg.path[0]!.d.split(/ ?[ML]/).filter(Boolean);
  t.ok(points.length > 500, `a weekly sample over ten years: ${points.length} points`);
});

const alive = (out: string): { estimate: number; real: number; codes: number } => {
  const m = /\nstill alive after [^:]+: battery (\d+) % by the firmware's counter, (\d+\.\d\d) % true charge\ncodes shown: (\d+)\n$/.exec(
    out,
  );
  if (m === null) throw new Error(`not alive in ${out}`);
  return { estimate: Number(m[1]), real: Number(m[2]), codes: Number(m[3]) };
};

t.test('heavy use drains more than normal use (a coin-cell token spends most of its charge asleep)', async (t) => {
  // A year each: the whole heavy-use life would cost the suite half a minute.
  const normal = alive((await cli(['lifetime', '--profile', 'totp-sha1', '--presses-per-day', '3', '--max-years', '1'])).stdout);
  const heavy = alive((await cli(['lifetime', '--profile', 'totp-sha1', '--presses-per-day', '20', '--max-years', '1'])).stdout);
  t.ok(heavy.real < normal.real, `true charge after a year: heavy ${heavy.real} % < normal ${normal.real} %`);
  t.ok(heavy.estimate <= normal.estimate, `firmware estimate: heavy ${heavy.estimate} % ≤ normal ${normal.estimate} %`);
  t.ok(normal.estimate >= 88 && normal.estimate <= 92, `about a tenth of the budget a year: ${normal.estimate} %`);
  t.equal(heavy.codes, 7305, '20 a day for 365.25 days');
});

t.test('a short life: still alive when the simulation stops', async (t) => {
  const r = await cli(['lifetime', '--profile', 'hotp-aes128', '--presses-per-day', '0.5', '--temp', '10', '--max-years', '0.1']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^hotp-aes128, 0\.5 presses a day at 10 °C/);
  t.match(r.stdout, /\nstill alive after 0\.10 years \(36 days\): battery \d+ % by the firmware's counter, 99\.\d\d % true charge\n/);
  t.equal(alive(r.stdout).codes, 18, 'one press every other day for 36.5 days');
});
