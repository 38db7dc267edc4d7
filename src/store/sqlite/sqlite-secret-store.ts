/**
 * Shared secrets in SQLite. The insert and the read that follows it run in one immediate
 * transaction, under the file's write lock, so two processes on one file store one value.
 */
import type { SecretStore } from "../secret-store.js";
import { checkSecretName, generateSecret } from "../shared-secrets.js";
import type { SqliteConnection } from "./sqlite-connection.js";

const SELECT = "SELECT value FROM shared_secrets WHERE name = ?";

export class SqliteSecretStore implements SecretStore {
  readonly #db: SqliteConnection;

  constructor(db: SqliteConnection) {
    this.#db = db;
  }

  async sharedSecret(name: string, generate: () => string): Promise<string> {
    checkSecretName(name);
    const stored = await this.#db.run(
      "sharedSecret",
      () => this.#db.stmt<{ value: string }>(SELECT).get(name)?.value,
    );
    if (stored !== undefined) return stored;
    // Generated outside the transaction, so a throwing `generate` leaves nothing to roll back.
    const value = generateSecret(generate);
    return this.#db.write("sharedSecret", () => {
      this.#db
        .stmt(
          "INSERT INTO shared_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .run(name, value, this.#db.clock.now());
      return this.#db.stmt<{ value: string }>(SELECT).get(name)!.value;
    });
  }
}
