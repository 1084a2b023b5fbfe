/** The fields of an RFC 7807 problem (`application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
}

const PROBLEM_BASE = "https://warden.dev/problems/";

/**
 * An error answer of `warden server` (its RFC 7807 problem), or a failure to reach it
 * (`status` 0, `type` `…/connection`). The message never carries the bearer token.
 */
export class WardenError extends Error implements Problem {
  override readonly name = "WardenError";
  /** HTTP status; 0 when the server could not be reached or answered garbage. */
  readonly status: number;
  /** `https://warden.dev/problems/<slug>`. */
  readonly type: string;
  readonly title: string;
  readonly detail?: string;
  readonly instance?: string;
  /** The request that failed, e.g. `POST /v1/sandboxes` (no query string). */
  readonly request?: string;

  constructor(problem: Problem, options?: { request?: string; cause?: unknown }) {
    const where = options?.request ? ` [${options.request}]` : "";
    const detail = problem.detail ? `: ${problem.detail}` : "";
    super(`${problem.title} (${problem.status})${detail}${where}`,
      options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    if (problem.detail !== undefined) this.detail = problem.detail;
    if (problem.instance !== undefined) this.instance = problem.instance;
    if (options?.request !== undefined) this.request = options.request;
  }

  /** The problem's slug: `not-found`, `conflict`, `not-running`, … */
  get slug(): string {
    return this.type.startsWith(PROBLEM_BASE) ? this.type.slice(PROBLEM_BASE.length) : this.type;
  }

  toJSON(): Problem & { request?: string } {
    const out: Problem & { request?: string } = { type: this.type, title: this.title, status: this.status };
    if (this.detail !== undefined) out.detail = this.detail;
    if (this.instance !== undefined) out.instance = this.instance;
    if (this.request !== undefined) out.request = this.request;
    return out;
  }
}

/** Builds the error for a non-2xx answer, from its problem body when there is one. */
export async function errorFromResponse(res: Response, request: string, secret?: string): Promise<WardenError> {
  let text = "";
  try {
    text = await res.text();
  } catch {
    // The body could not be read: the status alone says enough.
  }
  let problem: Problem | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object") {
      const p = parsed as Record<string, unknown>;
      problem = {
        type: typeof p.type === "string" ? p.type : "about:blank",
        title: typeof p.title === "string" ? p.title : res.statusText || `HTTP ${res.status}`,
        status: typeof p.status === "number" ? p.status : res.status,
      };
      if (typeof p.detail === "string") problem.detail = p.detail;
      if (typeof p.instance === "string") problem.instance = p.instance;
    }
  } catch {
    // Not JSON: fall through.
  }
  if (!problem) {
    problem = { type: "about:blank", title: res.statusText || `HTTP ${res.status}`, status: res.status };
    const snippet = text.trim().slice(0, 200);
    if (snippet) problem.detail = snippet;
  }
  return new WardenError(redact(problem, secret), { request });
}

/** Strips a secret from every text field, in case a server or proxy echoed it. */
export function redact(problem: Problem, secret?: string): Problem {
  if (!secret) return problem;
  const clean = (s: string) => s.split(secret).join("[redacted]");
  const out: Problem = { type: clean(problem.type), title: clean(problem.title), status: problem.status };
  if (problem.detail !== undefined) out.detail = clean(problem.detail);
  if (problem.instance !== undefined) out.instance = clean(problem.instance);
  return out;
}

export function connectionError(request: string, cause: unknown): WardenError {
  const why = cause instanceof Error
    ? (cause.cause instanceof Error ? cause.cause.message : cause.message)
    : String(cause);
  return new WardenError(
    { type: `${PROBLEM_BASE}connection`, title: "Cannot reach the Warden server", status: 0, detail: why },
    { request, cause },
  );
}

function causeCode(e: unknown): string | undefined {
  for (let c: unknown = e, i = 0; c && typeof c === "object" && i < 4; c = (c as { cause?: unknown }).cause, i++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** Whether `e` is Node's fetch giving up on a response's headers (a long poll held too long). */
export function isHeadersTimeout(e: unknown): boolean {
  return e instanceof WardenError && e.status === 0 && causeCode(e.cause) === "UND_ERR_HEADERS_TIMEOUT";
}

/** The error for a response body that failed mid-way (an abort is passed through as is). */
export function streamCut(request: string, cause: unknown): unknown {
  if (isAbortError(cause)) return cause;
  const detail =
    causeCode(cause) === "UND_ERR_BODY_TIMEOUT"
      ? "no data for 300 s: Node's fetch gives up on a silent response (undici's bodyTimeout), and the server " +
        "ends a streamed command whose client is gone; run long silent commands detached, or pass a fetch " +
        "with a longer bodyTimeout in the connection options"
      : cause instanceof Error
        ? (cause.cause instanceof Error ? cause.cause.message : cause.message)
        : String(cause);
  return new WardenError(
    { type: `${PROBLEM_BASE}connection`, title: "The stream from the Warden server was cut", status: 0, detail },
    { request, cause },
  );
}

export function isAbortError(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { name?: unknown }).name === "AbortError";
}
