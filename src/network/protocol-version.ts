/**
 * The wire protocol version a node announces in the identify handshake (its agent version), and
 * the rule for peers: the same major version talks, another major is refused.
 *
 * Each protocol id and topic carries its own number (protocol-ids.ts), so a changed message format
 * never decodes as the old one. This version sums them up for people and for the handshake:
 * - minor: additions an older node of the same major ignores or never sees (a new optional
 *   protocol, a new metric); nodes of one major run side by side during a rolling upgrade;
 * - major: any protocol id or topic changed; every node must move together (docs/operations.md,
 *   "Upgrades").
 */
export interface ProtocolVersion { major: number, minor: number }

/** What this build speaks. Bump `major` whenever protocol-ids.ts changes a number. */
export const PROTOCOL_VERSION: ProtocolVersion = { major: 2, minor: 0 }

/** The software release, for logs, /v1/status and the handshake. */
export const SOFTWARE_VERSION = '0.1.0'

/** The identify agent version: `medledger/<release> protocol/<major>.<minor>`. */
export function agentVersion (version: ProtocolVersion = PROTOCOL_VERSION, software = SOFTWARE_VERSION): string {
  return `medledger/${software} protocol/${formatVersion(version)}`
}

export function formatVersion (v: ProtocolVersion): string {
  return `${v.major}.${v.minor}`
}

/** The protocol version in a peer's agent version, or undefined when it names none. */
export function parseAgentVersion (agent: string | undefined): ProtocolVersion | undefined {
  const m = /(?:^|\s)protocol\/(\d{1,6})\.(\d{1,6})(?:\s|$)/.exec(agent ?? '')
  return m === null ? undefined : { major: Number(m[1]), minor: Number(m[2]) }
}

/**
 * Whether a peer with this agent version may stay. An agent that names no protocol version is a
 * release from before versions were announced, which spoke major 1: it stays while we speak 1.
 */
export function isCompatible (agent: string | undefined, ours: ProtocolVersion = PROTOCOL_VERSION): boolean {
  return announcedVersion(agent).major === ours.major
}

/** The version a peer speaks: the one its agent names, or 1.0 for an agent that names none. */
export function announcedVersion (agent: string | undefined): ProtocolVersion {
  return parseAgentVersion(agent) ?? { major: 1, minor: 0 }
}
