import test from 'ava'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { keyFromSeed } from '../../helpers/fixtures.ts'

const key = keyFromSeed(new Uint8Array(32).fill(1))
const base = { chainId: 'medledger-example', genesisTime: 1_700_000_000_000, observers: [], params: DEFAULT_PARAMS }

test('a genesis without encryption keys keeps its hash (the docs/protocol.md vector)', t => {
  const g = new Genesis({ ...base, validators: [{ name: 'example', publicKey: key.publicKey }] })
  t.is(toHex(g.hash), '41db5d36032dba33ea1ee3722dd6406e91fad3025cef4cfe54a7ec850f9e5374')
  t.false('encryptionKey' in g.toJson().validators[0])
})

test('an encryption key is published, round-trips through JSON and is covered by the genesis hash', t => {
  const enc = new Uint8Array(32).fill(9)
  const g = new Genesis({ ...base, validators: [{ name: 'example', publicKey: key.publicKey, encryptionKey: enc }] })
  t.not(toHex(g.hash), '41db5d36032dba33ea1ee3722dd6406e91fad3025cef4cfe54a7ec850f9e5374')
  const json = g.toJson()
  t.is(json.validators[0].encryptionKey, toHex(enc))
  const again = Genesis.fromJson(JSON.parse(JSON.stringify(json)))
  t.deepEqual(again.hash, g.hash)
  t.deepEqual(again.validators.members[0].encryptionKey, enc)
  // The validator set hash (in every header) does not depend on it.
  t.deepEqual(again.validators.hash, new Genesis({ ...base, validators: [{ name: 'example', publicKey: key.publicKey }] }).validators.hash)
  const bad = JSON.parse(JSON.stringify(json)) as { validators: Array<{ encryptionKey: string }> }
  bad.validators[0].encryptionKey = 'zz'
  const err = t.throws(() => Genesis.fromJson(bad))
  t.true(isMedledgerError(err, 'GENESIS_INVALID'))
})
