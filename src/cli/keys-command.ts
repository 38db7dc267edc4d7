/**
 * `trellis keys create|list|revoke` and `trellis tenants create|list`: manage API keys and
 * tenants directly in the datastore. This is how the first key of a deployment is made (the
 * AdminService needs a key to be called); a running server sees a revocation made here within
 * its key cache time (5 s).
 */
import { type Command, Option } from "commander";
import { ApiKeys } from "../auth/index.js";
import { systemClock } from "../core/clock.js";
import { TrellisError } from "../core/errors.js";
import type { ApiKeyRecord, Datastore } from "../store/datastore.js";
import { openDatastore } from "../store/open.js";
import type { Output } from "./schema-command.js";
import { parseDuration, UsageError } from "./serve-command.js";

const DATASTORE_DEFAULT = "sqlite:./data/trellis.db";

function datastoreOption(): Option {
  return new Option("--datastore <url>", `the datastore (default: ${DATASTORE_DEFAULT})`).env(
    "TRELLIS_DATASTORE",
  );
}

/** Opens the store, runs `fn`, closes; prints errors; returns the exit code. */
async function withStore(
  url: string | undefined,
  io: Output,
  fn: (store: Datastore, keys: ApiKeys) => Promise<void>,
): Promise<number> {
  let store: Datastore | undefined;
  try {
    store = await openDatastore(url ?? DATASTORE_DEFAULT);
    await fn(store, new ApiKeys(store, { clock: systemClock }));
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof TypeError) {
      io.err(`trellis: ${err.message}\n`);
      return 2;
    }
    if (err instanceof TrellisError) {
      io.err(`trellis: ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await store?.close();
  }
}

function describeKey(key: ApiKeyRecord): string {
  const state =
    key.revokedAt !== undefined
      ? `revoked ${key.revokedAt.toISOString()}`
      : key.expiresAt !== undefined
        ? `expires ${key.expiresAt.toISOString()}`
        : "no expiry";
  const description = key.description === "" ? "" : `  ${JSON.stringify(key.description)}`;
  return `${key.id}  ${key.tenant}  ${key.scopes.join(",")}  created ${key.createdAt.toISOString()}  ${state}${description}\n`;
}

/** `30d`, `12h`, `15m`: the units of `parseDuration` plus days. */
function parseLifetime(text: string): number {
  const days = /^(\d+)d$/.exec(text.trim());
  if (days !== null) return Number(days[1]) * 86_400_000;
  return parseDuration(text, "--expires-in");
}

export function registerKeysCommands(program: Command, io: Output): void {
  const keys = program.command("keys").description("manage API keys in the datastore");

  keys
    .command("create")
    .description("create an API key and print its token (shown once)")
    .requiredOption("--tenant <id>", "the tenant the key acts on (must exist)")
    .requiredOption("--scopes <list>", "comma-separated: check,read,write,schema,watch,admin")
    .option("--description <text>", "for people", "")
    .option("--expires-in <duration>", "e.g. 30d, 12h; default: never")
    .option("--quiet", "print only the token")
    .addOption(datastoreOption())
    .action(
      async (flags: {
        tenant: string;
        scopes: string;
        description: string;
        expiresIn?: string;
        quiet?: boolean;
        datastore?: string;
      }) => {
        process.exitCode = await withStore(flags.datastore, io, async (_store, keys) => {
          const expiresAt =
            flags.expiresIn === undefined
              ? undefined
              : new Date(systemClock.now() + parseLifetime(flags.expiresIn));
          const created = await keys.create({
            tenant: flags.tenant,
            scopes: flags.scopes.split(",").map((s) => s.trim()),
            description: flags.description,
            ...(expiresAt !== undefined ? { expiresAt } : {}),
          });
          if (flags.quiet === true) {
            io.out(`${created.token}\n`);
            return;
          }
          io.out(describeKey(created.record));
          io.out(`token (shown once, keep it secret): ${created.token}\n`);
        });
      },
    );

  keys
    .command("list")
    .description("list a tenant's keys, newest first (never their secrets)")
    .requiredOption("--tenant <id>", "the tenant")
    .addOption(datastoreOption())
    .action(async (flags: { tenant: string; datastore?: string }) => {
      process.exitCode = await withStore(flags.datastore, io, async (_store, keys) => {
        for (const key of await keys.list(flags.tenant)) {
          io.out(describeKey(key));
        }
      });
    });

  keys
    .command("revoke")
    .description("revoke a key by id")
    .argument("<key-id>", "the 16-character id (the part after trls_)")
    .addOption(datastoreOption())
    .action(async (id: string, flags: { datastore?: string }) => {
      process.exitCode = await withStore(flags.datastore, io, async (_store, keys) => {
        const revoked = await keys.revoke(id);
        if (revoked === undefined) throw new TrellisError("NOT_FOUND", `no API key ${id}`);
        io.out(describeKey(revoked));
      });
    });

  const tenants = program.command("tenants").description("manage tenants in the datastore");
  tenants
    .command("create")
    .description("create an empty tenant")
    .argument("<id>", "the tenant id")
    .addOption(datastoreOption())
    .action(async (id: string, flags: { datastore?: string }) => {
      process.exitCode = await withStore(flags.datastore, io, async (store) => {
        await store.createTenant(id);
        io.out(`${id}\n`);
      });
    });
  tenants
    .command("list")
    .description("list the tenants")
    .addOption(datastoreOption())
    .action(async (flags: { datastore?: string }) => {
      process.exitCode = await withStore(flags.datastore, io, async (store) => {
        for (const id of await store.listTenants()) io.out(`${id}\n`);
      });
    });
}
