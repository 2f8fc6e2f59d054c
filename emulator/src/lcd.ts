/**
 * The 8-character 7-segment LCD: a latch of eight segment bytes (bit 0 = a … bit 6 = g,
 * bit 7 = dp, the Linux map_to_7segment.h order of docs/token.md). The bytes are the only truth
 * of what the user sees; the text and the ASCII art are derived from them.
 *
 * The art draws each character three lines high and four columns wide:
 *
 *    _      a        a: top, b: upper right, c: lower right, d: bottom,
 *   |_|   f g b      e: lower left, f: upper left, g: middle, dp: after the character
 *   |_|.  e d c dp
 */
import { KodeviserError } from '@kodeviser/shared';
import { LCD_CHARS, SEGMENT, type LcdHal } from '@kodeviser/firmware';
import { tracing, type HwTrace } from './trace.js';

export class Lcd implements LcdHal {
  private readonly buffer = new Uint8Array(LCD_CHARS);
  /** latches since construction (the firmware rewrites the whole buffer each time) */
  writes = 0;

  constructor(
    private readonly trace: HwTrace = () => {},
    /** called after every latch with whether any segment is lit (battery: display current) */
    private readonly changed: (lit: boolean) => void = () => {},
  ) {}

  /** LcdHal */
  write(segments: readonly number[]): void {
    let bytes = segments.length === LCD_CHARS;
    for (let i = 0; i < segments.length && bytes; i++) {
      const s = segments[i] as number;
      bytes = Number.isInteger(s) && s >= 0 && s <= 0xff;
    }
    if (!bytes) throw new KodeviserError('ERR_ARGUMENT', `lcd segments must be ${LCD_CHARS} bytes`);
    this.buffer.set(segments);
    this.writes++;
    if (tracing(this.trace)) this.trace('lcd', { segments: Array.from(this.buffer) });
    this.changed(this.lit);
  }

  /** Puts the glass back as a snapshot had it, with no trace and no load change. */
  restore(segments: ArrayLike<number>): void {
    this.buffer.set(Array.from(segments));
  }

  /** Power is gone: the glass goes blank. */
  blank(): void {
    if (!this.lit) return;
    this.write(new Array<number>(LCD_CHARS).fill(0));
  }

  /** Any segment is on. */
  get lit(): boolean {
    return this.buffer.some((s) => s !== 0);
  }

  /** A copy of the segment buffer. */
  segments(): Uint8Array {
    return Uint8Array.from(this.buffer);
  }

  /** Three lines of ASCII art, 4 columns per character. */
  art(): string {
    return renderSegments(this.buffer);
  }
}

export function renderSegments(segments: ArrayLike<number>): string {
  let top = '',
    mid = '',
    bot = '';
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as number;
    const on = (segment: keyof typeof SEGMENT, ch: string): string => (s & SEGMENT[segment] ? ch : ' ');
    top += ` ${on('a', '_')}  `;
    mid += `${on('f', '|')}${on('g', '_')}${on('b', '|')} `;
    bot += `${on('e', '|')}${on('d', '_')}${on('c', '|')}${on('dp', '.')}`;
  }
  return [top, mid, bot].map((l) => l.trimEnd()).join('\n');
}
