import { Client, enc, type ConnectionOptions } from "./client.js";
import type { SnapshotInfo } from "./types.js";

/** A capture of a sandbox's files; new sandboxes start from it with `source: {type: "snapshot", snapshotId}`. */
export class Snapshot {
  /** @internal */ readonly client: Client;
  readonly snapshotId: string;
  readonly sourceSandboxId: string;
  readonly createdAt: number;
  /** Number of files captured. */
  readonly files: number;
  /** Bytes captured. */
  readonly sizeBytes: number;

  /** @internal */
  constructor(client: Client, info: SnapshotInfo) {
    this.client = client;
    this.snapshotId = info.snapshotId;
    this.sourceSandboxId = info.sourceSandboxId;
    this.createdAt = info.createdAt;
    this.files = info.files;
    this.sizeBytes = info.bytes;
  }

  static async get(snapshotId: string | { snapshotId: string }, connection?: ConnectionOptions): Promise<Snapshot> {
    const id = typeof snapshotId === "string" ? snapshotId : snapshotId.snapshotId;
    const client = new Client(connection);
    return new Snapshot(client, await client.json<SnapshotInfo>("GET", `/v1/snapshots/${enc(id)}`));
  }

  static async list(connection?: ConnectionOptions): Promise<Snapshot[]> {
    const client = new Client(connection);
    const { snapshots } = await client.json<{ snapshots: SnapshotInfo[] }>("GET", "/v1/snapshots");
    return snapshots.map((s) => new Snapshot(client, s));
  }

  static async delete(snapshotId: string | { snapshotId: string }, connection?: ConnectionOptions): Promise<void> {
    const id = typeof snapshotId === "string" ? snapshotId : snapshotId.snapshotId;
    await new Client(connection).empty("DELETE", `/v1/snapshots/${enc(id)}`);
  }

  /** Deletes this snapshot (sandboxes made from it keep their files). */
  async delete(): Promise<void> {
    await this.client.empty("DELETE", `/v1/snapshots/${enc(this.snapshotId)}`);
  }

  toJSON(): SnapshotInfo {
    return {
      snapshotId: this.snapshotId,
      sourceSandboxId: this.sourceSandboxId,
      createdAt: this.createdAt,
      files: this.files,
      bytes: this.sizeBytes,
    };
  }
}
