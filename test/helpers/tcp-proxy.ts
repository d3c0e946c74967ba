// The loopback TCP relays moved to the testkit (src/testkit/links.ts).
export { Link, LinkMesh } from '../../src/testkit/links.ts'
