import { BlockList, isIP } from 'node:net'

/**
 * A set of IP ranges written as CIDR (`10.0.0.0/8`, `fd00::/8`) or single addresses
 * (`192.0.2.7`, `::1`). IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) match the IPv4 ranges.
 * An empty set matches nothing; callers decide what "empty" means (the inbound fence: anyone).
 */
export class CidrSet {
  private readonly list = new BlockList()
  readonly entries: readonly string[]

  /** Throws a TypeError naming the first entry that is not an address or a CIDR range. */
  constructor (entries: readonly string[]) {
    for (const e of entries) {
      const { address, prefix, family } = parseCidr(e)
      this.list.addSubnet(address, prefix, family)
    }
    this.entries = [...entries]
  }

  get size (): number { return this.entries.length }

  /** Whether `ip` (a literal IPv4 or IPv6 address) lies in one of the ranges; false for anything else. */
  contains (ip: string): boolean {
    const v = isIP(ip)
    if (v === 0) return false
    return this.list.check(ip, v === 4 ? 'ipv4' : 'ipv6')
  }
}

/** `a.b.c.d/n` (n 0..32), `x:y::z/n` (n 0..128), or a lone address (a /32 or /128). */
export function parseCidr (entry: string): { address: string, prefix: number, family: 'ipv4' | 'ipv6' } {
  const bad = (why: string): TypeError => new TypeError(`"${entry}" is not an IP address or CIDR range (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8): ${why}`)
  const [address, prefixText, ...rest] = entry.trim().split('/')
  if (rest.length > 0) throw bad('more than one "/"')
  const v = isIP(address)
  if (v === 0) throw bad(`${address === '' ? 'no address' : `"${address}" is not an IPv4 or IPv6 address`}`)
  const max = v === 4 ? 32 : 128
  let prefix = max
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) throw bad(`prefix "${prefixText}" is not a number`)
    prefix = Number(prefixText)
    if (prefix > max) throw bad(`prefix /${prefix} exceeds /${max}`)
  }
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' }
}
