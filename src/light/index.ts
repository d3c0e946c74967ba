export { checkRecordProof, LightClient, LightForkError, type ForkEvidence, type HeaderSource } from './client.ts'
export { LightStore, setAt, type LightState, type LearnedChange } from './state.ts'
export { stateFromCheckpoint, stateFromGenesis } from './checkpoint.ts'
export { fetchValidators, httpHeaderSource } from './http-source.ts'
