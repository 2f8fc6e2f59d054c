/**
 * The LCD font: one byte per character, bit 0 = segment a … bit 6 = g, bit 7 = the decimal point,
 * with the glyphs of Linux's include/uapi/linux/map_to_7segment.h, so that '0' = 0x3F,
 * 'b' = 0x7C, 'A' = 0x77 as docs/token.md fixes them. The segment buffer is what the user sees;
 * text is derived from it, so the font must read back: where two characters share a glyph
 * ('5'/'S', '0'/'O', 'y'/'Y', 'C'/'[') only the first is *canonical* and `textFor` returns that
 * one. K, M, V, W and X have no recognisable glyph and are refused rather than faked.
 */
import { KodeviserError } from '@kodeviser/shared';

/** Characters of the LCD. */
export const LCD_CHARS = 8;
/** Each segment's bit in a character's byte (map_to_7segment.h): a top, b upper right, c lower
 * right, d bottom, e lower left, f upper left, g middle, dp the decimal point after it. */
export const SEGMENT = Object.freeze({ a: 0x01, b: 0x02, c: 0x04, d: 0x08, e: 0x10, f: 0x20, g: 0x40, dp: 0x80 });
/** The decimal point bit of a character. */
export const DP = SEGMENT.dp;

// canonical first: textFor reads a glyph back as the first character listed with it
// prettier-ignore
const GLYPHS: readonly (readonly [string, number])[] = [
  ['0', 0x3f], ['1', 0x06], ['2', 0x5b], ['3', 0x4f], ['4', 0x66],
  ['5', 0x6d], ['6', 0x7d], ['7', 0x07], ['8', 0x7f], ['9', 0x6f],
  ['A', 0x77], ['b', 0x7c], ['C', 0x39], ['c', 0x58], ['d', 0x5e], ['E', 0x79], ['F', 0x71],
  ['G', 0x3d], ['H', 0x76], ['h', 0x74], ['I', 0x30], ['i', 0x10], ['J', 0x1e], ['L', 0x38],
  ['n', 0x54], ['o', 0x5c], ['P', 0x73], ['q', 0x67], ['r', 0x50], ['t', 0x78], ['U', 0x3e],
  ['u', 0x1c], ['y', 0x6e], ['-', 0x40], ['_', 0x08], ['=', 0x48], [' ', 0x00],
  // aliases: same glyph as a canonical character above
  ['O', 0x3f], ['S', 0x6d], ['s', 0x6d], ['B', 0x7f], ['a', 0x77], ['e', 0x79], ['f', 0x71],
  ['g', 0x6f], ['j', 0x1e], ['l', 0x30], ['p', 0x73], ['Q', 0x67], ['R', 0x50], ['T', 0x78],
  ['Y', 0x6e], ['D', 0x5e], ['N', 0x54],
];

const SEGMENTS_OF = new Map<string, number>();
const CHAR_OF = new Map<number, string>();
for (const [ch, seg] of GLYPHS) {
  SEGMENTS_OF.set(ch, seg);
  if (!CHAR_OF.has(seg)) CHAR_OF.set(seg, ch);
}

/**
 * The 8-byte segment buffer for `text`, left-aligned and padded with blanks. A '.' lights the
 * decimal point of the character before it (so '1.0.0' takes three characters); the text must
 * fit the eight characters.
 */
export function segmentsFor(text: string): number[] {
  if (typeof text !== 'string') throw new KodeviserError('ERR_ARGUMENT', 'text must be a string');
  const out: number[] = [];
  for (const ch of text) {
    if (ch === '.') {
      const last = out.length - 1;
      if (last < 0 || ((out[last] as number) & DP) !== 0) out.push(DP);
      else out[last] = (out[last] as number) | DP;
      continue;
    }
    const seg = SEGMENTS_OF.get(ch);
    if (seg === undefined) throw new KodeviserError('ERR_ARGUMENT', `text has a character the LCD cannot show: ${JSON.stringify(ch)}`);
    out.push(seg);
  }
  if (out.length > LCD_CHARS) throw new KodeviserError('ERR_ARGUMENT', `text must fit ${LCD_CHARS} characters: ${JSON.stringify(text)}`);
  while (out.length < LCD_CHARS) out.push(0);
  return out;
}

/**
 * The text a segment buffer shows: one canonical character per glyph, '.' after a character
 * whose decimal point is lit, '?' for a pattern that is no character of the font. Trailing
 * blanks are kept, so the result of an 8-byte buffer always has 8 characters plus its dots.
 */
export function textFor(segments: ArrayLike<number>): string {
  let text = '';
  for (let i = 0; i < segments.length; i++) {
    const byte = segments[i] as number;
    text += CHAR_OF.get(byte & ~DP & 0xff) ?? '?';
    if ((byte & DP) !== 0) text += '.';
  }
  return text;
}
