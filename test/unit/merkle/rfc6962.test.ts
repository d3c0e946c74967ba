import test from 'ava'
import { fromHex, toHex } from '../../../src/encoding/bytes.ts'
import {
  consistencyProof, EMPTY_ROOT, inclusionProof, leafHash, merkleRoot, nodeHash, verifyConsistency,
  verifyInclusion
} from '../../../src/merkle/rfc6962.ts'

/*
 * The published RFC 6962 test vectors that Certificate Transparency implementations share.
 * Source: transparency-dev/merkle, proof/verify_test.go (commit 02194e9afb6c1d95b5381350007963aa70fff472;
 * the same vectors as google/certificate-transparency's merkle tree tests), and
 * rfc6962/rfc6962_test.go (commit 78493b07ef9b552e3379abf9e23d4da26fbe797c) for the hasher.
 * Indices there are 1-based for inclusion proofs (`leaf - 1` is the 0-based index) and
 * `roots[i]` is the root of the first i + 1 leaves.
 */

const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(h => fromHex(h))
const LEAF_HASHES = LEAVES.map(leafHash)

/** ROOTS[n] is the root of the tree over the first n leaves. */
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'
]

/** 0-based leaf index, tree size, audit path. */
const INCLUSION: Array<[number, number, string[]]> = [
  [0, 1, []],
  [0, 8, [
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'
  ]],
  [5, 8, [
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'
  ]],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'
  ]]
]

/** Old size, new size, proof. */
const CONSISTENCY: Array<[number, number, string[]]> = [
  [1, 1, []],
  [1, 8, [
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'
  ]],
  [6, 8, [
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'
  ]],
  [2, 5, [
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'
  ]],
  [6, 7, [
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'
  ]]
]

const SOME_HASH = fromHex('abacaba000000000000000000000000000000000000000000060061e00123456')
const hexes = (xs: Uint8Array[]): string[] => xs.map(toHex)
const flipped = (b: Uint8Array, bit: number): Uint8Array => { const c = b.slice(); c[0] ^= bit; return c }

test('hasher: empty root, empty leaf, leaf and node (rfc6962_test.go)', t => {
  t.is(toHex(EMPTY_ROOT), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  t.is(toHex(leafHash(new Uint8Array(0))), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d')
  t.is(toHex(leafHash(new TextEncoder().encode('L123456'))), '395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56')
  const enc = new TextEncoder()
  t.is(toHex(nodeHash(enc.encode('N123'), enc.encode('N456'))), 'aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb')
})

test('roots of the first n leaves for n = 0..8', t => {
  for (let n = 0; n <= 8; n++) t.is(toHex(merkleRoot(LEAVES.slice(0, n))), ROOTS[n], `size ${n}`)
})

for (const [index, size, path] of INCLUSION) {
  test(`inclusion proof for leaf ${index} of ${size}: generated and verified`, t => {
    const leaves = LEAF_HASHES.slice(0, size)
    t.deepEqual(hexes(inclusionProof(leaves, index)), path)
    t.true(verifyInclusion(LEAF_HASHES[index], index, size, path.map(h => fromHex(h)), fromHex(ROOTS[size])))
  })

  test(`inclusion proof for leaf ${index} of ${size}: corrupted probes fail`, t => {
    const root = fromHex(ROOTS[size])
    const leaf = LEAF_HASHES[index]
    const proof = path.map(h => fromHex(h))
    // The probes of verify_test.go corruptInclusionProof.
    const probes: Array<[string, number, number, Uint8Array, Uint8Array, Uint8Array[]]> = [
      ['index - 1', index - 1, size, root, leaf, proof],
      ['index + 1', index + 1, size, root, leaf, proof],
      ['index ^ 2', index ^ 2, size, root, leaf, proof],
      ['size * 2', index, size * 2, root, leaf, proof],
      ['size / 2', index, Math.floor(size / 2), root, leaf, proof],
      ['wrong leaf', index, size, root, new TextEncoder().encode('WrongLeaf'), proof],
      ['empty root', index, size, EMPTY_ROOT, leaf, proof],
      ['random root', index, size, SOME_HASH, leaf, proof],
      ['trailing garbage', index, size, root, leaf, [...proof, new Uint8Array(0)]],
      ['trailing root', index, size, root, leaf, [...proof, root]],
      ['preceding garbage', index, size, root, leaf, [new Uint8Array(0), ...proof]],
      ['preceding root', index, size, root, leaf, [root, ...proof]],
      ...proof.map((_, i): [string, number, number, Uint8Array, Uint8Array, Uint8Array[]] =>
        [`proof[${i}] bit 3`, index, size, root, leaf, proof.map((p, j) => j === i ? flipped(p, 8) : p)]),
      ...(proof.length > 0 ? [['removed component', index, size, root, leaf, proof.slice(0, -1)] as [string, number, number, Uint8Array, Uint8Array, Uint8Array[]]] : []),
      ...(proof.length > 1 ? [['inserted component', index, size, root, leaf, [proof[0], SOME_HASH, ...proof.slice(1)]] as [string, number, number, Uint8Array, Uint8Array, Uint8Array[]]] : [])
    ]
    for (const [desc, i, n, r, l, p] of probes) t.false(verifyInclusion(l, i, n, p, r), desc)
  })
}

for (const [m, n, path] of CONSISTENCY) {
  test(`consistency proof ${m} -> ${n}: generated and verified`, t => {
    t.deepEqual(hexes(consistencyProof(LEAF_HASHES.slice(0, n), m)), path)
    t.true(verifyConsistency(m, n, fromHex(ROOTS[m]), fromHex(ROOTS[n]), path.map(h => fromHex(h))))
  })

  if (path.length === 0) continue
  test(`consistency proof ${m} -> ${n}: corrupted probes fail`, t => {
    const r1 = fromHex(ROOTS[m])
    const r2 = fromHex(ROOTS[n])
    const proof = path.map(h => fromHex(h))
    const wrongRoot = new TextEncoder().encode('WrongRoot')
    // The probes of verify_test.go corruptConsistencyProof.
    const probes: Array<[string, number, number, Uint8Array, Uint8Array, Uint8Array[]]> = [
      ['m - 1', m - 1, n, r1, r2, proof],
      ['m + 1', m + 1, n, r1, r2, proof],
      ['m ^ 2', m ^ 2, n, r1, r2, proof],
      ['n * 2', m, n * 2, r1, r2, proof],
      ['n / 2', m, Math.floor(n / 2), r1, r2, proof],
      ['wrong root1', m, n, wrongRoot, r2, proof],
      ['wrong root2', m, n, r1, wrongRoot, proof],
      ['swapped roots', m, n, r2, r1, proof],
      ['empty proof', m, n, r1, r2, []],
      ['trailing garbage', m, n, r1, r2, [...proof, new Uint8Array(0)]],
      ['trailing root1', m, n, r1, r2, [...proof, r1]],
      ['trailing root2', m, n, r1, r2, [...proof, r2]],
      ['preceding garbage', m, n, r1, r2, [new Uint8Array(0), ...proof]],
      ['preceding root1', m, n, r1, r2, [r1, ...proof]],
      ['preceding root2', m, n, r1, r2, [r2, ...proof]],
      ['preceding proof[0]', m, n, r1, r2, [proof[0], ...proof]],
      ['truncated proof', m, n, r1, r2, proof.slice(0, -1)],
      ...proof.map((_, i): [string, number, number, Uint8Array, Uint8Array, Uint8Array[]] =>
        [`proof[${i}] bit 4`, m, n, r1, r2, proof.map((p, j) => j === i ? flipped(p, 16) : p)])
    ]
    for (const [desc, a, b, x, y, p] of probes) t.false(verifyConsistency(a, b, x, y, p), desc)
  })
}

test('degenerate inputs are refused, never thrown', t => {
  t.false(verifyInclusion(SOME_HASH, 0, 0, [], EMPTY_ROOT))
  t.false(verifyInclusion(SOME_HASH, 1, 0, [], SOME_HASH))
  t.false(verifyInclusion(SOME_HASH, 2, 1, [], SOME_HASH))
  t.false(verifyInclusion(SOME_HASH, 0.5, 1, [], SOME_HASH))
  // Roots must match even for equal sizes; a non-empty proof between equal sizes is refused.
  t.false(verifyConsistency(1, 1, SOME_HASH, EMPTY_ROOT, []))
  t.false(verifyConsistency(1, 1, SOME_HASH, SOME_HASH, [EMPTY_ROOT]))
  t.false(verifyConsistency(2, 1, SOME_HASH, SOME_HASH, []))
  t.false(verifyConsistency(1, 2, SOME_HASH, SOME_HASH, []))
  // medledger requires a non-empty old tree: size 0 is refused rather than trivially consistent.
  t.false(verifyConsistency(0, 1, EMPTY_ROOT, SOME_HASH, []))
  t.throws(() => inclusionProof(LEAF_HASHES, 8), { instanceOf: RangeError })
  t.throws(() => consistencyProof(LEAF_HASHES, 0), { instanceOf: RangeError })
  t.throws(() => consistencyProof(LEAF_HASHES, 9), { instanceOf: RangeError })
})
