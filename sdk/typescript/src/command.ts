import { concat, fromBase64, utf8 } from "./bytes.js";
import { Client, enc } from "./client.js";
import { isHeadersTimeout, WardenError } from "./errors.js";
import { ndjson } from "./ndjson.js";
import type { CommandEvent, CommandInfo, CommandStatus } from "./types.js";

/** Anything with `write`, such as `process.stdout` or a Node `Writable`. */
export interface WritableLike {
  write(chunk: string | Uint8Array): unknown;
}

/** One piece of a command's output, as `Command.logs()` yields it. */
export interface LogLine {
  stream: "stdout" | "stderr";
  data: string;
}

const NDJSON = "application/x-ndjson";

/** Output kept per stream, as bytes, so text split across chunks decodes whole. */
export class Captured {
  readonly stdout: Uint8Array[] = [];
  readonly stderr: Uint8Array[] = [];
  /** Both streams interleaved in arrival order (the same arrays, not copies). */
  readonly both: Uint8Array[] = [];
  truncated = false;

  text(stream: "stdout" | "stderr" | "both"): string {
    const parts = stream === "both" ? this.both : this[stream];
    return new TextDecoder().decode(concat(parts));
  }

  push(stream: "stdout" | "stderr", bytes: Uint8Array): void {
    this[stream].push(bytes);
    this.both.push(bytes);
  }
}

/** An output event's bytes, and what to hand a writable: the text as sent, or the raw bytes. */
function outputBytes(ev: { data?: string; dataBase64?: string }): { bytes: Uint8Array; chunk: string | Uint8Array } {
  if (typeof ev.dataBase64 === "string") {
    const bytes = fromBase64(ev.dataBase64);
    return { bytes, chunk: bytes };
  }
  const text = ev.data ?? "";
  return { bytes: utf8(text), chunk: text };
}

function streamError(detail: string, request: string): WardenError {
  return new WardenError(
    { type: "https://warden.dev/problems/command-error", title: "The command failed to run", status: 500, detail },
    { request },
  );
}

/**
 * A command started in a sandbox. Detached runs return this at once; `wait()` gives
 * the `CommandFinished`.
 */
export class Command {
  /** @internal */ protected readonly client: Client;
  readonly sandboxId: string;
  readonly cmdId: string;
  readonly cmd: string;
  readonly args: string[];
  readonly cwd: string;
  readonly startedAt: number;
  /** @internal */ protected info: CommandInfo;
  /** @internal */ protected captured: Captured | undefined;

  /** @internal */
  constructor(client: Client, sandboxId: string, info: CommandInfo, captured?: Captured) {
    this.client = client;
    this.sandboxId = sandboxId;
    this.info = info;
    this.cmdId = info.cmdId;
    this.cmd = info.cmd;
    this.args = info.args;
    this.cwd = info.cwd;
    this.startedAt = info.startedAt;
    this.captured = captured;
  }

  /** The exit code as last seen (null while running or after a kill without one). */
  get exitCode(): number | null {
    return this.info.exitCode;
  }

  get status(): CommandStatus {
    return this.info.status;
  }

  protected get path(): string {
    return `/v1/sandboxes/${enc(this.sandboxId)}/commands/${enc(this.cmdId)}`;
  }

  /** Reloads the command's state. */
  async refresh(options: { signal?: AbortSignal } = {}): Promise<CommandInfo> {
    this.info = await this.client.json<CommandInfo>("GET", this.path, { signal: options.signal });
    return this.info;
  }

  /** Waits for the command to exit. */
  async wait(options: { signal?: AbortSignal } = {}): Promise<CommandFinished> {
    for (;;) {
      let info: CommandInfo;
      try {
        info = await this.client.json<CommandInfo>("GET", this.path, { query: { wait: true }, signal: options.signal });
      } catch (e) {
        // Node's fetch gives up on headers after 300 s: a long poll held longer is asked again.
        if (isHeadersTimeout(e)) continue;
        throw e;
      }
      this.info = info;
      if (info.status !== "running") return new CommandFinished(this.client, this.sandboxId, info, this.captured);
      // A long poll that ended before the command did: ask again.
    }
  }

  /**
   * The command's output from its start, following it until it exits (`follow: false`:
   * what there is now). Breaking out of the loop closes the request.
   */
  async *logs(options: { follow?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<LogLine, void, undefined> {
    const query: Record<string, boolean> = {};
    if (options.follow === false) query.follow = false;
    const res = await this.client.request("GET", `${this.path}/logs`, {
      accept: NDJSON,
      query,
      signal: options.signal,
    });
    if (!res.body) return;
    const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    for await (const ev of ndjson<CommandEvent>(res.body, `GET ${this.path}/logs`)) {
      if (ev.type === "stdout" || ev.type === "stderr") {
        const { bytes } = outputBytes(ev);
        const data = decoders[ev.type].decode(bytes, { stream: true });
        if (data) yield { stream: ev.type, data };
      } else if (ev.type === "exit") {
        this.info = { ...this.info, exitCode: ev.exitCode, status: this.info.status === "running" ? "exited" : this.info.status };
      } else if (ev.type === "error") {
        throw streamError(ev.detail, `GET ${this.path}/logs`);
      }
    }
  }

  /** All of the command's output as text (waits for it to exit). */
  async output(stream: "stdout" | "stderr" | "both" = "both", options: { signal?: AbortSignal } = {}): Promise<string> {
    if (!this.captured) {
      const captured = new Captured();
      const res = await this.client.request("GET", `${this.path}/logs`, { accept: NDJSON, signal: options.signal });
      if (res.body) {
        for await (const ev of ndjson<CommandEvent>(res.body, `GET ${this.path}/logs`)) {
          if (ev.type === "stdout" || ev.type === "stderr") captured.push(ev.type, outputBytes(ev).bytes);
          else if (ev.type === "error") throw streamError(ev.detail, `GET ${this.path}/logs`);
        }
      }
      this.captured = captured;
    }
    return this.captured.text(stream);
  }

  /** Standard output as text (waits for the command to exit). */
  stdout(options: { signal?: AbortSignal } = {}): Promise<string> {
    return this.output("stdout", options);
  }

  /** Standard error as text (waits for the command to exit). */
  stderr(options: { signal?: AbortSignal } = {}): Promise<string> {
    return this.output("stderr", options);
  }

  /** Sends a signal (default SIGTERM) to the command. */
  async kill(signal: string = "SIGTERM", options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.client.empty("POST", `${this.path}/kill`, { json: { signal }, signal: options.signal });
  }

  toJSON(): CommandInfo & { sandboxId: string } {
    return { sandboxId: this.sandboxId, ...this.info };
  }
}

/** A command that has exited: `exitCode` is set and the output can be read. */
export class CommandFinished extends Command {
  override get exitCode(): number {
    return this.info.exitCode ?? -1;
  }

  /** Whether the server cut the output it kept (non-streamed answers keep 16 MiB each). */
  get truncated(): boolean {
    return this.captured?.truncated ?? false;
  }
}

export interface RunCommandParams {
  cmd: string;
  args?: string[];
  /** Default: the sandbox's working directory (`/workspace`). */
  cwd?: string;
  env?: Record<string, string>;
  /** Text fed to the command's standard input. */
  stdin?: string;
  /** Not supported: sandboxes have no root. Passing `true` throws. */
  sudo?: boolean;
  /** Return at once with a `Command`; it runs until it exits or the sandbox ends. */
  detached?: boolean;
  /** Receives standard output as it arrives. */
  stdout?: WritableLike;
  /** Receives standard error as it arrives. */
  stderr?: WritableLike;
  /** Aborting closes the request; the server then kills the command. */
  signal?: AbortSignal;
  /** Milliseconds after which the server kills the command. */
  timeout?: number;
}

/** @internal */
export async function runCommand(client: Client, sandboxId: string, params: RunCommandParams): Promise<Command | CommandFinished> {
  if (params.sudo) {
    throw new WardenError({
      type: "https://warden.dev/problems/invalid-request",
      title: "sudo is not supported",
      status: 400,
      detail: "sudo: Warden sandboxes run as an unprivileged user with no way to root",
    });
  }
  const args = params.args ?? [];
  const body: Record<string, unknown> = { cmd: params.cmd, args };
  if (params.cwd !== undefined) body.cwd = params.cwd;
  if (params.env !== undefined) body.env = params.env;
  if (params.stdin !== undefined) body.stdin = params.stdin;
  if (params.timeout !== undefined) body.timeout = params.timeout;
  const path = `/v1/sandboxes/${enc(sandboxId)}/commands`;

  if (params.detached) {
    body.detached = true;
    const info = await client.json<CommandInfo>("POST", path, { json: body, signal: params.signal });
    return new Command(client, sandboxId, info);
  }

  const startedAt = Date.now();
  const res = await client.request("POST", path, { json: body, accept: NDJSON, signal: params.signal });
  const captured = new Captured();
  const contentType = res.headers.get("content-type") ?? "";
  const base = { cmd: params.cmd, args, cwd: params.cwd ?? "/workspace", startedAt };

  if (!contentType.includes("ndjson")) {
    // A server that answers the plain JSON form: no streaming, same result.
    const result = (await res.json()) as { cmdId: string; exitCode: number; stdout: string; stderr: string; truncated?: boolean };
    captured.push("stdout", utf8(result.stdout ?? ""));
    captured.push("stderr", utf8(result.stderr ?? ""));
    captured.truncated = result.truncated === true;
    if (result.stdout) params.stdout?.write(result.stdout);
    if (result.stderr) params.stderr?.write(result.stderr);
    return new CommandFinished(client, sandboxId, { ...base, cmdId: result.cmdId, exitCode: result.exitCode, status: "exited" }, captured);
  }

  let cmdId = "";
  let exitCode: number | undefined;
  if (res.body) {
    for await (const ev of ndjson<CommandEvent>(res.body, `POST ${path}`)) {
      switch (ev.type) {
        case "start":
          cmdId = ev.cmdId;
          break;
        case "stdout":
        case "stderr": {
          const { bytes, chunk } = outputBytes(ev);
          captured.push(ev.type, bytes);
          params[ev.type]?.write(chunk);
          break;
        }
        case "exit":
          exitCode = ev.exitCode;
          break;
        case "error":
          throw streamError(ev.detail, `POST ${path}`);
      }
    }
  }
  if (exitCode === undefined) {
    throw new WardenError(
      {
        type: "https://warden.dev/problems/connection",
        title: "The command's output ended before it exited",
        status: 0,
        detail: cmdId ? `command ${cmdId}: no exit event` : "no exit event",
      },
      { request: `POST ${path}` },
    );
  }
  return new CommandFinished(client, sandboxId, { ...base, cmdId, exitCode, status: "exited" }, captured);
}
