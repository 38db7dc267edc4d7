/**
 * The `ipaddress` caveat type: parsing with the rules of Go's `net/netip` (which SpiceDB uses),
 * CIDR containment for `in_cidr`, and the CEL runtime representation.
 *
 * @bufbuild/cel has no opaque custom types: every runtime value must be a CEL scalar, list, map
 * or protobuf message. An address is therefore a message of a small descriptor built here
 * (`IPAddress { bytes address; string zone; }`): the type checker treats it as opaque (only
 * `==`, `!=` and `in_cidr` apply), message equality compares address and zone exactly as
 * `netip.Addr` equality does, and no string ever passes for an address.
 */
import { type CelObjectType, objectType } from "@bufbuild/cel";
import { create, createFileRegistry, type DescMessage, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/** The CEL type name, as SpiceDB names it (`cel.ObjectType("IPAddress")`). */
export const IP_ADDRESS_TYPE_NAME = "IPAddress";

const FIELD_TYPE_BYTES = 12;
const FIELD_TYPE_STRING = 9;
const LABEL_OPTIONAL = 1;

/** The registry holding the address message; the caveat CEL environment is built over it. */
export const ipAddressRegistry: Registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "trellis/caveat/ip_address.proto",
    syntax: "proto3",
    messageType: [
      {
        name: IP_ADDRESS_TYPE_NAME,
        field: [
          {
            name: "address",
            jsonName: "address",
            number: 1,
            type: FIELD_TYPE_BYTES,
            label: LABEL_OPTIONAL,
          },
          {
            name: "zone",
            jsonName: "zone",
            number: 2,
            type: FIELD_TYPE_STRING,
            label: LABEL_OPTIONAL,
          },
        ],
      },
    ],
  }),
  () => undefined,
);

const descriptor: DescMessage =
  ipAddressRegistry.getMessage(IP_ADDRESS_TYPE_NAME) ?? fail("IPAddress descriptor missing");

function fail(message: string): never {
  throw new Error(message);
}

/** The CEL type of `ipaddress` values, for function signatures. */
export const ipAddressCelType: CelObjectType = objectType(descriptor);

/** A parsed address: 4 bytes (IPv4) or 16 bytes (IPv6, including IPv4-mapped), plus a zone. */
export interface IpAddress {
  readonly bytes: Uint8Array;
  readonly zone: string;
}

/** The CEL runtime value of an address. */
export function ipAddressValue(address: IpAddress) {
  return create(descriptor, { address: address.bytes, zone: address.zone });
}

/** Reads an address back from its CEL runtime value (the receiver of `in_cidr`). */
export function ipAddressOf(message: { readonly [field: string]: unknown }): IpAddress {
  const bytes = message.address;
  const zone = message.zone;
  if (!(bytes instanceof Uint8Array) || typeof zone !== "string") {
    throw new Error("not an IPAddress value");
  }
  return { bytes, zone };
}

/** Parses an IPv4 or IPv6 address (with optional `%zone`); undefined when malformed. */
export function parseIpAddress(text: string): IpAddress | undefined {
  if (text.includes(":")) return parseIpv6(text);
  const bytes = parseIpv4(text);
  return bytes === undefined ? undefined : { bytes, zone: "" };
}

/** Dotted quad, four decimal fields 0-255, no leading zeros (netip refuses them as ambiguous). */
function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): IpAddress | undefined {
  let body = text;
  let zone = "";
  const percent = text.indexOf("%");
  if (percent >= 0) {
    zone = text.slice(percent + 1);
    body = text.slice(0, percent);
    if (zone === "") return undefined;
  }
  const groups: number[] = [];
  let ellipsisAt = -1;
  let rest = body;
  if (rest.startsWith("::")) {
    ellipsisAt = 0;
    rest = rest.slice(2);
  } else if (rest.startsWith(":")) {
    return undefined;
  }
  while (rest !== "") {
    const colon = rest.indexOf(":");
    const field = colon < 0 ? rest : rest.slice(0, colon);
    if (field.includes(".")) {
      // An embedded IPv4 address may only close the address.
      if (colon >= 0) return undefined;
      const v4 = parseIpv4(field);
      if (v4 === undefined) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      rest = "";
      break;
    }
    if (!/^[0-9A-Fa-f]{1,4}$/.test(field)) return undefined;
    groups.push(Number.parseInt(field, 16));
    if (colon < 0) {
      rest = "";
      break;
    }
    rest = rest.slice(colon + 1);
    if (rest.startsWith(":")) {
      if (ellipsisAt >= 0) return undefined;
      ellipsisAt = groups.length;
      rest = rest.slice(1);
    } else if (rest === "") {
      return undefined;
    }
  }
  if (ellipsisAt < 0 ? groups.length !== 8 : groups.length > 7) return undefined;
  const full =
    ellipsisAt < 0
      ? groups
      : [
          ...groups.slice(0, ellipsisAt),
          ...new Array<number>(8 - groups.length).fill(0),
          ...groups.slice(ellipsisAt),
        ];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = full[i]! >> 8;
    bytes[2 * i + 1] = full[i]! & 0xff;
  }
  return { bytes, zone };
}

/** A parsed CIDR prefix: its address (no zone) and prefix length. */
export interface IpPrefix {
  readonly bytes: Uint8Array;
  readonly bits: number;
}

/**
 * Parses `address/bits` as `netip.ParsePrefix` does: no zone, bits in range for the address
 * family, written without sign or leading zeros. Host bits may be set; they are ignored.
 */
export function parseIpPrefix(text: string): IpPrefix | undefined {
  const slash = text.lastIndexOf("/");
  if (slash < 0) return undefined;
  const address = parseIpAddress(text.slice(0, slash));
  if (address === undefined || address.zone !== "") return undefined;
  const bitsText = text.slice(slash + 1);
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > address.bytes.length * 8) return undefined;
  return { bytes: address.bytes, bits };
}

/**
 * Whether the prefix contains the address, with `netip.Prefix.Contains` semantics: an address
 * with a zone matches nothing, and an IPv4 address never matches an IPv6 prefix (IPv4-mapped
 * ones included) nor the other way round.
 */
export function prefixContains(prefix: IpPrefix, address: IpAddress): boolean {
  if (address.zone !== "" || address.bytes.length !== prefix.bytes.length) return false;
  const whole = prefix.bits >> 3;
  for (let i = 0; i < whole; i++) {
    if (address.bytes[i] !== prefix.bytes[i]) return false;
  }
  const remaining = prefix.bits & 7;
  if (remaining === 0) return true;
  const mask = (0xff << (8 - remaining)) & 0xff;
  return (address.bytes[whole]! & mask) === (prefix.bytes[whole]! & mask);
}
