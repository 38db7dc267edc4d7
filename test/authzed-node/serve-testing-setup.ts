/**
 * Global setup of `vitest.authzed.config.ts`: runs the test suite that ships inside
 * `@authzed/authzed-node` against `trellis serve-testing`. That suite connects to
 * `localhost:50051`, so the port must be free; the server is the built `bin/trellis` (make test
 * builds first), started once and stopped after the last test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";

const PORT = 50051;
const root = join(import.meta.dirname, "..", "..");

/** Refuses to start when anything listens on the port on either loopback address. */
async function ensurePortFree(host: string): Promise<void> {
  const probe = createServer();
  try {
    probe.listen({ host, port: PORT, exclusive: true });
    await once(probe, "listening");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A machine without IPv6 has no ::1 to be taken.
    if (code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT") return;
    if (code === "EADDRINUSE") {
      throw new Error(
        `port ${PORT} on ${host} is taken: the @authzed/authzed-node suite connects to localhost:${PORT}, so stop whatever listens there (a SpiceDB, another trellis serve-testing) and run again`,
      );
    }
    throw err;
  } finally {
    if (probe.listening) await new Promise((resolve) => probe.close(resolve));
  }
}

let server: ChildProcess | undefined;

export async function setup(): Promise<void> {
  await ensurePortFree("127.0.0.1");
  await ensurePortFree("::1");
  const child = spawn(process.execPath, [join(root, "bin", "trellis"), "serve-testing"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  server = child;
  let out = "";
  let err = "";
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      // The banner is printed once the server listens.
      if (out.includes("Stop with")) resolve();
    });
    child.once("exit", (code) =>
      reject(new Error(`trellis serve-testing exited (${code}) before serving:\n${err}`)),
    );
    child.once("error", reject);
  });
}

export async function teardown(): Promise<void> {
  const child = server;
  if (child === undefined || child.exitCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}
