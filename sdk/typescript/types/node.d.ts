// The few Node.js APIs the tests and the example use, declared here so that TypeScript
// stays the only dev dependency (no @types/node). Not part of the published package.

declare var process: {
  env: Record<string, string | undefined>;
  argv: string[];
  exitCode: number | undefined;
  pid: number;
  stdout: { write(chunk: string | Uint8Array): boolean };
  stderr: { write(chunk: string | Uint8Array): boolean };
  exit(code?: number): never;
  on(event: string, listener: (...args: any[]) => void): unknown;
  cwd(): string;
};

declare module "node:test" {
  export interface TestContext {
    skip(message?: string): void;
    todo(message?: string): void;
    diagnostic(message: string): void;
    after(fn: () => unknown): void;
  }
  export interface TestOptions {
    skip?: boolean | string;
    todo?: boolean | string;
    timeout?: number;
    concurrency?: number | boolean;
  }
  type Fn = (t: TestContext) => unknown;
  export function test(name: string, fn?: Fn): Promise<void>;
  export function test(name: string, options: TestOptions, fn?: Fn): Promise<void>;
  export function describe(name: string, fn: () => unknown): Promise<void>;
  export function describe(name: string, options: TestOptions, fn: () => unknown): Promise<void>;
  export const it: typeof test;
  export function before(fn: () => unknown, options?: { timeout?: number }): void;
  export function after(fn: () => unknown, options?: { timeout?: number }): void;
  export function beforeEach(fn: () => unknown): void;
  export function afterEach(fn: () => unknown): void;
  export default test;
}

declare module "node:assert/strict" {
  interface Assert {
    (value: unknown, message?: string): asserts value;
    ok(value: unknown, message?: string): asserts value;
    equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    notEqual(actual: unknown, expected: unknown, message?: string): void;
    deepEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    match(value: string, regexp: RegExp, message?: string): void;
    doesNotMatch(value: string, regexp: RegExp, message?: string): void;
    rejects(block: Promise<unknown> | (() => Promise<unknown>), error?: unknown, message?: string): Promise<void>;
    throws(block: () => unknown, error?: unknown, message?: string): void;
    fail(message?: string): never;
  }
  const assert: Assert;
  export default assert;
}

declare module "node:child_process" {
  interface Readable {
    on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
    on(event: string, listener: (...args: any[]) => void): unknown;
    setEncoding(enc: string): unknown;
  }
  export interface ChildProcess {
    pid?: number;
    exitCode: number | null;
    signalCode: string | null;
    stdout: Readable | null;
    stderr: Readable | null;
    kill(signal?: string): boolean;
    on(event: "exit", listener: (code: number | null, signal: string | null) => void): ChildProcess;
    on(event: string, listener: (...args: any[]) => void): ChildProcess;
    once(event: string, listener: (...args: any[]) => void): ChildProcess;
  }
  export function spawn(
    command: string,
    args: string[],
    options?: { env?: Record<string, string | undefined>; cwd?: string; stdio?: unknown; detached?: boolean },
  ): ChildProcess;
  export function execFileSync(command: string, args: string[], options?: { encoding?: string; env?: Record<string, string | undefined>; stdio?: unknown }): string;
}

declare module "node:fs" {
  export function existsSync(path: string): boolean;
  export function readFileSync(path: string, encoding: "utf8"): string;
}

declare module "node:fs/promises" {
  export function mkdtemp(prefix: string): Promise<string>;
  export function rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void>;
  export function writeFile(path: string, data: string | Uint8Array, options?: { mode?: number }): Promise<void>;
  export function readFile(path: string, encoding: "utf8"): Promise<string>;
  export function mkdir(path: string, options?: { recursive?: boolean }): Promise<string | undefined>;
}

declare module "node:os" {
  export function tmpdir(): string;
}

declare module "node:path" {
  export function join(...parts: string[]): string;
  export function resolve(...parts: string[]): string;
  export function dirname(path: string): string;
}

declare module "node:url" {
  export function fileURLToPath(url: string | URL): string;
}

declare module "node:net" {
  export interface AddressInfo {
    address: string;
    port: number;
  }
  export interface Server {
    listen(port: number, host: string, cb?: () => void): Server;
    address(): AddressInfo | string | null;
    close(cb?: (err?: Error) => void): Server;
  }
  export function createServer(): Server;
}

declare module "node:http" {
  export interface IncomingMessage {
    method?: string;
    url?: string;
    headers: Record<string, string | string[] | undefined>;
    statusCode?: number;
    on(event: "data", listener: (chunk: Uint8Array) => void): IncomingMessage;
    on(event: "end" | "close", listener: () => void): IncomingMessage;
    on(event: string, listener: (...args: any[]) => void): IncomingMessage;
    setEncoding(enc: string): IncomingMessage;
  }
  export interface ServerResponse {
    statusCode: number;
    writeHead(status: number, headers?: Record<string, string>): ServerResponse;
    setHeader(name: string, value: string): void;
    write(chunk: string | Uint8Array): boolean;
    end(chunk?: string | Uint8Array): void;
    on(event: "close", listener: () => void): ServerResponse;
    flushHeaders(): void;
    destroy(): void;
    readonly writableEnded: boolean;
  }
  export interface Server {
    listen(port: number, host: string, cb?: () => void): Server;
    address(): { address: string; port: number } | string | null;
    close(cb?: (err?: Error) => void): Server;
    closeAllConnections(): void;
  }
  export function createServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Server;
  export interface ClientRequest {
    on(event: "error", listener: (e: Error) => void): ClientRequest;
    end(body?: string): void;
  }
  export function request(
    options: { host: string; port: number; path: string; method?: string; headers?: Record<string, string> },
    cb: (res: IncomingMessage) => void,
  ): ClientRequest;
}

declare module "node:https" {
  import type { IncomingMessage, ServerResponse, Server } from "node:http";
  export function createServer(
    options: { key: string; cert: string },
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ): Server;
}

declare module "node:dns/promises" {
  export function lookup(host: string, options: { all: true }): Promise<{ address: string; family: number }[]>;
}
