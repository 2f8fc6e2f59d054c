/**
 * What a relying party asks to have approved, as it asks a code-display broker today:
 * `idp_params={"mitid":{"reference_text":"<base64 of the text>","action_text":"APPROVE"}}`. The
 * text is at most MAX_REFERENCE_TEXT characters once decoded (UTF-8), the action one of ACTIONS
 * (LOG_ON when not given). Pure: the OpenID provider refuses the authorization request with the
 * error this gives, before anyone is asked to log in.
 */
import { ACTIONS, MAX_REFERENCE_TEXT, type Action } from './types.js';

export interface ApprovalAsked {
  action: Action;
  /** the text to approve, decoded; absent for a plain login */
  referenceText?: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$|^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The approval `idpParams` (the parameter's value, or undefined) asks for, or why it cannot be read. */
export function parseIdpParams(idpParams: unknown): ApprovalAsked | { error: string } {
  if (idpParams === undefined || idpParams === '') return { action: 'LOG_ON' };
  if (typeof idpParams !== 'string') return { error: 'idp_params must be given once' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(idpParams);
  } catch {
    return { error: 'idp_params must be a JSON object' };
  }
  const mitid = (parsed as { mitid?: unknown } | null)?.mitid;
  if (typeof mitid !== 'object' || mitid === null || Array.isArray(mitid)) return { error: 'idp_params must hold a "mitid" object' };
  const { action_text: actionText, reference_text: referenceText } = mitid as Record<string, unknown>;
  const action = actionText ?? 'LOG_ON';
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    return { error: `mitid.action_text must be one of ${ACTIONS.join(', ')}` };
  }
  if (referenceText === undefined) return { action: action as Action };
  if (typeof referenceText !== 'string' || referenceText.length === 0 || !BASE64.test(referenceText)) {
    return { error: 'mitid.reference_text must be base64 (of the UTF-8 text)' };
  }
  let text: string;
  try {
    text = utf8.decode(Buffer.from(referenceText, referenceText.includes('-') || referenceText.includes('_') ? 'base64url' : 'base64'));
  } catch {
    return { error: 'mitid.reference_text must be base64 of UTF-8 text' };
  }
  const length = [...text].length;
  if (length === 0 || length > MAX_REFERENCE_TEXT) {
    return { error: `mitid.reference_text must be 1 to ${MAX_REFERENCE_TEXT} characters once decoded` };
  }
  return { action: action as Action, referenceText: text };
}
