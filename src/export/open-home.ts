import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig, resolvePath } from '../config/load.ts'
import { Genesis } from '../chain/genesis.ts'
import { MedledgerError } from '../errors.ts'
import { ChainStore, isStorageError, StorageErrorCode } from '../storage/index.ts'
import { NodeErrorCode } from '../node/errors.ts'

/** A node home's genesis and the path of its ledger database (config.toml decides both). */
export async function loadHome (home: string): Promise<{ genesis: Genesis, dataDir: string }> {
  const config = await loadConfig(home)
  const genesis = await Genesis.load(resolvePath(home, config.genesis))
  return { genesis, dataDir: resolvePath(home, config.data_dir) }
}

export async function hasDatabase (dataDir: string): Promise<boolean> {
  return await access(join(dataDir, 'CURRENT')).then(() => true, () => false)
}

/**
 * Opens the ledger of a stopped node. A running node holds the database's lock: that is said in
 * plain words (stop the node first) rather than as a storage error.
 */
export async function openStoppedStore (home: string, dataDir: string, genesis: Genesis, what: string): Promise<ChainStore> {
  try {
    return await ChainStore.open(dataDir, { chainId: genesis.chainId, genesisHash: genesis.hash, home })
  } catch (err) {
    if (isStorageError(err, StorageErrorCode.LOCKED)) {
      throw new MedledgerError(NodeErrorCode.RUNNING, `the node of ${home} is running (its database ${dataDir} is locked). Stop it first: ${what} works on a stopped node's database`)
    }
    throw err
  }
}
