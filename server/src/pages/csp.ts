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

/**
 * PAGES_CSP as the header's text (what helmet sends), form-action widened by `formAction`, and
 * with a script-src of `scriptSrc` when given (the OpenID provider's form_post, pages.ts there).
 */
export function cspHeader(formAction: readonly string[] = [], scriptSrc: readonly string[] = []): string {
  const directives: Record<string, readonly string[]> = {
    ...PAGES_CSP.directives,
    ...(scriptSrc.length > 0 ? { scriptSrc } : {}),
    formAction: [...PAGES_CSP.directives.formAction, ...formAction],
  };
  return Object.entries(directives)
    .map(([name, values]) => `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${values.join(' ')}`)
    .join(';');
}
