/**
 * Shared secrets in PostgreSQL. Replicas racing on an empty store each try `INSERT … ON
 * CONFLICT DO NOTHING` (a loser waits for the winner's commit and then does nothing) and then
 * read the row in a new statement, whose snapshot sees the winner's value.
 */
import { bug } from "../../core/index.js";
import type { SecretStore } from "../secret-store.js";
import { checkSecretName, generateSecret } from "../shared-secrets.js";
import type { PostgresConnection } from "./postgres-connection.js";

export class PostgresSecretStore implements SecretStore {
  readonly #db: PostgresConnection;

  constructor(db: PostgresConnection) {
    this.#db = db;
  }

  async #read(name: string): Promise<string | undefined> {
    const rows = await this.#db.query<{ value: string }>(
      "sharedSecret",
      `SELECT value FROM ${this.#db.s}.shared_secrets WHERE name = $1`,
      [name],
    );
    return rows[0]?.value;
  }

  async sharedSecret(name: string, generate: () => string): Promise<string> {
    checkSecretName(name);
    const stored = await this.#read(name);
    if (stored !== undefined) return stored;
    const value = generateSecret(generate);
    await this.#db.query(
      "sharedSecret",
      `INSERT INTO ${this.#db.s}.shared_secrets (name, value, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO NOTHING`,
      [name, value, this.#db.clock.now()],
    );
    const created = await this.#read(name);
    if (created === undefined) bug(`the shared secret ${name} vanished after its insert`);
    return created;
  }
}
