import { connectionError, errorFromResponse, isAbortError, WardenError } from "./errors.js";

/** How to reach `warden server`. */
export interface ConnectionOptions {
  /** Base URL of the server; default `WARDEN_SERVER_URL`, else `http://127.0.0.1:7070`. */
  url?: string;
  /** Bearer token; default `WARDEN_SERVER_TOKEN`. */
  token?: string;
  /** A `fetch` to use instead of the global one (proxies, tests). */
  fetch?: typeof fetch;
}

export const DEFAULT_URL = "http://127.0.0.1:7070";

function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value === undefined || value === "" ? undefined : value;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  accept?: string;
  signal?: AbortSignal | undefined;
  /** Statuses handed back to the caller instead of thrown (e.g. 404 for readFile). */
  allow?: number[];
}

/** One server, one token. Shared by every object it made. */
export class Client {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: ConnectionOptions = {}) {
    const url = options.url ?? env("WARDEN_SERVER_URL") ?? DEFAULT_URL;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new WardenError({
        type: "https://warden.dev/problems/invalid-request",
        title: "Invalid server URL",
        status: 0,
        detail: "the Warden server URL (url option or WARDEN_SERVER_URL) is not an absolute URL",
      });
    }
    if (parsed.username || parsed.password) {
      throw new WardenError({
        type: "https://warden.dev/problems/invalid-request",
        title: "Invalid server URL",
        status: 0,
        detail: "put the token in the token option or WARDEN_SERVER_TOKEN, not in the URL",
      });
    }
    this.baseUrl = parsed.href.replace(/\/+$/, "");
    this.#token = options.token ?? env("WARDEN_SERVER_TOKEN");
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Whether a token is configured (never the token itself). */
  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** Sends a request; non-2xx answers (except `allow`ed ones) throw a `WardenError`. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: options.accept ?? "application/json", ...options.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    let body: string | undefined = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["content-type"] = "application/json";
    }
    const what = `${method} ${path}`;
    let res: Response;
    try {
      const init: RequestInit = { method, headers };
      if (body !== undefined) init.body = body;
      if (options.signal) init.signal = options.signal;
      res = await this.#fetch(url, init);
    } catch (e) {
      if (isAbortError(e) || options.signal?.aborted) throw options.signal?.reason ?? e;
      throw connectionError(what, e);
    }
    if (res.ok || options.allow?.includes(res.status)) return res;
    throw await errorFromResponse(res, what, this.#token);
  }

  /** A request whose answer is JSON. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, options);
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new WardenError(
        {
          type: "https://warden.dev/problems/invalid-response",
          title: "The server's answer is not JSON",
          status: res.status,
          detail: text.slice(0, 200),
        },
        { request: `${method} ${path}`, cause: e },
      );
    }
  }

  /** A request answered 204 (or any 2xx whose body does not matter). */
  async empty(method: string, path: string, options: RequestOptions = {}): Promise<void> {
    const res = await this.request(method, path, options);
    await res.body?.cancel().catch(() => {});
  }
}

export function enc(segment: string): string {
  return encodeURIComponent(segment);
}
