import { readAll, toBase64, toBytes } from "./bytes.js";
import { Client, enc, type ConnectionOptions } from "./client.js";
import { Command, CommandFinished, runCommand, type RunCommandParams } from "./command.js";
import { WardenError } from "./errors.js";
import { Snapshot } from "./snapshot.js";
import type {
  CommandInfo,
  CreateSandboxParams,
  DirEntry,
  NetworkPolicy,
  NetworkPolicyView,
  SandboxInfo,
  SandboxStatus,
  SnapshotInfo,
} from "./types.js";

/** A file for `writeFiles`. Relative paths are taken from `/workspace`. */
export interface WriteFile {
  path: string;
  content: Uint8Array | ArrayBuffer | string;
  /** Unix mode, e.g. `0o755`. */
  mode?: number;
}

export interface DomainOptions {
  /**
   * `"host"` (default): `http://<port>-<id>.localhost:7070`, the form browsers and
   * `opencode attach` use. `"path"`: `http://127.0.0.1:7070/v1/ports/<id>/<port>`,
   * for clients that cannot resolve `*.localhost` (Node's `fetch` on most Linux
   * systems without systemd-resolved) or cannot set `Host`.
   */
  form?: "host" | "path";
}

const WORKSPACE = "/workspace";

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${WORKSPACE}/${path.replace(/^\.\//, "")}`;
}

/** A Warden sandbox, reached through `warden server`. */
export class Sandbox {
  /** @internal */ readonly client: Client;
  #info: SandboxInfo;

  /** @internal */
  constructor(client: Client, info: SandboxInfo) {
    this.client = client;
    this.#info = info;
  }

  // ----- Class methods -----

  /** Creates a sandbox (`POST /v1/sandboxes`). Every field is optional. */
  static async create(params: CreateSandboxParams = {}, connection?: ConnectionOptions): Promise<Sandbox> {
    const client = new Client(connection);
    const { signal, ...body } = params;
    const info = await client.json<SandboxInfo>("POST", "/v1/sandboxes", { json: body, signal });
    return new Sandbox(client, info);
  }

  /** An existing sandbox by id (404 → `WardenError` with status 404). */
  static async get(sandboxId: string | { sandboxId: string }, connection?: ConnectionOptions): Promise<Sandbox> {
    const id = typeof sandboxId === "string" ? sandboxId : sandboxId.sandboxId;
    const client = new Client(connection);
    return new Sandbox(client, await client.json<SandboxInfo>("GET", `/v1/sandboxes/${enc(id)}`));
  }

  /** Every sandbox of the token's tenant. */
  static async list(connection?: ConnectionOptions): Promise<Sandbox[]> {
    const client = new Client(connection);
    const { sandboxes } = await client.json<{ sandboxes: SandboxInfo[] }>("GET", "/v1/sandboxes");
    return sandboxes.map((s) => new Sandbox(client, s));
  }

  // ----- State -----

  get sandboxId(): string {
    return this.#info.id;
  }

  get name(): string | null {
    return this.#info.name;
  }

  /** As of the last answer about this sandbox; `refresh()` asks again. */
  get status(): SandboxStatus {
    return this.#info.status;
  }

  get createdAt(): Date {
    return new Date(this.#info.createdAt);
  }

  /** When the sandbox ends unless extended (null: never). */
  get timeoutAt(): Date | null {
    return this.#info.timeoutAt == null ? null : new Date(this.#info.timeoutAt);
  }

  /** Milliseconds left before the timeout, as of now (Infinity: none). */
  get timeout(): number {
    return this.#info.timeoutAt == null ? Infinity : Math.max(0, this.#info.timeoutAt - Date.now());
  }

  get networkPolicy(): NetworkPolicyView {
    return this.#info.networkPolicy;
  }

  /** The raw `Sandbox` object of the last answer. */
  get info(): SandboxInfo {
    return this.#info;
  }

  protected get path(): string {
    return `/v1/sandboxes/${enc(this.#info.id)}`;
  }

  async refresh(options: { signal?: AbortSignal } = {}): Promise<this> {
    this.#info = await this.client.json<SandboxInfo>("GET", this.path, { signal: options.signal });
    return this;
  }

  // ----- Commands -----

  /** Runs `cmd` with `args` and waits for it. */
  runCommand(cmd: string, args?: string[], options?: { signal?: AbortSignal }): Promise<CommandFinished>;
  /** Runs a command detached: returns at once. */
  runCommand(params: RunCommandParams & { detached: true }): Promise<Command>;
  /** Runs a command and waits for it, streaming its output to `stdout`/`stderr`. */
  runCommand(params: RunCommandParams & { detached?: false }): Promise<CommandFinished>;
  runCommand(params: RunCommandParams): Promise<Command | CommandFinished>;
  runCommand(
    cmdOrParams: string | RunCommandParams,
    args?: string[],
    options?: { signal?: AbortSignal },
  ): Promise<Command | CommandFinished> {
    const params: RunCommandParams =
      typeof cmdOrParams === "string" ? { cmd: cmdOrParams, args: args ?? [], ...options } : cmdOrParams;
    return runCommand(this.client, this.#info.id, params);
  }

  /** A command started earlier (detached or not) by its id. */
  async getCommand(cmdId: string, options: { signal?: AbortSignal } = {}): Promise<Command> {
    const info = await this.client.json<CommandInfo>("GET", `${this.path}/commands/${enc(cmdId)}`, {
      signal: options.signal,
    });
    return info.status === "running"
      ? new Command(this.client, this.#info.id, info)
      : new CommandFinished(this.client, this.#info.id, info);
  }

  /** The sandbox's commands. */
  async listCommands(options: { signal?: AbortSignal } = {}): Promise<Command[]> {
    const { commands } = await this.client.json<{ commands: CommandInfo[] }>(
      "GET",
      `${this.path}/commands`,
      { signal: options.signal },
    );
    return commands.map((info) =>
      info.status === "running"
        ? new Command(this.client, this.#info.id, info)
        : new CommandFinished(this.client, this.#info.id, info),
    );
  }

  // ----- Files -----

  /** Writes files (parent directories are made). Paths under `/workspace` or `/home/sandbox`. */
  async writeFiles(files: WriteFile[], options: { signal?: AbortSignal } = {}): Promise<void> {
    const body = {
      files: files.map((f) => {
        const out: { path: string; content: string; mode?: number } = {
          path: absolute(f.path),
          content: toBase64(toBytes(f.content)),
        };
        if (f.mode !== undefined) out.mode = f.mode;
        return out;
      }),
    };
    await this.client.empty("POST", `${this.path}/files`, { json: body, signal: options.signal });
  }

  /** A file's bytes, or `null` when it does not exist (a missing sandbox throws a 404 `WardenError`). */
  async readFile(path: string | { path: string }, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | null> {
    const stream = await this.readFileStream(path, options);
    return stream === null ? null : readAll(stream);
  }

  /** A file's text (UTF-8), or `null` when it does not exist. */
  async readFileText(path: string | { path: string }, options: { signal?: AbortSignal } = {}): Promise<string | null> {
    const bytes = await this.readFile(path, options);
    return bytes === null ? null : new TextDecoder().decode(bytes);
  }

  /** A file as a stream of bytes, or `null` when it does not exist. */
  async readFileStream(
    path: string | { path: string },
    options: { signal?: AbortSignal } = {},
  ): Promise<ReadableStream<Uint8Array> | null> {
    const p = absolute(typeof path === "string" ? path : path.path);
    const res = await this.client.request("GET", `${this.path}/files`, {
      query: { path: p },
      accept: "application/octet-stream",
      signal: options.signal,
      allow: [404],
    });
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      // A missing file, or a missing sandbox? The latter must not read as "no file":
      // asking for the sandbox throws its own 404.
      await this.client.empty("GET", this.path, { signal: options.signal });
      return null;
    }
    return res.body ?? new ReadableStream({ start: (c) => c.close() });
  }

  /** Makes a directory (`parents: true`: and its missing parents, like `mkdir -p`). */
  async mkDir(path: string, options: { parents?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.client.empty("POST", `${this.path}/directories`, {
      json: { path: absolute(path), parents: options.parents ?? false },
      signal: options.signal,
    });
  }

  /** A directory's entries. */
  async listDir(path: string, options: { signal?: AbortSignal } = {}): Promise<DirEntry[]> {
    const { entries } = await this.client.json<{ entries: DirEntry[] }>("GET", `${this.path}/directories`, {
      query: { path: absolute(path) },
      signal: options.signal,
    });
    return entries;
  }

  // ----- Network -----

  /** Replaces the egress policy, live. Header values are never sent back. */
  async updateNetworkPolicy(policy: NetworkPolicy, options: { signal?: AbortSignal } = {}): Promise<NetworkPolicyView> {
    const view = await this.client.json<NetworkPolicyView>("PUT", `${this.path}/network-policy`, {
      json: policy,
      signal: options.signal,
    });
    this.#info = { ...this.#info, networkPolicy: view };
    return view;
  }

  /**
   * The URL routed to `port` inside the sandbox (which must have been given in `ports`
   * at create). No trailing slash: append paths as in `${sandbox.domain(4096)}/global/health`.
   */
  domain(port: number, options: DomainOptions = {}): string {
    const found = this.#info.ports.find((p) => p.port === port);
    if (!found) {
      throw new WardenError({
        type: "https://warden.dev/problems/invalid-request",
        title: "Port not published",
        status: 400,
        detail: `port ${port} was not given in ports when sandbox ${this.#info.id} was created`,
      });
    }
    const url = options.form === "path" ? found.pathUrl : found.url;
    return url.replace(/\/+$/, "");
  }

  // ----- Lifecycle -----

  /** Captures the sandbox's files; the sandbox keeps running. */
  async snapshot(options: { signal?: AbortSignal } = {}): Promise<Snapshot> {
    const info = await this.client.json<SnapshotInfo>("POST", `${this.path}/snapshot`, { signal: options.signal });
    return new Snapshot(this.client, info);
  }

  /** Pushes the timeout back by `duration` milliseconds. */
  async extendTimeout(duration: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#info = await this.client.json<SandboxInfo>("POST", `${this.path}/extend-timeout`, {
      json: { duration },
      signal: options.signal,
    });
  }

  /** Ends every process and keeps the files (still readable and snapshottable). */
  async stop(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#info = await this.client.json<SandboxInfo>("POST", `${this.path}/stop`, { signal: options.signal });
  }

  /** Ends every process and removes the sandbox's files. */
  async destroy(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.client.empty("DELETE", this.path, { signal: options.signal });
    this.#info = { ...this.#info, status: "destroyed" };
  }

  toJSON(): SandboxInfo {
    return this.#info;
  }
}
