/**
 * The page's read-outs: every frame, what the session holds goes into the elements of
 * index.html, each written only when its text changed (a running lab renders sixty times a
 * second; the DOM should not churn). No markup strings, no inline styles: text, attributes and
 * classes only.
 */
import { LCD_CHARS } from '@kodeviser/firmware';
import { SPEED_OPTIONS, speedValue } from './clock.js';
import { drawCase, drawLcd, type LcdView } from './device-svg.js';
import {
  formatCelsius,
  formatPercent,
  formatPpm,
  formatSerial,
  hexDump,
  isoTime,
  outOfOperatingRange,
  signedDuration,
  traceLine,
} from './format.js';
import type { LabSession } from './session.js';

function byId<T extends HTMLElement>(doc: Document, id: string, type: { new (): T }): T {
  const el = doc.getElementById(id);
  if (!(el instanceof type)) throw new Error(`the page has no ${type.name} #${id}`);
  return el;
}

function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export class LabView {
  readonly press: HTMLButtonElement;
  readonly pause: HTMLButtonElement;
  readonly step: HTMLButtonElement;
  readonly speed: HTMLSelectElement;
  readonly plusHour: HTMLButtonElement;
  readonly plusDay: HTMLButtonElement;
  readonly plusYear: HTMLButtonElement;
  readonly untilChange: HTMLButtonElement;
  readonly setTime: HTMLInputElement;
  readonly setTimeGo: HTMLButtonElement;
  readonly normalUse: HTMLInputElement;
  readonly temperature: HTMLInputElement;
  readonly loadDevice: HTMLInputElement;
  readonly saveDevice: HTMLButtonElement;
  readonly downloadVcd: HTMLButtonElement;
  private readonly doc: Document;
  private readonly messageEl: HTMLElement;
  private readonly device: HTMLElement;
  private readonly lcd: LcdView;
  private readonly caseArt: { setSerial(text: string): void };
  private readonly text: Record<string, HTMLElement>;
  private readonly temperatureFlag: HTMLElement;
  private readonly batteryFlag: HTMLElement;
  private readonly trueMeter: HTMLMeterElement;
  private readonly firmwareMeter: HTMLMeterElement;
  private readonly nvm: HTMLElement;
  private readonly trace: HTMLOListElement;
  private lastNvm: Uint8Array | null = null;
  private lastTraceCount = -1;
  private lastSession: unknown = null;

  constructor(doc: Document) {
    this.doc = doc;
    const b = (id: string): HTMLButtonElement => byId(doc, id, HTMLButtonElement);
    const i = (id: string): HTMLInputElement => byId(doc, id, HTMLInputElement);
    this.press = b('press');
    this.pause = b('pause');
    this.step = b('step');
    this.speed = byId(doc, 'speed', HTMLSelectElement);
    this.plusHour = b('plus-hour');
    this.plusDay = b('plus-day');
    this.plusYear = b('plus-year');
    this.untilChange = b('until-change');
    this.setTime = i('set-time');
    this.setTimeGo = b('set-time-go');
    this.normalUse = i('normal-use');
    this.temperature = i('temperature');
    this.loadDevice = i('load-device');
    this.saveDevice = b('save-device');
    this.downloadVcd = b('download-vcd');
    this.messageEl = byId(doc, 'message', HTMLElement);
    this.device = byId(doc, 'device', HTMLElement);
    this.caseArt = drawCase(byId(doc, 'case', HTMLElement));
    this.lcd = drawLcd(byId(doc, 'lcd', HTMLElement));
    this.text = Object.fromEntries(
      [
        'serial',
        'profile',
        'screen',
        'codes-shown',
        'moving-factor',
        'power',
        'true-clock',
        'device-clock',
        'clock-offset',
        'ppm',
        'run-state',
        'next-event',
        'temperature-value',
        'battery-true',
        'battery-firmware',
      ].map((id) => [id, byId(doc, id, HTMLElement)]),
    );
    this.temperatureFlag = byId(doc, 'temperature-flag', HTMLElement);
    this.batteryFlag = byId(doc, 'battery-flag', HTMLElement);
    this.trueMeter = byId(doc, 'battery-true-meter', HTMLMeterElement);
    this.firmwareMeter = byId(doc, 'battery-firmware-meter', HTMLMeterElement);
    this.nvm = byId(doc, 'nvm', HTMLElement);
    this.trace = byId(doc, 'trace', HTMLOListElement);

    for (const o of SPEED_OPTIONS) {
      const option = doc.createElement('option');
      option.value = o.value;
      option.textContent = o.label;
      this.speed.appendChild(option);
    }
    this.lcd.show(new Uint8Array(LCD_CHARS), ' '.repeat(LCD_CHARS));
  }

  /** A line for the user; errors look like errors. Never the console. */
  message(text: string, kind: 'info' | 'error' = 'info'): void {
    setText(this.messageEl, text);
    this.messageEl.classList.toggle('error', kind === 'error');
  }

  /** The controls that need a device. */
  private enable(on: boolean): void {
    for (const el of [
      this.press,
      this.pause,
      this.step,
      this.speed,
      this.plusHour,
      this.plusDay,
      this.plusYear,
      this.untilChange,
      this.setTime,
      this.setTimeGo,
      this.normalUse,
      this.temperature,
      this.saveDevice,
      this.downloadVcd,
    ]) {
      if (el.disabled === on) el.disabled = !on;
    }
  }

  /** Writes everything the session shows now. */
  render(session: LabSession): void {
    const m = session.machine;
    this.enable(m !== null);
    if (m === null) return;
    if (this.lastSession !== m) {
      // a new device: forget what the previous one showed
      this.lastSession = m;
      this.lastNvm = null;
      this.lastTraceCount = -1;
    }
    const t = this.text as Record<string, HTMLElement>;
    const s = m.state();
    this.lcd.show(m.lcdSegments(), m.lcd());
    const serial = formatSerial(s.serial ?? '');
    setText(t['serial']!, serial);
    this.caseArt.setSerial(serial === '' ? '' : `SN ${serial}`);
    setText(t['profile']!, s.profile ?? '—');
    setText(t['screen']!, s.screen);
    setText(t['codes-shown']!, String(s.codesShown));
    setText(t['moving-factor']!, s.movingFactor === null ? '—' : String(s.movingFactor));
    setText(t['power']!, s.powered ? 'on' : 'off (no power)');

    const now = m.now();
    const device = m.deviceTime();
    setText(t['true-clock']!, isoTime(now));
    setText(t['device-clock']!, isoTime(device));
    setText(t['clock-offset']!, signedDuration(device - now));
    setText(t['ppm']!, formatPpm(session.ppm()));
    const held = session.buttonHeld ? ', button held' : '';
    setText(t['run-state']!, session.paused ? `paused${held}` : `running at ${speedValue(session.speed)}${held}`);
    const next = session.nextEvent();
    setText(t['next-event']!, next === null ? 'nothing scheduled' : `${next.label || 'event'} at ${isoTime(next.at)}`);
    this.press.classList.toggle('held', session.buttonHeld);
    setText(this.pause, session.paused ? 'Resume' : 'Pause');
    const speed = speedValue(session.speed);
    if (this.speed.value !== speed) this.speed.value = speed;
    if (this.normalUse.checked !== session.normalUse) this.normalUse.checked = session.normalUse;

    const c = session.temperatureC;
    setText(t['temperature-value']!, formatCelsius(c));
    if (Number(this.temperature.value) !== c && this.doc.activeElement !== this.temperature) this.temperature.value = String(c);
    const hot = outOfOperatingRange(c);
    this.temperatureFlag.hidden = !hot;
    this.device.classList.toggle('out-of-spec', hot);

    const truePercent = session.trueBatteryPercent(s);
    setText(t['battery-true']!, formatPercent(truePercent, 2));
    setText(t['battery-firmware']!, formatPercent(s.batteryPercent, 0));
    this.trueMeter.value = truePercent;
    this.firmwareMeter.value = s.batteryPercent;
    this.batteryFlag.hidden = !s.lowBattery;

    const bytes = m.nvm();
    if (this.lastNvm === null || !sameBytes(this.lastNvm, bytes)) {
      this.lastNvm = bytes;
      setText(this.nvm, hexDump(bytes));
    }
    if (session.traceCount !== this.lastTraceCount) {
      this.lastTraceCount = session.traceCount;
      const box = this.trace.parentElement;
      const following = box === null || box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
      this.trace.replaceChildren(
        ...session.traceTail().map((r) => {
          const li = this.doc.createElement('li');
          li.className = `kind-${r.kind}`;
          li.textContent = traceLine(r);
          return li;
        }),
      );
      // keep showing the newest records, unless the user scrolled up to read
      if (box !== null && following) box.scrollTop = box.scrollHeight;
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
