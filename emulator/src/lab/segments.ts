/**
 * The geometry of the lab's LCD: eight 7-segment cells drawn from the segment buffer the
 * firmware writes (emulator/src/lcd.ts: bit 0 = a … bit 6 = g, bit 7 = the decimal point), one
 * SVG shape per segment, so what the page shows is segment-exact rather than a font's idea of a
 * digit. Pure data: the DOM code (device-svg.ts) turns it into <polygon> and <circle> elements.
 *
 * A cell is 60 × 100 units, the classic hexagonal segments with a small gap at each joint,
 * slanted like a watch LCD; the decimal point sits after the cell, at the bottom right.
 *
 *    a
 *   f b
 *    g
 *   e c
 *    d  dp
 */
import { LCD_CHARS, SEGMENT } from '@kodeviser/firmware';

export type SegmentName = keyof typeof SEGMENT;

/** The segments in bit order: a, b, c, d, e, f, g, dp. */
export const SEGMENT_NAMES: readonly SegmentName[] = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'dp'];

export type SegmentShape =
  | { segment: SegmentName; bit: number; kind: 'polygon'; points: ReadonlyArray<readonly [number, number]> }
  | { segment: SegmentName; bit: number; kind: 'circle'; cx: number; cy: number; r: number };

/** One cell's box, in LCD units. */
export const CELL_WIDTH = 60;
export const CELL_HEIGHT = 100;
/** From one cell's left edge to the next. */
export const CELL_PITCH = 70;
/** The glass around the cells. */
export const LCD_MARGIN = 12;
export const LCD_WIDTH = 2 * LCD_MARGIN + (LCD_CHARS - 1) * CELL_PITCH + CELL_WIDTH + 10;
export const LCD_HEIGHT = 2 * LCD_MARGIN + CELL_HEIGHT;
export const LCD_VIEWBOX = `0 0 ${LCD_WIDTH} ${LCD_HEIGHT}`;

const THICK = 10;
const GAP = 1.5;
/** Horizontal shift per unit of height above the bottom (the italic slant). */
const SLANT = 0.08;
// Centre lines of the strokes, in cell coordinates.
const LEFT = 8;
const RIGHT = 52;
const TOP = 8;
const MIDDLE = 50;
const BOTTOM = 92;

type Point = readonly [number, number];

/** A horizontal hexagonal stroke from x0 to x1 at height y. */
function horizontal(x0: number, x1: number, y: number): Point[] {
  const h = THICK / 2;
  const a = x0 + GAP;
  const b = x1 - GAP;
  return [
    [a, y],
    [a + h, y - h],
    [b - h, y - h],
    [b, y],
    [b - h, y + h],
    [a + h, y + h],
  ];
}

/** A vertical hexagonal stroke from y0 to y1 at x. */
function vertical(x: number, y0: number, y1: number): Point[] {
  const h = THICK / 2;
  const a = y0 + GAP;
  const b = y1 - GAP;
  return [
    [x, a],
    [x + h, a + h],
    [x + h, b - h],
    [x, b],
    [x - h, b - h],
    [x - h, a + h],
  ];
}

const round = (n: number): number => Math.round(n * 100) / 100;

/** The eight shapes of cell `index` (0 = leftmost), in bit order, in LCD units. */
export function cellShapes(index: number): SegmentShape[] {
  if (!Number.isInteger(index) || index < 0 || index >= LCD_CHARS) throw new RangeError(`cell index must be 0..${LCD_CHARS - 1}`);
  const ox = LCD_MARGIN + index * CELL_PITCH;
  const oy = LCD_MARGIN;
  const place = ([x, y]: Point): [number, number] => [round(ox + x + (CELL_HEIGHT - y) * SLANT), round(oy + y)];
  const strokes: Record<Exclude<SegmentName, 'dp'>, Point[]> = {
    a: horizontal(LEFT, RIGHT, TOP),
    b: vertical(RIGHT, TOP, MIDDLE),
    c: vertical(RIGHT, MIDDLE, BOTTOM),
    d: horizontal(LEFT, RIGHT, BOTTOM),
    e: vertical(LEFT, MIDDLE, BOTTOM),
    f: vertical(LEFT, TOP, MIDDLE),
    g: horizontal(LEFT, RIGHT, MIDDLE),
  };
  const shapes: SegmentShape[] = [];
  for (const segment of SEGMENT_NAMES) {
    const bit = SEGMENT[segment];
    if (segment === 'dp') {
      const [cx, cy] = place([RIGHT + 11, BOTTOM + 2]);
      shapes.push({ segment, bit, kind: 'circle', cx, cy, r: 4.5 });
    } else {
      shapes.push({ segment, bit, kind: 'polygon', points: strokes[segment].map(place) });
    }
  }
  return shapes;
}

/** SVG `points` text of a polygon. */
export function pointsAttribute(points: ReadonlyArray<readonly [number, number]>): string {
  return points.map(([x, y]) => `${x},${y}`).join(' ');
}

/** Which of a cell's eight segments a segment byte lights, in bit order. */
export function litSegments(byte: number): boolean[] {
  return SEGMENT_NAMES.map((s) => (byte & SEGMENT[s]) !== 0);
}
