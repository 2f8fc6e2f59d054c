/**
 * A relying party's side of the code flow, with openid-client: its authorization request (PKCE
 * S256, state and nonce) and what it must keep to exchange the code that comes back.
 */
import * as client from 'openid-client';

export interface AuthorizationRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

/** The authorization request for `redirectUri`, `extra` parameters added (null: one left out). */
export async function authorizationRequest(
  config: client.Configuration,
  redirectUri: string,
  extra: Record<string, string | null> = {},
): Promise<AuthorizationRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params: Record<string, string | null> = {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  };
  const url = client.buildAuthorizationUrl(
    config,
    Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== null)),
  );
  return { url, verifier, state, nonce };
}

/** The code that came back to `redirect`, exchanged: the tokens, their ID token checked against the request. */
export function exchange(config: client.Configuration, redirect: URL, asked: AuthorizationRequest) {
  return client.authorizationCodeGrant(config, redirect, {
    pkceCodeVerifier: asked.verifier,
    expectedState: asked.state,
    expectedNonce: asked.nonce,
  });
}
