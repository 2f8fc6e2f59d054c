/**
 * What each screen puts on the eight characters (docs/token.md, "Button and screens"):
 *
 *   code, 6 digits   ` 123456 `  characters 1–6; character 0 shows `b` when the battery is low
 *   code, 7 digits   ` 1234567`  characters 1–7; `b` in character 0 as for 6 digits
 *   code, 8 digits   `12345678`  all eight; low battery lights the decimal point of character 7
 *                                (no character is left for the `b`)
 *   battery empty    `bAtt    `  no code
 *   NVM write failed `Err  EE `  the counter could not be stored, so no code (EE: the EEPROM)
 *   not sealed       `FActory `  a token before factory sealing shows nothing useful
 *   menu             the moving factor (totp time step / hotp next counter, right-aligned, its
 *                    low eight digits), `bAt   87` (battery percent), the serial in its printed
 *                    form `NN-NNNNNNN-N` over two screens `12-34567` / `    89-7`, and
 *                    `F  1.0.0` (firmware version).
 */
import { formatSerial } from '@kodeviser/shared';
import { DP, LCD_CHARS, segmentsFor } from './font.js';

export const BLANK: readonly number[] = Object.freeze(new Array<number>(LCD_CHARS).fill(0));
export const TEXT_BATTERY_EMPTY = 'bAtt';
export const TEXT_NVM_ERROR = 'Err  EE';
export const TEXT_FACTORY = 'FActory';

export function codeSegments(code: string, lowBattery: boolean): number[] {
  if (code.length === LCD_CHARS) {
    const seg = segmentsFor(code);
    if (lowBattery) seg[LCD_CHARS - 1] = (seg[LCD_CHARS - 1] as number) | DP;
    return seg;
  }
  return segmentsFor(`${lowBattery ? 'b' : ' '}${code}`);
}

export function rightAligned(text: string): number[] {
  const cells = text.replace(/\./g, '').length;
  return segmentsFor(' '.repeat(Math.max(0, LCD_CHARS - cells)) + text);
}

/** The menu's items in order; each further short press shows the next one, after the last the first. */
export const MENU_ITEMS = ['moving-factor', 'battery', 'serial-1', 'serial-2', 'version'] as const;
export type MenuItem = (typeof MENU_ITEMS)[number];

export interface MenuFacts {
  movingFactor: number;
  batteryPercent: number;
  serial: string;
  firmwareVersion: string;
}

export function menuSegments(item: MenuItem, facts: MenuFacts): number[] {
  switch (item) {
    case 'moving-factor':
      return rightAligned(String(facts.movingFactor % 1e8));
    case 'battery':
      return segmentsFor(`bAt${String(facts.batteryPercent).padStart(5, ' ')}`);
    case 'serial-1':
      return segmentsFor(formatSerial(facts.serial).slice(0, LCD_CHARS));
    case 'serial-2':
      return rightAligned(formatSerial(facts.serial).slice(LCD_CHARS));
    case 'version':
      return segmentsFor(
        `F${' '.repeat(Math.max(1, LCD_CHARS - 1 - facts.firmwareVersion.replace(/\./g, '').length))}${facts.firmwareVersion}`,
      );
  }
}
