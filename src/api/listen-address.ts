/**
 * Listen addresses (`host:port`, `[::1]:port`): parsing, and whether a host is loopback, which
 * is what decides if a server without caller authentication may bind it. A name is judged by
 * the addresses it resolves to, never by itself: `localhost` may be mapped anywhere in
 * /etc/hosts.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

export interface ListenAddress {
  /** As written, without brackets: `127.0.0.1`, `::1`, `localhost`, `0.0.0.0`. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/**
 * Parses `host:port` (or a bare port when `defaultHost` is given, which it then binds); a
 * TypeError says what is wrong, prefixed by `name`.
 */
export function parseListenAddress(
  text: string,
  name = "listen",
  defaultHost?: string,
): ListenAddress {
  if (typeof text !== "string") throw new TypeError(`${name} must be a "host:port" string`);
  if (defaultHost !== undefined && /^\d{1,5}$/.test(text)) {
    const port = Number(text);
    if (port > 65535) throw new TypeError(`${name}: port ${port} is out of range (0-65535)`);
    return { host: defaultHost, port };
  }
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  const plain = bracketed === null ? /^([^:[\]\s]+):(\d{1,5})$/.exec(text) : null;
  const match = bracketed ?? plain;
  if (match === null) {
    throw new TypeError(
      `${name} must be "host:port" (e.g. 127.0.0.1:50051, [::1]:50051), got ${JSON.stringify(text)}`,
    );
  }
  const host = match[1]!;
  const port = Number(match[2]);
  if (port > 65535) throw new TypeError(`${name}: port ${port} is out of range (0-65535)`);
  if (bracketed !== null && isIP(host) !== 6) {
    throw new TypeError(`${name}: "[${host}]" is not an IPv6 address`);
  }
  return { host, port };
}

/**
 * `localhost`, 127.0.0.0/8, `::1` (and its IPv4-mapped forms of 127/8), by the name as written:
 * for messages and warnings. What may be bound without authentication is `resolvesToLoopback`.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost") return true;
  return isLoopbackAddress(h);
}

/** An IP address in 127.0.0.0/8 or `::1` (or an IPv4-mapped 127/8). */
export function isLoopbackAddress(address: string): boolean {
  const h = address.toLowerCase();
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) {
    if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.startsWith("127.");
  }
  return false;
}

/**
 * The addresses `host` stands for (itself, for an IP address), and whether every one of them is
 * loopback. A name that does not resolve has no loopback address.
 */
export async function resolvesToLoopback(
  host: string,
): Promise<{ loopback: boolean; addresses: string[] }> {
  if (isIP(host) !== 0) return { loopback: isLoopbackAddress(host), addresses: [host] };
  let addresses: string[];
  try {
    addresses = (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return { loopback: false, addresses: [] };
  }
  return { loopback: addresses.length > 0 && addresses.every(isLoopbackAddress), addresses };
}

/** The address in the form gRPC and people read it: IPv6 hosts in brackets. */
export function formatListenAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
