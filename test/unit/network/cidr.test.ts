import test from 'ava'
import { CidrSet, parseCidr } from '../../../src/network/cidr.ts'

test('CIDR ranges and single addresses match what they cover, IPv4 and IPv6', t => {
  const set = new CidrSet(['10.0.0.0/8', '192.0.2.7', '172.16.0.0/12', 'fd00::/8', '2001:db8::1'])
  for (const ip of ['10.0.0.1', '10.255.255.255', '192.0.2.7', '172.31.1.1', 'fd12:3456::1', '2001:db8::1', '::ffff:10.1.2.3']) t.true(set.contains(ip), ip)
  for (const ip of ['11.0.0.1', '9.255.255.255', '192.0.2.8', '172.32.0.1', 'fe80::1', '2001:db8::2', '::ffff:11.1.2.3', 'not-an-ip', '']) t.false(set.contains(ip), ip)
})

test('/0 covers a whole family, /32 one address; an empty set matches nothing', t => {
  t.true(new CidrSet(['0.0.0.0/0']).contains('203.0.113.9'))
  t.false(new CidrSet(['0.0.0.0/0']).contains('2001:db8::9'))
  t.true(new CidrSet(['127.0.0.1/32']).contains('127.0.0.1'))
  t.false(new CidrSet(['127.0.0.1/32']).contains('127.0.0.2'))
  t.false(new CidrSet([]).contains('127.0.0.1'))
  t.is(new CidrSet([]).size, 0)
})

test('malformed entries are refused with the entry named', t => {
  for (const bad of ['10.0.0.0/33', '::/129', '10.0.0/8', '10.0.0.0/x', '10.0.0.0/8/1', 'example.org', '', '/8', '10.0.0.0/-1']) {
    const err = t.throws(() => parseCidr(bad), { instanceOf: TypeError }, bad)
    t.true(err!.message.includes(`"${bad}"`), err!.message)
  }
  t.deepEqual(parseCidr('10.1.0.0/16'), { address: '10.1.0.0', prefix: 16, family: 'ipv4' })
  t.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' })
})
