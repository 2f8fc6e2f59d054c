/**
 * The drawing of the token, built with DOM APIs (no markup strings, no style attributes: the
 * page's Content-Security-Policy allows neither inline script nor inline style). The case is
 * 60 × 30 mm (one SVG unit = 0.1 mm) with the button on the left, as the service tells users to
 * hold it; the LCD is an SVG of its own inside the element the tests read (data-testid="lcd"),
 * whose only text is a visually hidden span with the LCD's eight characters.
 */
import { LCD_CHARS } from '@kodeviser/firmware';
import { LCD_HEIGHT, LCD_VIEWBOX, LCD_WIDTH, cellShapes, litSegments, pointsAttribute } from './segments.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  parent?: Element,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  parent?.appendChild(el);
  return el;
}

/** The case: body, bezel, the ring around the button, the maker's name and the serial label. */
export function drawCase(host: Element): { setSerial(text: string): void } {
  const root = svg('svg', { viewBox: '0 0 600 300', class: 'case-art', 'aria-hidden': 'true', focusable: 'false' }, host);
  svg('rect', { x: 2, y: 2, width: 596, height: 296, rx: 44, class: 'case' }, root);
  svg('rect', { x: 14, y: 14, width: 572, height: 272, rx: 34, class: 'case-face' }, root);
  svg('rect', { x: 180, y: 96, width: 405, height: 108, rx: 10, class: 'bezel' }, root);
  svg('circle', { cx: 95, cy: 150, r: 62, class: 'button-ring' }, root);
  const brand = svg('text', { x: 382, y: 66, class: 'brand', 'text-anchor': 'middle' }, root);
  brand.textContent = 'kodeviser';
  const serial = svg('text', { x: 570, y: 262, class: 'serial-label', 'text-anchor': 'end' }, root);
  return {
    setSerial: (text) => {
      serial.textContent = text;
    },
  };
}

export interface LcdView {
  /** Lights the segments of the buffer and sets the element's text. */
  show(segments: ArrayLike<number>, text: string): void;
}

/** The 8-cell LCD inside `host` (the data-testid="lcd" element). */
export function drawLcd(host: HTMLElement): LcdView {
  host.replaceChildren();
  const root = svg('svg', { viewBox: LCD_VIEWBOX, class: 'lcd-art', 'aria-hidden': 'true', focusable: 'false' }, host);
  svg('rect', { x: 0, y: 0, width: LCD_WIDTH, height: LCD_HEIGHT, rx: 6, class: 'glass' }, root);
  const cells: SVGElement[][] = [];
  for (let i = 0; i < LCD_CHARS; i++) {
    const g = svg('g', { class: 'cell' }, root);
    cells.push(
      cellShapes(i).map((s) =>
        s.kind === 'polygon'
          ? svg('polygon', { points: pointsAttribute(s.points), class: `seg seg-${s.segment}` }, g)
          : svg('circle', { cx: s.cx, cy: s.cy, r: s.r, class: `seg seg-${s.segment}` }, g),
      ),
    );
  }
  const text = document.createElement('span');
  text.className = 'visually-hidden lcd-text';
  host.appendChild(text);

  const shown: number[] = new Array<number>(LCD_CHARS).fill(-1);
  return {
    show(segments, value) {
      for (let i = 0; i < LCD_CHARS; i++) {
        const byte = segments[i] ?? 0;
        if (shown[i] === byte) continue;
        shown[i] = byte;
        const lit = litSegments(byte);
        (cells[i] as SVGElement[]).forEach((el, k) => el.classList.toggle('on', lit[k] === true));
      }
      if (text.textContent !== value) text.textContent = value;
    },
  };
}
