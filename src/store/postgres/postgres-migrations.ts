/**
 * The PostgreSQL schema, as numbered migrations. `migratePostgres` applies the missing ones at
 * open, in one transaction under an advisory lock, so that replicas starting together migrate
 * once. A released migration is never edited; a change is a new number.
 */
import type { ClientBase } from "pg";
import { TrellisError } from "../../core/index.js";

export interface PostgresMigration {
  readonly version: number;
  readonly name: string;
  /** SQL with `:schema` standing for the quoted schema name. */
  readonly sql: string;
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: "tenants, revisions, schemas, relationships",
    sql: `
CREATE TABLE :schema.tenants (
  pk integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text COLLATE "C" NOT NULL UNIQUE,
  -- Writers lock this row FOR UPDATE to allocate the next revision, so a tenant's revisions
  -- commit in order and a snapshot that sees head_rev = N sees every write up to N.
  head_rev bigint NOT NULL DEFAULT 0,
  -- The oldest readable revision; gc moves it forward.
  gc_rev bigint NOT NULL DEFAULT 0,
  created_at bigint NOT NULL
);

-- Commit time per revision (epoch ms, injected clock): gc's horizon and optimizedRevision.
CREATE TABLE :schema.revisions (
  tenant integer NOT NULL,
  rev bigint NOT NULL,
  committed_at bigint NOT NULL,
  PRIMARY KEY (tenant, rev)
);

CREATE TABLE :schema.schemas (
  tenant integer NOT NULL,
  rev bigint NOT NULL,
  text text NOT NULL,
  PRIMARY KEY (tenant, rev)
);

-- MVCC rows: visible at revision r when created_rev <= r and (deleted_rev IS NULL or
-- deleted_rev > r). A TOUCH ends the old row (deleted_seq NULL: replaced, not a DELETE) and
-- inserts a new one. (rev, seq) orders the changelog. "C" collation: byte order, the stable
-- order both engines share, and cheaper comparisons.
CREATE TABLE :schema.relationships (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant integer NOT NULL,
  resource_type text COLLATE "C" NOT NULL,
  resource_id text COLLATE "C" NOT NULL,
  relation text COLLATE "C" NOT NULL,
  subject_type text COLLATE "C" NOT NULL,
  subject_id text COLLATE "C" NOT NULL,
  subject_relation text COLLATE "C" NOT NULL,
  caveat_name text,
  caveat_context text,
  expires_at bigint,
  created_rev bigint NOT NULL,
  created_seq integer NOT NULL,
  deleted_rev bigint,
  deleted_seq integer
);

-- Live rows, one per tuple: the forward read (readByResource), identity lookups of writes and
-- imports, readByFilter and export in stable order; its uniqueness backs CREATE.
CREATE UNIQUE INDEX relationships_live ON :schema.relationships
  (tenant, resource_type, resource_id, relation, subject_type, subject_id, subject_relation)
  WHERE deleted_rev IS NULL;

-- Ended rows in the same order: the part of a snapshot read below head that the live index
-- lacks. Kept small by gc.
CREATE INDEX relationships_history ON :schema.relationships
  (tenant, resource_type, resource_id, relation, subject_type, subject_id, subject_relation, deleted_rev)
  WHERE deleted_rev IS NOT NULL;

-- The reverse read (readBySubject), ordered by resource id; also filters by subject.
CREATE INDEX relationships_reverse ON :schema.relationships
  (tenant, subject_type, subject_id, subject_relation, resource_type, relation, resource_id);

-- The changelog: TOUCH entries by creation, DELETE entries (and gc) by deletion.
CREATE INDEX relationships_created ON :schema.relationships (tenant, created_rev, created_seq);
CREATE INDEX relationships_deleted ON :schema.relationships (tenant, deleted_rev, deleted_seq)
  WHERE deleted_rev IS NOT NULL;

-- gc of expired rows.
CREATE INDEX relationships_expiring ON :schema.relationships (tenant, expires_at)
  WHERE expires_at IS NOT NULL;
`,
  },
  {
    version: 2,
    name: "api keys",
    sql: `
-- API keys: the hash of the secret only. Not versioned (outside revisions and the changelog).
CREATE TABLE :schema.api_keys (
  id text COLLATE "C" PRIMARY KEY,
  tenant integer NOT NULL REFERENCES :schema.tenants (pk),
  secret_hash text NOT NULL,
  -- JSON array of scope names.
  scopes text NOT NULL,
  description text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint,
  revoked_at bigint
);

CREATE INDEX api_keys_by_tenant ON :schema.api_keys (tenant, created_at);
`,
  },
  {
    version: 3,
    name: "shared secrets",
    sql: `
-- Store-wide secrets every replica must agree on (the zookie signing secret), created once by
-- the first replica that needs one (INSERT ... ON CONFLICT DO NOTHING) and never replaced.
CREATE TABLE :schema.shared_secrets (
  name text COLLATE "C" PRIMARY KEY,
  value text NOT NULL,
  created_at bigint NOT NULL
);
`,
  },
];

/** Applies the missing migrations; refuses a schema migrated by a newer release. */
export async function migratePostgres(
  client: ClientBase,
  quotedSchema: string,
  schema: string,
  now: number,
): Promise<void> {
  const latest = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;
  await client.query("BEGIN");
  try {
    // Held until COMMIT: replicas opening together wait here instead of racing the DDL.
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`trellis:migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quotedSchema}.trellis_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at bigint NOT NULL
    )`);
    const { rows } = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${quotedSchema}.trellis_migrations`,
    );
    const applied = rows[0]?.version ?? 0;
    if (applied > latest) {
      throw new TrellisError(
        "FAILED_PRECONDITION",
        `the database schema ${schema} has version ${applied}, newer than this release knows (${latest})`,
      );
    }
    for (const migration of POSTGRES_MIGRATIONS) {
      if (migration.version <= applied) continue;
      await client.query(migration.sql.replaceAll(":schema", quotedSchema));
      await client.query(
        `INSERT INTO ${quotedSchema}.trellis_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
        [migration.version, migration.name, now],
      );
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
