export { ChainStore, type ChainStoreOptions, type StoredRecord } from './chain-store.ts'
export { StorageError, StorageErrorCode, isStorageError, isStorageFault } from './errors.ts'
export type { Head, LastSigned, StoredLocation } from './values.ts'
export { Bucket, SCHEMA_VERSION } from './buckets.ts'
