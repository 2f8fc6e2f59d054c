/**
 * The lab's text (emulator/src/lab/format.ts): clocks, ppm, percentages, temperatures and the
 * operating range, the NVM hex dump, trace lines with secrets masked, and the Go to time input,
 * which reads times exactly as `kodeviser press --at` does.
 */
import t from 'tap';
import { parseIsoTimeMs } from '../src/cli/args.js';
import {
  formatCelsius,
  formatPercent,
  formatPpm,
  formatSerial,
  hexDump,
  isoTime,
  maskedDetail,
  outOfOperatingRange,
  parseTimeInput,
  signedDuration,
  traceLine,
} from '../src/lab/format.js';

t.test('clocks and durations', (t) => {
  t.equal(isoTime(Date.UTC(2026, 0, 1, 12) * 1000 + 123_456), '2026-01-01T12:00:00.123Z');
  t.equal(isoTime(Number.MAX_SAFE_INTEGER), '2255-06-05T23:47:34.740Z');
  t.equal(isoTime(NaN), '—');
  t.equal(signedDuration(1_234_567), '+1.235 s');
  t.equal(signedDuration(-50_000_000), '−50.000 s');
  t.equal(signedDuration(600e6), '+10.00 min');
  t.equal(signedDuration(-3 * 3600e6), '−3.00 h');
  t.equal(signedDuration(10 * 86_400e6), '+10.00 d');
  t.end();
});

t.test('ppm, percent, °C and the operating range', (t) => {
  t.equal(formatPpm(12.3456), '+12.346 ppm');
  t.equal(formatPpm(-0.5), '−0.500 ppm');
  t.equal(formatPpm(-0.0001), '+0.000 ppm', 'no negative zero');
  t.equal(formatPercent(99.456, 2), '99.46 %');
  t.equal(formatPercent(7), '7.0 %');
  t.equal(formatCelsius(25), '25 °C');
  t.equal(formatCelsius(-5.5), '−5.5 °C');
  t.same([-20, -0.1, 0, 25, 45, 45.1, 70].map(outOfOperatingRange), [true, true, false, false, false, true, true]);
  t.end();
});

t.test('hex dump: 16 bytes a line, ASCII beside, repeated lines starred', (t) => {
  const bytes = new Uint8Array(64).fill(0xff);
  bytes.set(new TextEncoder().encode('kodeviser'), 0);
  t.equal(
    hexDump(bytes),
    [
      '0000  6b 6f 64 65 76 69 73 65 72 ff ff ff ff ff ff ff  |kodeviser.......|',
      '0010  ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff  |................|',
      '*',
      '0030  ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff  |................|',
    ].join('\n'),
  );
  t.equal(hexDump(new Uint8Array([1, 2])), '0000  01 02                                            |..|');
  t.equal(hexDump(new Uint8Array(0)), '');
  t.end();
});

t.test('trace lines never show a key or NVM data', (t) => {
  t.equal(
    maskedDetail({ key: [1, 2, 3], data: new Uint8Array(4), nested: { secret: 'x', ok: 1 } }),
    '{"key":"<hidden>","data":"<hidden>","nested":{"secret":"<hidden>","ok":1}}',
  );
  t.equal(maskedDetail({ blob: new Uint8Array(3) }), '{"blob":"<3 bytes>"}');
  const at = Date.UTC(2026, 0, 1) * 1000;
  t.equal(
    traceLine({ trueUs: at, deviceUs: at, kind: 'hw', what: 'button', detail: { level: true } }),
    '2026-01-01T00:00:00.000Z hw     button {"level":true}',
  );
  t.equal(traceLine({ trueUs: at, deviceUs: at, kind: 'effect', what: 'sleep', detail: {} }), '2026-01-01T00:00:00.000Z effect sleep');
  t.end();
});

t.test('Go to time reads a time as kodeviser press --at does', (t) => {
  for (const text of [
    '2026-01-01T12:00:00Z',
    '2026-01-01T12:00Z',
    '2026-01-01 12:00:00Z',
    '2026-01-01T12:00:00.123456Z',
    '2026-01-01T13:00:00+01:00',
    '2009-02-13T23:31:30z',
  ]) {
    t.same(parseTimeInput(text), { us: parseIsoTimeMs(text, '--at') * 1000 }, text);
  }
  t.same(parseTimeInput('  2026-01-01T12:00:00Z '), { us: Date.UTC(2026, 0, 1, 12) * 1000 }, 'surrounding blanks are forgiven');
  for (const text of ['', '2026-01-01', '2026-01-01T12:00:00', 'tomorrow', '2026-13-01T00:00:00Z']) {
    const r = parseTimeInput(text);
    t.ok('error' in r && /ISO 8601 time with a zone/.test(r.error), `refused: ${JSON.stringify(text)}`);
  }
  t.end();
});

t.test('serials as printed on the case', (t) => {
  t.equal(formatSerial('1234567897'), '12-3456789-7');
  t.equal(formatSerial(''), '');
  t.equal(formatSerial('12-3456789-7'), '12-3456789-7');
  t.end();
});
