/**
 * The SQLite schema, as numbered migrations applied in order at open and recorded in
 * `trellis_migrations`. A released migration is never edited; a change is a new number.
 */
import { TrellisError } from "../../core/index.js";
import type { SqliteDatabase } from "./sqlite-driver.js";

export interface SqliteMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: "tenants, revisions, schemas, relationships",
    sql: `
CREATE TABLE tenants (
  pk INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  head_rev INTEGER NOT NULL DEFAULT 0,
  -- The oldest readable revision; gc moves it forward.
  gc_rev INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
) STRICT;

-- Commit time per revision: gc finds its horizon and optimizedRevision its window start here.
CREATE TABLE revisions (
  tenant INTEGER NOT NULL,
  rev INTEGER NOT NULL,
  committed_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, rev)
) STRICT, WITHOUT ROWID;

CREATE TABLE schemas (
  tenant INTEGER NOT NULL,
  rev INTEGER NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (tenant, rev)
) STRICT, WITHOUT ROWID;

-- MVCC rows: a row is visible at revision r when created_rev <= r and (deleted_rev IS NULL or
-- deleted_rev > r). A TOUCH ends the old row (deleted_seq NULL: replaced, not a DELETE) and
-- inserts a new one. The (rev, seq) pairs order the changelog within a revision.
CREATE TABLE relationships (
  id INTEGER PRIMARY KEY,
  tenant INTEGER NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  relation TEXT NOT NULL,
  subject_type TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  subject_relation TEXT NOT NULL,
  caveat_name TEXT,
  caveat_context TEXT,
  expires_at INTEGER,
  created_rev INTEGER NOT NULL,
  created_seq INTEGER NOT NULL,
  deleted_rev INTEGER,
  deleted_seq INTEGER
) STRICT;

-- Live rows, one per tuple: the forward read (readByResource), identity lookups of writes and
-- imports, readByFilter and export in stable order; its uniqueness backs CREATE.
CREATE UNIQUE INDEX relationships_live ON relationships
  (tenant, resource_type, resource_id, relation, subject_type, subject_id, subject_relation)
  WHERE deleted_rev IS NULL;

-- Ended rows in the same order: the part of a snapshot read below head that the live index
-- lacks. Kept small by gc.
CREATE INDEX relationships_history ON relationships
  (tenant, resource_type, resource_id, relation, subject_type, subject_id, subject_relation, deleted_rev)
  WHERE deleted_rev IS NOT NULL;

-- The reverse read (readBySubject), ordered by resource id; also filters by subject.
CREATE INDEX relationships_reverse ON relationships
  (tenant, subject_type, subject_id, subject_relation, resource_type, relation, resource_id);

-- The changelog: TOUCH entries by creation, DELETE entries (and gc) by deletion.
CREATE INDEX relationships_created ON relationships (tenant, created_rev, created_seq);
CREATE INDEX relationships_deleted ON relationships (tenant, deleted_rev, deleted_seq)
  WHERE deleted_rev IS NOT NULL;

-- gc of expired rows.
CREATE INDEX relationships_expiring ON relationships (tenant, expires_at)
  WHERE expires_at IS NOT NULL;
`,
  },
  {
    version: 2,
    name: "api keys",
    sql: `
-- API keys: the hash of the secret only. Not versioned (outside revisions and the changelog).
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant INTEGER NOT NULL REFERENCES tenants (pk),
  secret_hash TEXT NOT NULL,
  -- JSON array of scope names.
  scopes TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at);
`,
  },
  {
    version: 3,
    name: "shared secrets",
    sql: `
-- Store-wide secrets every process must agree on (the zookie signing secret), created once by
-- the first process that needs one and never replaced.
CREATE TABLE shared_secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`,
  },
];

/** Applies the missing migrations in one transaction; refuses a database from a newer release. */
export function migrateSqlite(db: SqliteDatabase, now: number): void {
  db.exec(`CREATE TABLE IF NOT EXISTS trellis_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
  db.transaction(() => {
    const row = db
      .prepare<{ version: number | null }>("SELECT max(version) AS version FROM trellis_migrations")
      .get();
    const applied = row?.version ?? 0;
    if (applied > latest) {
      throw new TrellisError(
        "FAILED_PRECONDITION",
        `the database has schema version ${applied}, newer than this release knows (${latest})`,
      );
    }
    const record = db.prepare(
      "INSERT INTO trellis_migrations (version, name, applied_at) VALUES (?, ?, ?)",
    );
    for (const migration of SQLITE_MIGRATIONS) {
      if (migration.version <= applied) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, now);
    }
  }).immediate();
}
