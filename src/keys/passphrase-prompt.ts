import { MedledgerError } from '../errors.ts'
import { KeyErrorCode } from './errors.ts'

const typedAhead: string[] = []

/**
 * Asks for a passphrase on the terminal without echoing it (raw mode, one character at a time).
 * Only on a TTY: a daemon under a supervisor gets its passphrase from key_passphrase_file.
 */
export async function promptPassphrase (question: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  if (input.isTTY !== true) throw new MedledgerError(KeyErrorCode.PASSPHRASE, 'no passphrase given and no terminal to ask on: use --passphrase-file (or key_passphrase_file in config.toml) or MEDLEDGER_KEY_PASSPHRASE')
  output.write(question)
  input.setRawMode(true)
  input.resume()
  input.setEncoding('utf8')
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = ''
      const onData = (chunk: string): boolean => {
        const chars = [...chunk]
        for (const [i, ch] of chars.entries()) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            input.off('data', onData)
            // Typed ahead (the next answer arrived in the same chunk): kept for the next prompt.
            const rest = chars.slice(i + 1).join('').replace(/^\n/, '')
            if (rest !== '') typedAhead.push(rest)
            output.write('\n')
            resolve(text)
            return true
          }
          if (ch === '\u0003') { input.off('data', onData); output.write('\n'); reject(new MedledgerError(KeyErrorCode.PASSPHRASE, 'cancelled')); return true }
          if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1)
          else text += ch
        }
        return false
      }
      while (typedAhead.length > 0) if (onData(typedAhead.shift() as string)) return
      input.on('data', onData)
    })
  } finally {
    input.setRawMode(false)
    input.pause()
  }
}

/** A new passphrase, typed twice. */
export async function promptNewPassphrase (): Promise<string> {
  const first = await promptPassphrase('New passphrase: ')
  const again = await promptPassphrase('Repeat it: ')
  if (first !== again) throw new MedledgerError(KeyErrorCode.PASSPHRASE, 'the two passphrases differ')
  return first
}
