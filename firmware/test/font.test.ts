// The LCD font against the glyphs docs/token.md fixes (Linux map_to_7segment.h order) and the
// read-back that makes the segment buffer the single source of truth.
import t from 'tap';
import { DP, LCD_CHARS, segmentsFor, textFor } from '@kodeviser/firmware';

t.test('the glyphs docs/token.md names', async (t) => {
  const fixed: Record<string, number> = {
    '0': 0x3f,
    b: 0x7c,
    A: 0x77,
    t: 0x78,
    E: 0x79,
    r: 0x50,
    L: 0x38,
    o: 0x5c,
    n: 0x54,
    '-': 0x40,
    ' ': 0,
  };
  for (const [ch, seg] of Object.entries(fixed)) t.equal(segmentsFor(ch)[0], seg, ch);
  // the digits of a 7-segment display, a..g = bits 0..6
  t.same(segmentsFor('12345678'), [0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f]);
  t.equal(segmentsFor('9')[0], 0x6f);
});

t.test('text reads back from segments; aliases read back as their canonical glyph', async (t) => {
  for (const text of [' 755224 ', 'bAtt    ', 'Err  EE ', 'FActory ', '12-34567', 'bAt  100', 'HELP    ', 'u-turn  ']) {
    t.equal(textFor(segmentsFor(text)), text, JSON.stringify(text));
  }
  t.equal(textFor(segmentsFor('SO')), '50      ', 'S is 5 and O is 0 on seven segments');
  t.equal(segmentsFor('').length, LCD_CHARS, 'padded to eight characters');
  t.equal(textFor([0x01, 0xff]), '?8.', 'an unknown pattern reads as ?, the dp as a dot');
});

t.test('decimal points attach to the character before them', async (t) => {
  const seg = segmentsFor('F  1.0.0');
  t.equal(seg.filter((b) => b & DP).length, 2);
  t.equal(textFor(seg), 'F  1.0.0  ', 'six characters and two blanks');
  t.same(segmentsFor('.')[0], DP, 'a leading dot lights a blank character');
  t.same(segmentsFor('1..').slice(0, 2), [0x06 | DP, DP], 'a second dot takes a character of its own');
});

t.test('what the LCD cannot show is refused, naming the character', async (t) => {
  for (const ch of ['K', 'M', 'V', 'W', 'X', 'k', 'm', 'v', 'w', 'x', '%']) {
    t.throws(() => segmentsFor(`a${ch}`), { code: 'ERR_ARGUMENT', message: new RegExp(`cannot show: "${ch}"`) });
  }
  t.throws(() => segmentsFor('123456789'), { code: 'ERR_ARGUMENT', message: /fit 8 characters/ });
  t.throws(() => segmentsFor(5 as never), { code: 'ERR_ARGUMENT', message: /text must be a string/ });
});
