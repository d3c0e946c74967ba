import { registerSimulationTests } from './sim/suite.ts'

// The deterministic simulation of the real ConsensusDriver, first half of the default seeds (and
// the replay and outage tests); simulation-shard-1.test.ts runs the other half in parallel.
registerSimulationTests(0)
