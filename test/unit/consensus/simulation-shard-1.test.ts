import { registerSimulationTests } from './sim/suite.ts'

// The deterministic simulation of the real ConsensusDriver, second half of the default seeds.
registerSimulationTests(1)
