// Wire types of the `warden server` HTTP API (docs/server-api.md). Field names are the
// API's own; the SDK classes wrap them.

/** Where a new sandbox's files come from. */
export type Source =
  | { type: "empty" }
  /** A host directory copied into `/workspace` (without `.env*` files and `.warden/`). */
  | { type: "directory"; path: string }
  | { type: "snapshot"; snapshotId: string }
  /** Cloned into `/workspace` through the sandbox's egress proxy. */
  | { type: "git"; url: string; revision?: string; depth?: number };

/** A header transform: the egress proxy sets these headers on requests to the host. */
export interface NetworkTransform {
  headers: Record<string, string>;
}

/** One rule of an allow map entry, as in the Vercel SDK. */
export interface NetworkRule {
  transform?: NetworkTransform[];
}

/**
 * Egress policy, in the Vercel SDK's shapes:
 * `"allow-all"`, `"deny-all"`, `{allow: ["host", "*.example.com"], deny: [...]}`, or
 * `{allow: {"api.anthropic.com": [{transform: [{headers: {"x-api-key": key}}]}]}}`.
 */
export type NetworkPolicy =
  | "allow-all"
  | "deny-all"
  | { allow?: string[] | Record<string, NetworkRule[]>; deny?: string[] };

/** The policy as the server reports it: header names only, never values. */
export interface NetworkPolicyView {
  mode: "allow-all" | "deny-all" | "allow-list";
  allow: string[];
  deny: string[];
  /** host → names of the headers the proxy sets on its requests. */
  transforms: Record<string, string[]>;
}

export interface Resources {
  vcpus?: number;
  /** MiB. */
  memory?: number;
  pids?: number;
}

export interface PortInfo {
  port: number;
  /** By host: `http://<port>-<sandbox-id>.localhost:7070`. */
  url: string;
  /** By path: `http://127.0.0.1:7070/v1/ports/<sandbox-id>/<port>/`. */
  pathUrl: string;
}

export type SandboxStatus = "starting" | "running" | "stopped" | "timed-out" | "failed" | "corrupt" | (string & {});

/** The `Sandbox` object of the API. */
export interface SandboxInfo {
  id: string;
  name: string | null;
  status: SandboxStatus;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** When every process is killed (ms since the epoch); null: never. */
  timeoutAt: number | null;
  /** Where `/workspace` came from, e.g. `snapshot snap-…`; null when it started empty. */
  source: string | null;
  ports: PortInfo[];
  resources: { vcpus: number | null; memory: number | null; pids: number | null };
  networkPolicy: NetworkPolicyView;
}

export interface CreateSandboxParams {
  source?: Source;
  /** Milliseconds (default one hour). */
  timeout?: number;
  ports?: number[];
  resources?: Resources;
  env?: Record<string, string>;
  networkPolicy?: NetworkPolicy;
  name?: string;
  /** Aborts the create request. */
  signal?: AbortSignal;
}

export type CommandStatus = "running" | "exited" | "killed" | (string & {});

/** The `Command` object of the API. */
export interface CommandInfo {
  cmdId: string;
  cmd: string;
  args: string[];
  cwd: string;
  startedAt: number;
  exitCode: number | null;
  status: CommandStatus;
}

/** One NDJSON (or SSE) event of a command's output. */
export type CommandEvent =
  | { type: "start"; cmdId: string }
  | { type: "stdout" | "stderr"; data?: string; dataBase64?: string }
  | { type: "exit"; exitCode: number }
  | { type: "error"; detail: string };

/** The non-streaming answer of a command run. */
export interface CommandResultJson {
  cmdId: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

export interface DirEntry {
  name: string;
  type: "file" | "directory" | "symlink" | "other";
  size: number;
}

/** The `Snapshot` object of the API. */
export interface SnapshotInfo {
  snapshotId: string;
  sourceSandboxId: string;
  createdAt: number;
  files: number;
  bytes: number;
}
