/**
 * The browser suite's helpers. Debian's chromium, driven by playwright-core (never a downloaded
 * browser), and skipped plainly where it is missing. What every browser test checks: no console
 * error, no uncaught page error and no CSP violation on any page of a context (a CSP violation is
 * made a console error by a script the browser runs before the page's own, injected over the
 * DevTools protocol, so the page's CSP does not stop it), and text contrast.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import type { Test } from 'tap';

export const CHROMIUM = '/usr/bin/chromium';

/** Whether the suite can run here; where chromium is missing, `t` is planned as skipped, saying why. */
export function haveChromium(t: Test): boolean {
  if (existsSync(CHROMIUM)) return true;
  t.plan(0, `skipped: ${CHROMIUM} not found (apt-get install chromium): the browser suite needs Debian's chromium`);
  return false;
}

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

const REPORT_CSP_VIOLATIONS =
  "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));";

/** Collects into `problems` what goes wrong on every page `context` opens from now on. */
export async function watch(context: BrowserContext, problems: string[]): Promise<void> {
  await context.addInitScript({ content: REPORT_CSP_VIOLATIONS });
  const hook = (page: Page): void => {
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() !== 'error') return;
      // Chromium logs a page answered with a 4xx as a failed load; a form answered with its
      // refusal (400, 401, 429) is such a page, and what it says is the test's to check. A failed
      // load of anything else (a stylesheet, an icon) stays a problem.
      if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()) && m.location().url === page.url()) return;
      problems.push(`console: ${m.text()} (${m.location().url || page.url()})`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message} (${page.url()})`));
  };
  context.pages().forEach(hook);
  context.on('page', hook);
}

/**
 * The text on `page` whose colour against its background is under 4.5:1 (WCAG 2.2 1.4.3), each as
 * "TAG "text" ratio". Run in the page over the DevTools protocol (its CSP allows no script).
 */
export async function lowContrast(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const low = [];
    for (const el of document.querySelectorAll('body *')) {
      if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '')) continue;
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      if (style.visibility === 'hidden' || box.width === 0 || box.right < 0) continue;
      const [hi, lo] = [luminance(rgba(style.color).slice(0, 3)), luminance(background(el))].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      if (ratio < 4.5) low.push(el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" ' + ratio.toFixed(2));
    }
    return low;
  })()`);
}
