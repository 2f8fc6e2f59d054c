/**
 * The pages' Content-Security-Policy: this origin's stylesheet and icon, and nothing else — no
 * script at all, inline or not —, forms posted to this origin only, no framing. A login for a
 * relying party (OpenID Connect) ends in a redirect to it, which browsers check against
 * form-action too: that page's policy adds the relying party's origin (cspHeader).
 */
export const PAGES_CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'none'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
};

/** PAGES_CSP as the header's text (what helmet sends), form-action widened by `formAction`. */
export function cspHeader(formAction: readonly string[] = []): string {
  return Object.entries({ ...PAGES_CSP.directives, formAction: [...PAGES_CSP.directives.formAction, ...formAction] })
    .map(([name, values]) => `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${values.join(' ')}`)
    .join(';');
}
