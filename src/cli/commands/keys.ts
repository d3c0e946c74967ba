import type { Command } from 'commander'
import { NodeKey } from '../../crypto/ed25519.ts'
import { toHex } from '../../encoding/bytes.ts'
import { readKeyMaterial, writeKeyFile } from '../../keys/key-file.ts'
import { generateX25519 } from '../../crypto/x25519.ts'
import { readKeyHeader } from '../../keys/key-file-edit.ts'
import { action, printJson } from '../output.ts'

export function keysCommand (program: Command): void {
  const keys = program.command('keys').description('create and inspect node keys (Ed25519; the public key is the libp2p peer id)')
  keys.command('generate')
    .description('write a new key file (mode 0600); refuses to overwrite')
    .requiredOption('--out <file>', 'where to write the key')
    .action(action(async (o: { out: string }) => {
      const key = await NodeKey.generate()
      // The X25519 key records are encrypted to; publish it with genesis create --encryption-key.
      const encryption = generateX25519()
      await writeKeyFile(o.out, key, encryption)
      printJson({ file: o.out, peerId: key.peerId, publicKey: toHex(key.publicKey), encryptionKey: toHex(encryption.publicKey) })
    }))
  keys.command('show')
    .description('print the peer id and public key of a key file')
    .argument('<file>', 'key file')
    .action(action(async (file: string) => {
      const header = await readKeyHeader(file)
      if (header !== undefined) { printJson(header); return }
      const { key, encryption } = await readKeyMaterial(file, { checkMode: false })
      printJson({ peerId: key.peerId, publicKey: toHex(key.publicKey), ...(encryption === undefined ? {} : { encryptionKey: toHex(encryption.publicKey) }), protected: false })
    }))
}
