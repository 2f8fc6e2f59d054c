/**
 * The device lab's entry point (bundled for the browser by scripts/build-lab.js): the token of a
 * device file running in the page, the firmware and the virtual hardware both, with no server
 * round trip for a press. This file is the wiring: DOM events into the session (session.ts),
 * the frame loop that moves virtual time, the `max` pump, and keeping the device in the browser.
 *
 * Nothing here writes to the console: every failure is a message on the page.
 */
import { YEAR_US } from '../crystal.js';
import { parseSpeed } from './clock.js';
import { formatSerial, isoTime } from './format.js';
import { DAY_US, HOUR_US, LabError, LabSession } from './session.js';
import { STORAGE_KEY, ThrottledSaver, forgetStored, readStored, writeStored, type KeyValueStore } from './storage.js';
import { LabView } from './view.js';

/**
 * Where the server offers a device (the demo device of `npm start`). None: 204, an empty body or
 * `null` (a 404 works too, but the browser logs every failed load as a console error).
 */
const DEMO_DEVICE_URL = './device.json';
/** A device file is a few kB; anything much larger is not one. */
const MAX_FILE_BYTES = 1_000_000;
/** Each slice of `max` runs this long before yielding to the page. */
const MAX_SLICE_MS = 8;
/** `max` gives the page a frame when the last one is this old. */
const FRAME_DUE_MS = 30;
const SAVE_INTERVAL_MS = 1000;

const session = new LabSession({ wallMs: () => Date.now(), monoMs: () => performance.now() });
const view = new LabView(document);

function openStorage(): KeyValueStore | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
const storage = openStorage();
let storageWarned = false;
const saver = new ThrottledSaver(
  () => {
    if (!session.loaded) return;
    if (!writeStored(storage, session.deviceJson()) && !storageWarned) {
      storageWarned = true;
      view.message('This browser does not let the lab keep the device: save it with "Save device".', 'error');
    }
  },
  SAVE_INTERVAL_MS,
  { now: () => performance.now(), set: (fn, ms) => window.setTimeout(fn, ms), clear: (h) => window.clearTimeout(h as number) },
);
let savedRevision = -1;
/** What holds the button down: a pointer, or the key (' ' or 'Enter') pressed on it. */
let holder: 'pointer' | string | null = null;

function noteChanges(): void {
  if (session.revision === savedRevision) return;
  savedRevision = session.revision;
  saver.changed();
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Runs a control's action; a refusal or a failure becomes a message, never an uncaught exception. */
function act(fn: () => string | void): void {
  try {
    const note = fn();
    view.message(note ?? ''); // a control without a word to say clears the last one, which is stale now
  } catch (e) {
    view.message(e instanceof LabError ? e.message : `Something went wrong: ${messageOf(e)}`, 'error');
  }
  view.render(session);
  noteChanges();
  if (session.speed === 'max' && !session.paused) startPump();
}

// ---- loading and saving devices ------------------------------------------------------------------

function loaded(source: string): string {
  const m = session.machine;
  if (m === null) return '';
  const s = m.state();
  const ahead = m.now() > Date.now() * 1000 + 1_000_000;
  savedRevision = session.revision;
  saver.changed();
  saver.flush();
  return (
    `Loaded device ${formatSerial(s.serial ?? '')} (${s.profile ?? 'not personalised'}) ${source}. ` +
    (ahead
      ? `Its last known time is later than this computer's clock, so the lab runs from ${isoTime(m.now())}.`
      : 'It runs in real time (x1) from now.')
  );
}

function loadText(text: string, source: string): void {
  session.load(text);
  holder = null; // a new device's button is up
  view.message(loaded(source));
}

async function loadChosenFile(): Promise<void> {
  const file = view.loadDevice.files?.[0];
  if (file === undefined) return;
  try {
    if (file.size > MAX_FILE_BYTES) throw new LabError(`${file.name} is ${file.size} bytes: not a device file.`);
    const text = await file.text();
    try {
      loadText(text, `from ${file.name}`);
    } catch (e) {
      throw new LabError(`${file.name} is not a device the lab can load: ${messageOf(e)}`);
    }
  } catch (e) {
    view.message(e instanceof LabError ? e.message : `Could not read ${file.name}: ${messageOf(e)}`, 'error');
  } finally {
    view.loadDevice.value = ''; // choosing the same file again loads it again
  }
  view.render(session);
}

function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The device at start: the one kept in this browser, else the server's demo device, else none. */
async function start(): Promise<void> {
  const stored = readStored(storage);
  let problem = '';
  if (stored !== null) {
    try {
      loadText(stored, 'kept in this browser');
    } catch (e) {
      forgetStored(storage);
      problem = `The device kept in this browser could not be loaded (${messageOf(e)}), so it was forgotten. `;
    }
  }
  if (!session.loaded) {
    const text = await fetchDemoDevice();
    if (text !== null) {
      try {
        loadText(text, 'offered by the server');
      } catch (e) {
        problem += `The server's demo device could not be loaded: ${messageOf(e)}. `;
      }
    }
  }
  if (!session.loaded)
    view.message(
      `${problem}Load a device: choose a device file (kodeviser manufacture --out FILE) with "Load device".`,
      problem === '' ? 'info' : 'error',
    );
  view.render(session);
  window.requestAnimationFrame(frame);
}

async function fetchDemoDevice(): Promise<string | null> {
  try {
    const r = await fetch(DEMO_DEVICE_URL, { cache: 'no-store', headers: { accept: 'application/json' } });
    if (!r.ok || r.status === 204) return null;
    const text = await r.text();
    return text.trim() === '' || text.trim() === 'null' ? null : text; // "nothing offered" in any of its spellings
  } catch {
    return null; // no server (a file:// page) or no network: no demo device
  }
}

// ---- the button --------------------------------------------------------------------------------

function down(by: string): void {
  if (holder !== null || !session.loaded) return;
  holder = by;
  act(() => void session.buttonDown());
}

function up(): void {
  if (holder === null) return;
  holder = null;
  act(() => void session.buttonUp());
}

view.press.addEventListener('pointerdown', (e) => {
  if (e.button !== 0) return;
  try {
    view.press.setPointerCapture(e.pointerId);
  } catch {
    // a synthetic pointer has nothing to capture: the window's pointerup still ends the press
  }
  down('pointer');
});
const pointerUp = (): void => {
  if (holder === 'pointer') up();
};
view.press.addEventListener('pointerup', pointerUp);
view.press.addEventListener('pointercancel', pointerUp);
view.press.addEventListener('lostpointercapture', pointerUp);
window.addEventListener('pointerup', pointerUp);
view.press.addEventListener('contextmenu', (e) => e.preventDefault());
view.press.addEventListener('keydown', (e) => {
  if (e.key !== ' ' && e.key !== 'Enter') return;
  e.preventDefault(); // the edges are the key's own; no synthetic click
  if (!e.repeat) down(e.key);
});
window.addEventListener('keyup', (e) => {
  if (holder !== null && holder === e.key) {
    e.preventDefault();
    up();
  }
});
// a key released while the window had no focus never arrives: let go when focus leaves
window.addEventListener('blur', () => {
  if (holder !== null && holder !== 'pointer') up();
});

// ---- time ----------------------------------------------------------------------------------------

view.pause.addEventListener('click', () => act(() => (session.paused ? session.resume() : session.pause())));
view.step.addEventListener('click', () =>
  act(() => {
    const label = session.step();
    return label === null
      ? 'Paused. Nothing is scheduled: the token sleeps until the button is pressed.'
      : `Paused after one event: ${label}.`;
  }),
);
view.speed.addEventListener('change', () =>
  act(() => {
    const speed = parseSpeed(view.speed.value);
    if (speed === null) throw new LabError(`Unknown speed ${view.speed.value}.`);
    session.setSpeed(speed);
  }),
);
view.plusHour.addEventListener('click', () => act(() => session.jump(HOUR_US)));
view.plusDay.addEventListener('click', () => act(() => session.jump(DAY_US)));
view.plusYear.addEventListener('click', () => act(() => session.jump(YEAR_US)));
view.untilChange.addEventListener('click', () =>
  act(() =>
    session.untilChange()
      ? `Paused at ${isoTime(session.machine!.now())}: the display changed.`
      : `Paused at ${isoTime(session.machine!.now())}: the display did not change within a year.`,
  ),
);
const goTo = (): void =>
  act(() => {
    const { us, reloaded } = session.goTo(view.setTime.value);
    return reloaded
      ? `Paused at ${isoTime(us)}. Time cannot run backwards, so the device was reloaded as it was loaded and run to that time (what happened in the lab since is undone).`
      : `Paused at ${isoTime(us)}.`;
  });
view.setTimeGo.addEventListener('click', goTo);
view.setTime.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    e.preventDefault();
    goTo();
  }
});
view.normalUse.addEventListener('change', () => act(() => session.setNormalUse(view.normalUse.checked)));

// ---- environment and files ------------------------------------------------------------------------

view.temperature.addEventListener('input', () => act(() => session.setTemperature(Number(view.temperature.value))));
view.loadDevice.addEventListener('change', () => void loadChosenFile());
view.saveDevice.addEventListener('click', () =>
  act(() => {
    download(session.fileName(), session.deviceJson(), 'application/json');
    return `Saved ${session.fileName()}.`;
  }),
);
view.downloadVcd.addEventListener('click', () =>
  act(() => {
    const name = session.fileName().replace(/\.json$/, '-session.vcd');
    download(name, session.vcd(), 'text/plain');
    return session.vcdTruncated ? `Saved ${name} (the recording stopped growing at its size limit).` : `Saved ${name}.`;
  }),
);

// ---- the loop ------------------------------------------------------------------------------------

let lastFrame = performance.now();
let pumping = false;
const channel = new MessageChannel();

function maxRunning(): boolean {
  return session.loaded && !session.paused && session.speed === 'max';
}

/** `max`: slices of work back to back, handing the page a frame whenever one is due. */
function pump(): void {
  if (!maxRunning() || performance.now() - lastFrame > FRAME_DUE_MS) {
    pumping = false;
    return;
  }
  try {
    session.maxSlice(MAX_SLICE_MS);
  } catch (e) {
    session.pause();
    view.message(`Stopped: ${messageOf(e)}`, 'error');
  }
  channel.port2.postMessage(null);
}
channel.port1.onmessage = pump;

function startPump(): void {
  if (pumping || !maxRunning()) return;
  pumping = true;
  channel.port2.postMessage(null);
}

function frame(): void {
  lastFrame = performance.now();
  window.requestAnimationFrame(frame);
  try {
    session.frame();
  } catch (e) {
    session.pause();
    view.message(`Stopped: ${messageOf(e)}`, 'error');
  }
  startPump();
  view.render(session);
  noteChanges();
}

window.addEventListener('pagehide', () => saver.flush());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') saver.flush();
});

// A handle for the browser's developer tools and for benchmarks: the session (read it; the page's controls drive it).
Object.defineProperty(window, 'kodeviserLab', { value: { session, storageKey: STORAGE_KEY }, configurable: false });

view.render(session);
void start();
