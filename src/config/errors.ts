import { EXIT, spec, type ErrorTable } from '../errors.ts'

/** Configuration, genesis and command-line usage: the operator's to fix, exit 2. */
export enum ConfigErrorCode {
  MISSING = 'CONFIG_MISSING',
  INVALID = 'CONFIG_INVALID',
  PSK_PERMISSIONS = 'CONFIG_PSK_PERMISSIONS',
  TOKEN_PERMISSIONS = 'CONFIG_TOKEN_PERMISSIONS',
  GENESIS_INVALID = 'GENESIS_INVALID',
  /** A command's flags or arguments are wrong. */
  USAGE = 'USAGE'
}

export const CONFIG_ERRORS: ErrorTable<ConfigErrorCode> = {
  [ConfigErrorCode.MISSING]: spec(500, EXIT.USAGE, 'no config.toml in the home (run `medledger init`)'),
  [ConfigErrorCode.INVALID]: spec(500, EXIT.USAGE, 'config.toml, or a file it names, is invalid'),
  [ConfigErrorCode.PSK_PERMISSIONS]: spec(500, EXIT.USAGE, 'the pnet key file can be read by other users (chmod 600)'),
  [ConfigErrorCode.TOKEN_PERMISSIONS]: spec(500, EXIT.USAGE, 'an API token file can be read by other users (chmod 600)'),
  [ConfigErrorCode.GENESIS_INVALID]: spec(500, EXIT.USAGE, 'the genesis file is invalid'),
  [ConfigErrorCode.USAGE]: spec(400, EXIT.USAGE, 'wrong flags or arguments')
}
