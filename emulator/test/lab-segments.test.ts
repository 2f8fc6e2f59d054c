/**
 * The lab's LCD geometry (emulator/src/lab/segments.ts): one shape per segment bit, in the
 * firmware's bit order, each cell inside the glass and apart from its neighbours, and the
 * segments a byte lights are exactly its bits — so the page draws the segment buffer, not a font.
 */
import t from 'tap';
import { LCD_CHARS, SEGMENT, segmentsFor } from '@kodeviser/firmware';
import { renderSegments } from '../src/lcd.js';
import {
  CELL_PITCH,
  LCD_HEIGHT,
  LCD_VIEWBOX,
  LCD_WIDTH,
  SEGMENT_NAMES,
  cellShapes,
  litSegments,
  pointsAttribute,
  type SegmentShape,
} from '../src/lab/segments.js';

function bounds(s: SegmentShape): { x0: number; x1: number; y0: number; y1: number } {
  if (s.kind === 'circle') return { x0: s.cx - s.r, x1: s.cx + s.r, y0: s.cy - s.r, y1: s.cy + s.r };
  const xs = s.points.map((p) => p[0]);
  const ys = s.points.map((p) => p[1]);
  return { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) };
}

const centre = (s: SegmentShape): [number, number] => {
  const b = bounds(s);
  return [(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2];
};

t.test('eight shapes per cell, in the bit order of lcd.ts', (t) => {
  t.same(SEGMENT_NAMES, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'dp']);
  for (let i = 0; i < LCD_CHARS; i++) {
    const shapes = cellShapes(i);
    t.same(
      shapes.map((s) => s.segment),
      SEGMENT_NAMES,
    );
    t.same(
      shapes.map((s) => s.bit),
      SEGMENT_NAMES.map((n, k) => {
        t.equal(SEGMENT[n], 1 << k, `${n} is bit ${k}`);
        return SEGMENT[n];
      }),
    );
    t.equal(shapes[7]!.kind, 'circle', 'the decimal point is a dot');
    for (const s of shapes.slice(0, 7)) t.equal(s.kind === 'polygon' && s.points.length, 6, `${s.segment}: a hexagonal stroke`);
  }
  t.throws(() => cellShapes(8), RangeError);
  t.throws(() => cellShapes(-1), RangeError);
  t.throws(() => cellShapes(0.5), RangeError);
  t.end();
});

t.test('the strokes sit where a 7-segment digit has them', (t) => {
  const [a, b, c, d, e, f, g, dp] = cellShapes(0).map(centre) as Array<[number, number]>;
  t.ok(a![1] < g![1] && g![1] < d![1], 'a above g above d');
  t.ok(f![0] < b![0] && e![0] < c![0], 'f and e on the left, b and c on the right');
  t.ok(b![1] < c![1] && f![1] < e![1], 'b and f upper, c and e lower');
  t.ok(dp![0] > c![0] && dp![1] > c![1], 'the point after the cell, at the bottom');
  t.end();
});

t.test('every cell inside the glass, apart from its neighbours, one pitch along', (t) => {
  t.equal(LCD_VIEWBOX, `0 0 ${LCD_WIDTH} ${LCD_HEIGHT}`);
  let previousRight = -Infinity;
  for (let i = 0; i < LCD_CHARS; i++) {
    const all = cellShapes(i).map(bounds);
    const box = {
      x0: Math.min(...all.map((b) => b.x0)),
      x1: Math.max(...all.map((b) => b.x1)),
      y0: Math.min(...all.map((b) => b.y0)),
      y1: Math.max(...all.map((b) => b.y1)),
    };
    t.ok(box.x0 > 0 && box.x1 < LCD_WIDTH && box.y0 > 0 && box.y1 < LCD_HEIGHT, `cell ${i} inside the glass`);
    t.ok(box.x0 > previousRight, `cell ${i} does not overlap cell ${i - 1}`);
    previousRight = box.x1;
    const a0 = cellShapes(0)[0]!;
    const ai = cellShapes(i)[0]!;
    if (a0.kind === 'polygon' && ai.kind === 'polygon') t.equal(ai.points[0]![0] - a0.points[0]![0], i * CELL_PITCH);
  }
  t.end();
});

t.test('a byte lights exactly its bits; the page shows what the art shows', (t) => {
  t.same(litSegments(0), new Array(8).fill(false));
  t.same(litSegments(0xff), new Array(8).fill(true));
  t.same(litSegments(SEGMENT.a | SEGMENT.dp), [true, false, false, false, false, false, false, true]);
  for (let byte = 0; byte < 256; byte++) {
    const lit = litSegments(byte);
    t.equal(
      lit.reduce((n, on, k) => n | (on ? 1 << k : 0), 0),
      byte,
    );
  }
  // "8." lights everything; the art agrees segment for segment
  const seg = segmentsFor('8.');
  t.same(litSegments(seg[0]!), new Array(8).fill(true));
  t.equal(renderSegments([seg[0]!]), ' _\n|_|\n|_|.');
  t.end();
});

t.test('pointsAttribute', (t) => {
  t.equal(
    pointsAttribute([
      [1, 2],
      [3.5, 4],
    ]),
    '1,2 3.5,4',
  );
  t.end();
});
