import test from 'ava'
import fc from 'fast-check'
import {
  bytesCompare, bytesEqual, fromBase64, fromHex, heightFromKey, heightKey, toBase64, toHex
} from '../../../src/encoding/bytes.ts'

test('hex and base64 round trip any bytes; hex is lower case and accepts upper case', t => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), b => {
    const hex = toHex(b)
    return hex === hex.toLowerCase() && bytesEqual(fromHex(hex), b) && bytesEqual(fromHex(hex.toUpperCase()), b) &&
      bytesEqual(fromBase64(toBase64(b)), b)
  }))
  t.pass()
})

test('fromHex refuses odd lengths, non-hex characters and a wrong byte length', t => {
  for (const bad of ['0', 'abc', '0g', ' 00', '0x00']) t.throws(() => fromHex(bad), undefined, bad)
  t.throws(() => fromHex('00', 2), { message: /expected 2 bytes/ })
  t.deepEqual(fromHex('', 0), new Uint8Array(0))
})

test('height keys sort bytewise in height order and round trip', t => {
  fc.assert(fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (a, b) => {
    const c = bytesCompare(heightKey(a), heightKey(b))
    return heightFromKey(heightKey(a)) === a && Math.sign(c) === Math.sign(a - b)
  }))
  t.is(toHex(heightKey(1)), '0000000000000001')
  // A key sliced out of a larger buffer still decodes.
  const big = new Uint8Array(16)
  big.set(heightKey(258), 8)
  t.is(heightFromKey(big.subarray(8)), 258)
})
