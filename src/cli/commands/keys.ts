import type { Command } from 'commander'
import { NodeKey } from '../../crypto/ed25519.ts'
import { toHex } from '../../encoding/bytes.ts'
import { readKeyFile, writeKeyFile } from '../../node/key-file.ts'
import { action, printJson } from '../output.ts'

export function keysCommand (program: Command): void {
  const keys = program.command('keys').description('create and inspect node keys (Ed25519; the public key is the libp2p peer id)')
  keys.command('generate')
    .description('write a new key file (mode 0600); refuses to overwrite')
    .requiredOption('--out <file>', 'where to write the key')
    .action(action(async (o: { out: string }) => {
      const key = await NodeKey.generate()
      await writeKeyFile(o.out, key)
      printJson({ file: o.out, peerId: key.peerId, publicKey: toHex(key.publicKey) })
    }))
  keys.command('show')
    .description('print the peer id and public key of a key file')
    .argument('<file>', 'key file')
    .action(action(async (file: string) => {
      const key = await readKeyFile(file, { checkMode: false })
      printJson({ peerId: key.peerId, publicKey: toHex(key.publicKey) })
    }))
}
