/**
 * A small JSON client for a server over real HTTP (fetch, i.e. undici, which keeps connections
 * alive): every reply comes back as status, headers and the body parsed when it is JSON.
 */
export interface Reply {
  status: number;
  headers: Headers;
  /** the parsed JSON body, or the text when it is not JSON */
  body: unknown;
  text: string;
}

export interface RequestOptions {
  /** a JSON value (sent as application/json) or a string sent as it is */
  body?: unknown;
  headers?: Record<string, string>;
  /** send the admin bearer token */
  admin?: boolean;
}

export interface Client {
  readonly url: string;
  request(method: string, path: string, opts?: RequestOptions): Promise<Reply>;
  get(path: string, opts?: RequestOptions): Promise<Reply>;
  post(path: string, body?: unknown, opts?: RequestOptions): Promise<Reply>;
}

export function createClient(url: string, adminToken: string): Client {
  const request = async (method: string, path: string, opts: RequestOptions = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.admin) headers.authorization = `Bearer ${adminToken}`;
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${url}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    let body: unknown = text;
    if ((res.headers.get('content-type') ?? '').startsWith('application/json')) body = JSON.parse(text);
    return { status: res.status, headers: res.headers, body, text };
  };
  return {
    url,
    request,
    get: (path, opts) => request('GET', path, opts),
    post: (path, body, opts) => request('POST', path, { ...opts, body }),
  };
}
