/**
 * `trellis keys create|list|revoke` and `trellis tenants create|list`: API keys and tenants,
 * either directly in a datastore (`--datastore`, the default: how the first key of a
 * deployment is made, since AdminService needs a key) or through a server's AdminService when
 * `--endpoint` is given (or TRELLIS_ENDPOINT). Only `tenants create` may create a datastore; a
 * running server sees a revocation made in the datastore within its key cache time (5 s).
 */
import { type Command, Option } from "commander";
import { ApiKeys } from "../auth/index.js";
import { systemClock } from "../core/clock.js";
import { TrellisError } from "../core/errors.js";
import type { ApiKeyInfo } from "../sdk/admin-api.js";
import type { TrellisClient } from "../sdk/trellis-client.js";
import type { ApiKeyRecord, Datastore } from "../store/datastore.js";
import type { CliEnvironment } from "./cli-environment.js";
import {
  DATASTORE_DEFAULT,
  openExistingDatastore,
  openOrCreateDatastore,
} from "./existing-datastore.js";
import { EXIT, type ExitCode, reportFailure } from "./exit-codes.js";
import {
  endpointGiven,
  type GlobalFlags,
  globalFlags,
  openClient,
  resolveConnection,
} from "./remote-client.js";
import { parseDuration, UsageError } from "./serve-command.js";

function datastoreOption(): Option {
  // TRELLIS_DATASTORE is read from the command's environment (withTarget), not by commander.
  return new Option(
    "--datastore <url>",
    `the datastore, when not through --endpoint (env: TRELLIS_DATASTORE; default: ${DATASTORE_DEFAULT})`,
  );
}

/** Where a keys or tenants command acts: a datastore, or a server's AdminService. */
type Target =
  | { readonly kind: "datastore"; readonly store: Datastore; readonly keys: ApiKeys }
  | { readonly kind: "server"; readonly client: TrellisClient };

/**
 * Runs `fn` against the datastore or the server, closes it, and returns the exit code. The
 * server is used when an endpoint is given and `--datastore` is not.
 */
async function withTarget(
  command: Command,
  environment: CliEnvironment,
  options: { readonly create?: boolean },
  fn: (target: Target, flags: GlobalFlags) => Promise<void>,
): Promise<ExitCode> {
  const flags = globalFlags(command);
  const datastoreFlag = (command.opts() as { datastore?: string }).datastore;
  const datastoreSource = command.getOptionValueSource("datastore");
  let store: Datastore | undefined;
  let client: TrellisClient | undefined;
  try {
    const remote = endpointGiven(flags, environment.env) && datastoreSource !== "cli";
    if (flags.endpoint !== undefined && datastoreSource === "cli") {
      throw new UsageError("give --endpoint (a server) or --datastore (a datastore), not both");
    }
    if (remote) {
      client = openClient(resolveConnection(flags, environment));
      await fn({ kind: "server", client }, flags);
    } else {
      const url = datastoreFlag ?? (environment.env.TRELLIS_DATASTORE || DATASTORE_DEFAULT);
      store =
        options.create === true
          ? await openOrCreateDatastore(url, environment.cwd)
          : await openExistingDatastore(url, environment.cwd);
      await fn(
        { kind: "datastore", store, keys: new ApiKeys(store, { clock: systemClock }) },
        flags,
      );
    }
    return EXIT.OK;
  } catch (err) {
    return reportFailure(err, environment.io, flags.json === true);
  } finally {
    await store?.close();
    await client?.close();
  }
}

function keyOfRecord(key: ApiKeyRecord): ApiKeyInfo {
  return {
    id: key.id,
    tenant: key.tenant,
    scopes: key.scopes,
    description: key.description,
    createdAt: key.createdAt,
    ...(key.expiresAt !== undefined ? { expiresAt: key.expiresAt } : {}),
    ...(key.revokedAt !== undefined ? { revokedAt: key.revokedAt } : {}),
  };
}

function describeKey(key: ApiKeyInfo): string {
  const state =
    key.revokedAt !== undefined
      ? `revoked ${key.revokedAt.toISOString()}`
      : key.expiresAt !== undefined
        ? `expires ${key.expiresAt.toISOString()}`
        : "no expiry";
  const description = key.description === "" ? "" : `  ${JSON.stringify(key.description)}`;
  return `${key.id}  ${key.tenant}  ${key.scopes.join(",")}  created ${key.createdAt.toISOString()}  ${state}${description}\n`;
}

function keyJson(key: ApiKeyInfo): string {
  return `${JSON.stringify(key)}\n`;
}

/** `30d`, `12h`, `15m`: the units of `parseDuration` plus days. */
function parseLifetime(text: string): number {
  const days = /^(\d+)d$/.exec(text.trim());
  if (days !== null) return Number(days[1]) * 86_400_000;
  return parseDuration(text, "--expires-in");
}

export function registerKeysCommands(program: Command, environment: CliEnvironment): void {
  const { io } = environment;
  const keys = program
    .command("keys")
    .description("manage API keys in the datastore, or through a server's AdminService");

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
      async (
        flags: {
          tenant: string;
          scopes: string;
          description: string;
          expiresIn?: string;
          quiet?: boolean;
        },
        command: Command,
      ) => {
        process.exitCode = await withTarget(command, environment, {}, async (target, global) => {
          const expiresAt =
            flags.expiresIn === undefined
              ? undefined
              : new Date(systemClock.now() + parseLifetime(flags.expiresIn));
          const input = {
            tenant: flags.tenant,
            scopes: flags.scopes.split(",").map((s) => s.trim()),
            description: flags.description,
            ...(expiresAt !== undefined ? { expiresAt } : {}),
          };
          const created =
            target.kind === "server"
              ? await target.client.createApiKey(input)
              : await target.keys.create(input).then((c) => ({
                  key: keyOfRecord(c.record),
                  token: c.token,
                }));
          if (flags.quiet === true) {
            io.out(`${created.token}\n`);
          } else if (global.json === true) {
            io.out(`${JSON.stringify({ key: created.key, token: created.token })}\n`);
          } else {
            io.out(describeKey(created.key));
            io.out(`token (shown once, keep it secret): ${created.token}\n`);
          }
        });
      },
    );

  keys
    .command("list")
    .description("list a tenant's keys, newest first (never their secrets)")
    .requiredOption("--tenant <id>", "the tenant")
    .addOption(datastoreOption())
    .action(async (flags: { tenant: string }, command: Command) => {
      process.exitCode = await withTarget(command, environment, {}, async (target, global) => {
        const listed =
          target.kind === "server"
            ? await target.client.listApiKeys({ tenant: flags.tenant })
            : (await target.keys.list(flags.tenant)).map(keyOfRecord);
        for (const key of listed) io.out(global.json === true ? keyJson(key) : describeKey(key));
      });
    });

  keys
    .command("revoke")
    .description("revoke a key by id")
    .argument("<key-id>", "the 16-character id (the part after trls_)")
    .addOption(datastoreOption())
    .action(async (id: string, _flags: unknown, command: Command) => {
      process.exitCode = await withTarget(command, environment, {}, async (target, global) => {
        let revoked: ApiKeyInfo;
        if (target.kind === "server") {
          revoked = await target.client.revokeApiKey(id);
        } else {
          const record = await target.keys.revoke(id);
          if (record === undefined) throw new TrellisError("NOT_FOUND", `no API key ${id}`);
          revoked = keyOfRecord(record);
        }
        io.out(global.json === true ? keyJson(revoked) : describeKey(revoked));
      });
    });

  const tenants = program
    .command("tenants")
    .description("manage tenants in the datastore, or through a server's AdminService");
  tenants
    .command("create")
    .description("create an empty tenant (and the datastore, when there is none yet)")
    .argument("<id>", "the tenant id")
    .addOption(datastoreOption())
    .action(async (id: string, _flags: unknown, command: Command) => {
      process.exitCode = await withTarget(
        command,
        environment,
        { create: true },
        async (target, global) => {
          const created =
            target.kind === "server"
              ? await target.client.createTenant(id)
              : await target.store.createTenant(id).then(() => id);
          io.out(
            global.json === true ? `${JSON.stringify({ tenant: created })}\n` : `${created}\n`,
          );
        },
      );
    });
  tenants
    .command("list")
    .description("list the tenants")
    .addOption(datastoreOption())
    .action(async (_flags: unknown, command: Command) => {
      process.exitCode = await withTarget(command, environment, {}, async (target, global) => {
        const ids =
          target.kind === "server"
            ? await target.client.listTenants()
            : await target.store.listTenants();
        for (const id of ids) {
          io.out(global.json === true ? `${JSON.stringify({ tenant: id })}\n` : `${id}\n`);
        }
      });
    });
}
