/**
 * IP address ranges and the OUTBOUND_ALLOWED_HOSTS list: which destinations count as inside the
 * network (special-use addresses, RFC 6890 and successors), and which of them an administrator
 * allowed. Pure; read by the configuration check and by the outbound guard (oidc/outbound.ts).
 */
import { isIP } from 'node:net';

/** Special-use IPv4 ranges (RFC 6890 and successors): this network, private, CGNAT, loopback, link-local (cloud metadata), test nets, benchmarking, multicast, reserved. */
const V4_RANGES: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

/** Special-use IPv6 prefixes: unspecified, loopback, IPv4-mapped (checked as IPv4), NAT64, discard, documentation, 6to4, ULA (fc00::/7, includes fd00:ec2::254), link-local, site-local, multicast. */
const V6_RANGES: readonly [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];

function v4ToBigInt(address: string): bigint {
  return address.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

function v6ToBigInt(address: string): bigint {
  let text = address.toLowerCase().replace(/%.*$/, '');
  // A trailing dotted IPv4 part (::ffff:10.0.0.1) becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = v4ToBigInt(dotted[1]!);
    text = `${text.slice(0, -dotted[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group || '0', 16)), 0n);
}

interface Range {
  family: 4 | 6;
  base: bigint;
  mask: bigint;
}

function rangeOf(address: string, bits: number): Range {
  const family = isIP(address) === 6 ? 6 : 4;
  const width = family === 4 ? 32 : 128;
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(width - bits);
  const value = family === 4 ? v4ToBigInt(address) : v6ToBigInt(address);
  return { family, base: value & mask, mask };
}

function inRanges(address: string, ranges: readonly Range[]): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const value = family === 4 ? v4ToBigInt(address) : v6ToBigInt(address);
  return ranges.some((range) => range.family === family && (value & range.mask) === range.base);
}

const SPECIAL_USE: readonly Range[] = [...V4_RANGES, ...V6_RANGES].map(([address, bits]) => rangeOf(address, bits));

/** The IPv4 address inside an IPv4-mapped IPv6 one (`::ffff:10.0.0.1`), else the address itself. */
function unmapped(address: string): string {
  const lower = address.toLowerCase();
  if (isIP(lower) === 6 && v6ToBigInt(lower) >> 32n === 0xffffn) {
    const v4 = v6ToBigInt(lower) & 0xffffffffn;
    return [24n, 16n, 8n, 0n].map((shift) => String((v4 >> shift) & 0xffn)).join('.');
  }
  return address;
}

/** Loopback, private, link-local, metadata, multicast and other special-use addresses. */
export function isSpecialUseAddress(address: string): boolean {
  return inRanges(unmapped(address), SPECIAL_USE);
}

/** The allow list: exact host names, `.domain` suffixes, addresses and CIDR ranges. */
export function createAllowList(entries: readonly string[]): { host(hostname: string): boolean; address(address: string): boolean } {
  const hosts = new Set<string>();
  const suffixes: string[] = [];
  const ranges: Range[] = [];
  for (const raw of entries) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/^\[|\]$/g, '');
    if (!entry) continue;
    const [address, bits] = entry.split('/');
    if (isIP(address!)) {
      const width = isIP(address!) === 4 ? 32 : 128;
      ranges.push(rangeOf(address!, bits === undefined ? width : Number(bits)));
    } else if (entry.startsWith('.')) suffixes.push(entry);
    else hosts.add(entry);
  }
  return {
    host: (hostname) => {
      const name = hostname.toLowerCase().replace(/^\[|\]$/g, '');
      return hosts.has(name) || suffixes.some((suffix) => name.endsWith(suffix) || name === suffix.slice(1));
    },
    address: (address) => inRanges(unmapped(address), ranges),
  };
}

/** Why the allow list entries cannot be read, for the configuration check; undefined when they can. */
export function allowListProblem(entries: readonly string[]): string | undefined {
  for (const entry of entries) {
    const [address, bits, extra] = entry
      .trim()
      .replace(/^\[|\]$/g, '')
      .split('/');
    if (extra !== undefined) return `"${entry}" is not a host name, address or CIDR range`;
    if (bits !== undefined) {
      const width = isIP(address!) === 4 ? 32 : isIP(address!) === 6 ? 128 : 0;
      if (width === 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > width) return `"${entry}" is not a CIDR range`;
    } else if (!isIP(address!) && !/^\.?[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(address!)) {
      return `"${entry}" is not a host name, address or CIDR range`;
    }
  }
  return undefined;
}
