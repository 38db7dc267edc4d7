/**
 * Listen addresses (`host:port`, `[::1]:port`): parsing, and whether a host is loopback, which
 * is what decides if a server without caller authentication may bind it.
 */
import { isIP } from "node:net";

export interface ListenAddress {
  /** As written, without brackets: `127.0.0.1`, `::1`, `localhost`, `0.0.0.0`. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/** Parses `host:port`; a TypeError says what is wrong, prefixed by `name`. */
export function parseListenAddress(text: string, name = "listen"): ListenAddress {
  if (typeof text !== "string") throw new TypeError(`${name} must be a "host:port" string`);
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

/** `localhost`, 127.0.0.0/8, `::1` (and its IPv4-mapped forms of 127/8). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) {
    if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.startsWith("127.");
  }
  return false;
}

/** The address in the form gRPC and people read it: IPv6 hosts in brackets. */
export function formatListenAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
